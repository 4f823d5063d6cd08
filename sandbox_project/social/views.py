"""Pages of a community: feed, members, groups, messages and friends.

Each page lives under ``/t/<slug>/social/`` and reads only what a policy in
``social.policies`` allows; an object the member may not see answers the same
404 as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from hardened_rbac import policies as p
from hardened_rbac.action_links import TOKEN_PARAMETER, action_link_required
from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.models import Membership
from hardened_rbac.tenancy import current_tenant
from social.forms import (
    FriendRequestForm,
    GroupForm,
    GroupPostForm,
    MessageForm,
    NewConversationForm,
    PostForm,
)
from social.internal import friends as friendship
from social.internal.community import community_required, members, path_in
from social.internal.limits import refuse_if_limited
from social.models import (
    Conversation,
    Follow,
    FriendRequest,
    Group,
    GroupMembership,
    GroupPost,
    Message,
    Post,
)


def _policy_object(request: HttpRequest) -> Any:
    return request.policy_object  # type: ignore[attr-defined]


def _policy_queryset(request: HttpRequest) -> Any:
    return request.policy_queryset  # type: ignore[attr-defined]


@login_required
@require_GET
@policy_exempt(reason="Lists the visitor's own communities and nothing else.")
def home(request: HttpRequest) -> HttpResponse:
    """Outside a community, the communities to open; inside, its feed."""
    if current_tenant() is not None:
        return redirect("social:feed")
    visitor: Any = request.user
    memberships = (
        Membership.objects.active()
        .filter(user=visitor)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    communities = [
        (m.tenant, path_in(m.tenant, reverse("social:feed"))) for m in memberships
    ]
    return render(request, "social/home.html", {"communities": communities})


@login_required
@community_required
@policy_required("view", Post)
def feed(request: HttpRequest) -> HttpResponse:
    form = PostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.author = request.user
        form.save()
        messages.success(request, "Posted.")
        return redirect("social:feed")
    posts = _policy_queryset(request).select_related("author")[:50]
    status = 400 if form.errors else 200
    return render(
        request, "social/feed.html", {"posts": posts, "form": form}, status=status
    )


@login_required
@community_required
@require_GET
@policy_required("view", Post, url_kwarg="pk")
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    post = _policy_object(request)
    can_delete = p.is_allowed(request.user, "delete", post)
    return render(request, "social/post.html", {"post": post, "can_delete": can_delete})


@login_required
@community_required
@require_POST
@policy_required("delete", Post, url_kwarg="pk")
def post_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _policy_object(request).delete()
    messages.success(request, "Post deleted.")
    return redirect("social:feed")


@login_required
@community_required
@require_GET
@policy_exempt(reason="Lists the current community's members to its members.")
def member_list(request: HttpRequest) -> HttpResponse:
    following = set(
        Follow.objects.filter(follower=request.user).values_list(
            "followee_id", flat=True
        )
    )
    people = [
        (member, member.pk in following)
        for member in members().exclude(pk=request.user.pk)
    ]
    return render(request, "social/members.html", {"people": people})


@login_required
@community_required
@require_POST
@policy_exempt(reason="Follows or unfollows only an active member of the community.")
def follow(request: HttpRequest, user_id: int) -> HttpResponse:
    followee = members().exclude(pk=request.user.pk).filter(pk=user_id).first()
    if followee is None:
        raise Http404("No such member.")
    if request.POST.get("unfollow"):
        Follow.objects.filter(follower=request.user, followee=followee).delete()
    else:
        Follow.objects.get_or_create(follower=request.user, followee=followee)
    return redirect("social:members")


@login_required
@community_required
@policy_required("view", Group)
def group_list(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.instance.created_by = request.user
            group = form.save()
            GroupMembership.objects.create(
                group=group, user=request.user, role=GroupMembership.Role.OWNER
            )
        return redirect("social:group", pk=group.pk)
    groups = _policy_queryset(request)
    status = 400 if form.errors else 200
    return render(
        request, "social/groups.html", {"groups": groups, "form": form}, status=status
    )


@login_required
@community_required
@policy_required("view", Group, url_kwarg="pk")
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = _policy_object(request)
    can_post = bool(p.authorize(request.user, "post", group))
    form = GroupPostForm(request.POST or None)
    if request.method == "POST":
        if not can_post:
            raise PermissionDenied("Only the group's members post in it.")
        if form.is_valid():
            form.instance.group = group
            form.instance.author = request.user
            form.save()
            return redirect("social:group", pk=group.pk)
    posts = (
        p.allowed(request.user, "view", GroupPost)
        .filter(group=group)
        .select_related("author")[:50]
    )
    context = {
        "group": group,
        "posts": posts,
        "form": form,
        "can_post": can_post,
        "can_join": not can_post and bool(p.authorize(request.user, "join", group)),
        "member_count": group.members.count(),
    }
    status = 400 if form.errors else 200
    return render(request, "social/group.html", context, status=status)


@login_required
@community_required
@require_POST
@policy_required("join", Group, url_kwarg="pk")
def group_join(request: HttpRequest, pk: int) -> HttpResponse:
    group = _policy_object(request)
    GroupMembership.objects.get_or_create(group=group, user=request.user)
    return redirect("social:group", pk=group.pk)


@login_required
@community_required
@policy_required("view", Conversation)
def conversation_list(request: HttpRequest) -> HttpResponse:
    form = NewConversationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        recipient = form.cleaned_data["recipient"]
        with transaction.atomic():
            conversation = (
                _policy_queryset(request).filter(participants=recipient).first()
            )
            if conversation is None:
                conversation = Conversation.objects.create()
                conversation.participants.add(request.user, recipient)
            Message.objects.create(
                conversation=conversation,
                sender=request.user,
                body=form.cleaned_data["body"],
            )
        return redirect("social:conversation", pk=conversation.pk)
    conversations = _policy_queryset(request).prefetch_related("participants")
    status = 400 if form.errors else 200
    context = {"conversations": conversations, "form": form}
    return render(request, "social/conversations.html", context, status=status)


@login_required
@community_required
@policy_required("view", Conversation, url_kwarg="pk")
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _policy_object(request)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.conversation = conversation
        form.instance.sender = request.user
        form.save()
        return redirect("social:conversation", pk=conversation.pk)
    thread = (
        p.allowed(request.user, "view", Message)
        .filter(conversation=conversation)
        .select_related("sender")
    )
    context = {
        "conversation": conversation,
        "others": conversation.participants.exclude(pk=request.user.pk),
        "thread": thread,
        "form": form,
    }
    status = 400 if form.errors else 200
    return render(request, "social/conversation.html", context, status=status)


@login_required
@community_required
@require_GET
@policy_required("answer", FriendRequest)
def friend_list(request: HttpRequest) -> HttpResponse:
    return _friends_page(request, FriendRequestForm(), status=200)


def _friends_page(
    request: HttpRequest, form: FriendRequestForm, status: int
) -> HttpResponse:
    pending = p.allowed(request.user, "answer", FriendRequest).filter(
        status=FriendRequest.Status.PENDING
    )
    incoming = [
        (item, friendship.accept_path(item), friendship.accept_token(item))
        for item in pending.select_related("sender")
    ]
    context = {
        "form": form,
        "incoming": incoming,
        "friends": friendship.friends_of(request.user),
        "sent": request.GET.get("sent") == "1",
    }
    return render(request, "social/friends.html", context, status=status)


@login_required
@community_required
@require_POST
@policy_exempt(
    reason="Answers alike whether or not the address is a member's; rate-limited."
)
def send_friend_request(request: HttpRequest) -> HttpResponse:
    refused = refuse_if_limited(request)
    if refused is not None:
        return refused
    form = FriendRequestForm(request.POST)
    if not form.is_valid():
        return _friends_page(request, form, status=400)
    friendship.send_request(request, form.cleaned_data["email"])
    return redirect(reverse("social:friends") + "?sent=1")


@action_link_required(friendship.ACCEPT_ACTION, FriendRequest)
def _accept_by_link(
    request: HttpRequest, friend_request: FriendRequest
) -> HttpResponse:
    if request.action_object.pk != friend_request.pk:  # type: ignore[attr-defined]
        raise PermissionDenied("This link cannot be used.")
    friendship.accept(friend_request)
    name = friend_request.sender.get_username()
    messages.success(request, f"You and {name} are friends.")
    return redirect("social:friends")


@login_required
@community_required
@policy_required("answer", FriendRequest, url_kwarg="pk")
def accept_friend_request(request: HttpRequest, pk: int) -> HttpResponseBase:
    """GET shows what the link would do; POST spends the link and accepts."""
    friend_request = _policy_object(request)
    if request.method == "POST":
        return _accept_by_link(request, friend_request)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    context = {
        "friend_request": friend_request,
        "token": request.GET.get(TOKEN_PARAMETER, "")[:1024],
    }
    return render(request, "social/accept.html", context)
