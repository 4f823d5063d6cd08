"""django-allauth account adapter: one spelling per address, equal answers."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.app_settings import LoginMethod
from allauth.account.internal.flows.password_reset_by_code import (
    PASSWORD_RESET_VERIFICATION_SESSION_KEY,
)
from allauth.account.internal.flows.signup import send_unknown_account_mail
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import (
    cleanup_email_addresses,
    has_verified_email,
    user_email,
    user_username,
)
from allauth.core import context as allauth_context
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.sites.shortcuts import get_current_site
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import get_random_string

from hardened_auth.internal.identifiers import normalise_email

# A reserved top-level domain: nothing addressed there is ever delivered.
REHEARSAL_DOMAIN = "signup.invalid"
# The URL id of the stand-in account of a rehearsed reset; no account has it.
REHEARSAL_UID = "0"
# Set while a rehearsal runs: any adapter then renders account mail unsent.
_rehearsing: ContextVar[bool] = ContextVar("hardened_auth_rehearsing", default=False)


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Normalise addresses and keep the signup of a taken address as slow.

    With ``ACCOUNT_PREVENT_ENUMERATION`` a signup for an address that already
    has an account is answered like a new signup and the owner is mailed.
    Before that mail this path rehearses a new signup: it saves a user with
    a hashed password and an address, signs and renders the confirmation
    mail, and rolls the rows back without sending the rehearsed mail.

    A password reset does the work of both of its answers: the reset of an
    account also renders the mail a missing account is sent, and the reset
    of a missing account also signs a reset token, or generates a reset
    code, and renders its mail.
    """

    def clean_email(self, email: str) -> str:
        return normalise_email(str(super().clean_email(email)))

    def send_account_already_exists_mail(self, email: str) -> None:
        self._rehearse_signup(allauth_context.request)
        super().send_account_already_exists_mail(email)

    def _rehearse_signup(self, request: HttpRequest) -> None:
        """Do the work of a new signup, then undo it; nothing is kept or sent.

        The user and its address are saved through the calls and queries of
        a real signup, the address is read back as the verification stage
        reads it, and its confirmation mail is signed and rendered.
        """
        address = f"{get_random_string(12).lower()}@{REHEARSAL_DOMAIN}"
        with transaction.atomic():
            user = self.new_user(request)
            user_email(user, address)
            self.populate_username(request, user)
            user.set_password(get_random_string(32))
            user.save()
            EmailAddress.objects.filter(user_id=user.pk).exists()
            addresses, _primary = cleanup_email_addresses(
                request, [EmailAddress(email=address, primary=True)]
            )
            for unsaved in addresses:
                unsaved.user = user
                unsaved.save()
            has_verified_email(user)
            saved = EmailAddress.objects.get(user_id=user.pk, email=address)
            with self._rehearsal():
                confirmation = EmailConfirmationHMAC(saved)
                self.send_confirmation_mail(request, confirmation, signup=True)
            transaction.set_rollback(True)

    def rehearse_password_reset(
        self,
        request: HttpRequest,
        email: str,
        token_generator: PasswordResetTokenGenerator,
    ) -> None:
        """Sign a reset token and render its mail; nothing is kept or sent.

        An account's token first checks that its address is recorded, then
        reads its addresses. The stand-in account is unsaved and has no
        address, so the check is made here for the submitted address and
        the token only reads; the savepoint undoes anything a site's own
        token generator writes.
        """
        with transaction.atomic():
            user = self.new_user(request)
            EmailAddress.objects.filter(user_id=user.pk, email=email).exists()
            key = token_generator.make_token(user)
            context = {
                "user": user,
                "password_reset_url": self.get_reset_password_from_key_url(
                    f"{REHEARSAL_UID}-{key}"
                ),
                "uid": REHEARSAL_UID,
                "key": key,
                "request": request,
            }
            if LoginMethod.USERNAME in app_settings.LOGIN_METHODS:
                context["username"] = user_username(user)
            with self._rehearsal():
                self.send_password_reset_mail(user, email, context)
            transaction.set_rollback(True)

    def rehearse_password_reset_code(self, request: HttpRequest, email: str) -> None:
        """Generate and render a reset code mail; nothing is kept or sent."""
        context = {"request": request, "code": self.generate_password_reset_code()}
        with self._rehearsal():
            self.send_mail("account/email/password_reset_code", email, context)

    def stand_in_for_missing_account(self, request: HttpRequest) -> None:
        """Name a stand-in account in the code reset of a missing account.

        Each wrong code makes allauth look up the account of the reset, so
        the reset of a missing account names the primary key zero in the
        key's own type, which no generated key takes, and looks one up too.
        It holds no code, so no code is ever accepted for it.
        """
        state = request.session[PASSWORD_RESET_VERIFICATION_SESSION_KEY]
        stand_in = get_user_model()._meta.pk.to_python(0)
        request.session[PASSWORD_RESET_VERIFICATION_SESSION_KEY] = {
            **state,
            "user_id": str(stand_in),
        }

    def rehearse_unknown_account_mail(self, request: HttpRequest, email: str) -> None:
        """Render the mail a missing account would be sent, without sending."""
        with self._rehearsal():
            send_unknown_account_mail(request, email)

    @contextmanager
    def _rehearsal(self) -> Iterator[None]:
        token = _rehearsing.set(True)
        try:
            yield
        finally:
            _rehearsing.reset(token)

    def send_mail(
        self, template_prefix: str, email: str, context: dict[str, Any]
    ) -> None:
        """Send an account mail; while rehearsing, only render it."""
        if not _rehearsing.get():
            super().send_mail(template_prefix, email, context)
            return
        request = allauth_context.request
        defaults = {
            "request": request,
            "email": email,
            "current_site": get_current_site(request),
        }
        self.render_mail(template_prefix, email, {**defaults, **context}).message()
