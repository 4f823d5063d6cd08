"""django-allauth account adapter: one spelling per address, equal answers."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import (
    cleanup_email_addresses,
    has_verified_email,
    user_email,
)
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import get_random_string

from hardened_auth.internal.identifiers import normalise_email

# A reserved top-level domain: nothing addressed there is ever delivered.
REHEARSAL_DOMAIN = "signup.invalid"


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Normalise addresses and keep the signup of a taken address as slow.

    With ``ACCOUNT_PREVENT_ENUMERATION`` a signup for an address that already
    has an account is answered like a new signup and the owner is mailed.
    Before that mail this path rehearses a new signup: it saves a user with
    a hashed password and an address, signs and renders the confirmation
    mail, and rolls the rows back without sending the rehearsed mail.
    """

    _rehearsing = False

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
            self._rehearsing = True
            try:
                confirmation = EmailConfirmationHMAC(saved)
                self.send_confirmation_mail(request, confirmation, signup=True)
            finally:
                self._rehearsing = False
            transaction.set_rollback(True)

    def send_mail(
        self, template_prefix: str, email: str, context: dict[str, Any]
    ) -> None:
        """Send an account mail; while rehearsing, only render it."""
        if not self._rehearsing:
            super().send_mail(template_prefix, email, context)
            return
        request = allauth_context.request
        defaults = {
            "request": request,
            "email": email,
            "current_site": get_current_site(request),
        }
        self.render_mail(template_prefix, email, {**defaults, **context}).message()
