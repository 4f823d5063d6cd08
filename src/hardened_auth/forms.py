"""Forms of the hardened_auth pages."""

from typing import Any

from allauth.account import app_settings
from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django import forms
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, QueryDict

from hardened_auth.internal import audit
from hardened_auth.internal.identifiers import MAX_IDENTIFIER_LENGTH, fold_email


class SecondFactorForm(forms.Form):
    """One code from an authenticator app or one recovery code."""

    code = forms.CharField(
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text"}
        ),
    )


MAX_PASSWORD_LENGTH = 4096

# Validation failures no person typing into the page produces: they are
# audited as ``input_validation_fail``; ordinary mistakes are not.
HOSTILE_ERROR_CODES = frozenset({"max_length", "null_characters_not_allowed"})


class AuditedValidationMixin:
    """Audit fields refused for a length or a character no browser sends.

    The event names the form and the fields, never what was submitted.
    """

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        form: forms.BaseForm = self  # type: ignore[assignment]
        if not form.is_bound or not form.errors:
            return
        refused = sorted(
            name
            for name, errors in form.errors.as_data().items()
            if any(error.code in HOSTILE_ERROR_CODES for error in errors)
        )
        if refused:
            audit.emit(
                "input_validation_fail",
                outcome="failure",
                request=getattr(self, "request", None) or allauth_context.request,
                form=type(self).__name__,
                fields=refused,
            )


class FoldedEmailMixin:
    """Fold the submitted address before any validation sees it.

    Django's email validator refuses full-width letters, so without this a
    full-width spelling of a registered address would get an error that a
    missing address does not; folded first, both are the same address.
    """

    folded_fields: tuple[str, ...] = ("email",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form: forms.BaseForm = self  # type: ignore[assignment]
        if not form.is_bound:
            return
        data: QueryDict | dict[str, Any] = (
            form.data.copy() if isinstance(form.data, QueryDict) else dict(form.data)
        )
        for name in self.folded_fields:
            value = data.get(form.add_prefix(name))
            if isinstance(value, str):
                data[form.add_prefix(name)] = fold_email(value)
        form.data = data


class LoginForm(
    AuditedValidationMixin,
    FoldedEmailMixin,
    allauth_forms.LoginForm,  # type: ignore[misc]
):
    """allauth's login form with bounded fields and a folded address."""

    folded_fields = ("login",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].max_length = MAX_IDENTIFIER_LENGTH
        self.fields["login"].validators.append(
            MaxLengthValidator(MAX_IDENTIFIER_LENGTH)
        )
        if "password" in self.fields:
            self.fields["password"].max_length = MAX_PASSWORD_LENGTH
            self.fields["password"].validators.append(
                MaxLengthValidator(MAX_PASSWORD_LENGTH)
            )


class SignupForm(
    AuditedValidationMixin,
    FoldedEmailMixin,
    allauth_forms.SignupForm,  # type: ignore[misc]
):
    """allauth's signup form; the address is folded before it is validated."""


class ResetPasswordForm(
    AuditedValidationMixin,
    FoldedEmailMixin,
    allauth_forms.ResetPasswordForm,  # type: ignore[misc]
):
    """allauth's reset form; the address is folded before it is looked up.

    A reset does the work of the answer it does not give, sending nothing:
    the adapter renders the unknown-account mail for an account's address,
    and for a missing one signs a token and renders a reset mail or, with
    ``ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED``, generates a code and renders
    the code mail, so both take as long. A code reset of a missing account
    names a stand-in account, so a wrong code looks up an account in both.
    """

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        adapter = get_adapter(request)
        email = self.cleaned_data["email"]
        by_code = app_settings.PASSWORD_RESET_BY_CODE_ENABLED
        if self.users:
            adapter.rehearse_unknown_account_mail(request, email)
        elif by_code:
            adapter.rehearse_password_reset_code(request, email)
        else:
            token_generator = kwargs.get(
                "token_generator", allauth_forms.default_token_generator
            )
            adapter.rehearse_password_reset(request, email, token_generator)

        saved = str(super().save(request, **kwargs))
        if by_code and not self.users:
            adapter.stand_in_for_missing_account(request)
        return saved


class AddEmailForm(
    AuditedValidationMixin,
    FoldedEmailMixin,
    allauth_forms.AddEmailForm,  # type: ignore[misc]
):
    """allauth's add/change email form; the address is folded first."""
