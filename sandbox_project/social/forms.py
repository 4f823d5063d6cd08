"""Forms of the social scenario; every one posts as plain HTML with CSRF."""

from __future__ import annotations

from typing import Any

from django import forms

from social.internal.community import members
from social.models import Group, GroupPost, Message, Post


class PostForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Post
        fields = ["body", "visibility"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class GroupForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Group
        fields = ["name", "description", "visibility"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Group.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A group with this name already exists.")
        return name


class GroupPostForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = GroupPost
        fields = ["body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class MessageForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Message
        fields = ["body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class MemberChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_username())


class NewConversationForm(forms.Form):
    recipient = MemberChoiceField(queryset=None, empty_label=None)
    body = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["recipient"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = members().exclude(pk=user.pk)


class FriendRequestForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Their email address")
