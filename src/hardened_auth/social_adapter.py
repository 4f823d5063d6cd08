"""django-allauth social account adapter: sign in by email only where allowed.

With ``email_authentication`` on, allauth signs a provider's user into the
local account holding the email the provider says is verified. Any provider
may say so about any address, so this adapter asks the callable named by
``HARDENED_AUTH_OIDC_EMAIL_MATCH`` whether that provider may sign into that
account, and refuses the sign-in (with an ``authn_sso_email_match_fail``
audit event) when it says no. Without the setting no provider signs in by
email::

    SOCIALACCOUNT_ADAPTER = "hardened_auth.social_adapter.SocialAccountAdapter"
    HARDENED_AUTH_OIDC_EMAIL_MATCH = "myproject.sso.provisioned_by"

A provider user whose email matches no account still signs up as usual.
An allowed match counts as proof of the address: once the ID token's nonce
has been checked, the address is recorded as verified for that account, so
an account provisioned without a verified address is not sent to confirm it.
"""

from collections.abc import Callable
from typing import Any

from allauth.account.models import EmailAddress
from allauth.core import context
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core.exceptions import PermissionDenied
from django.utils.module_loading import import_string

from hardened_auth.conf import app_settings
from hardened_auth.internal import audit

EmailMatch = Callable[[str, Any, str], bool]
MATCHED_EMAIL = "hardened_auth_matched_email"


def email_match() -> EmailMatch | None:
    """The configured callable, or ``None`` when no email match is allowed."""
    path = app_settings.OIDC_EMAIL_MATCH
    if not path:
        return None
    allowed: EmailMatch = import_string(path)
    return allowed


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    """Refuse an email match the site has not allowed for that provider."""

    def authenticate_by_email(self, sociallogin: Any) -> tuple[Any, str] | None:
        found = super().authenticate_by_email(sociallogin)
        if found is None:
            return None

        user, email = found
        provider_id = str(sociallogin.account.provider)
        allowed = email_match()
        if allowed is not None and allowed(provider_id, user, email) is True:
            setattr(sociallogin, MATCHED_EMAIL, email)
            return user, email

        audit.emit(
            "authn_sso_email_match_fail",
            outcome="denied",
            request=context.request,
            target=str(user.pk),
            provider=provider_id,
        )
        raise PermissionDenied(
            "This provider may not sign in to the account holding that address."
        )


def email_match_confirmed(
    sender: Any, request: Any, sociallogin: Any, **kwargs: Any
) -> None:
    """``pre_social_login`` receiver, after the nonce check: verify the match.

    Records the matched address as verified for the account it signed in to.
    """
    email = getattr(sociallogin, MATCHED_EMAIL, None)
    user = sociallogin.user
    if not isinstance(email, str) or user is None or user.pk is None:
        return

    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        has_primary = EmailAddress.objects.filter(user=user, primary=True).exists()
        EmailAddress.objects.create(
            user=user, email=email, verified=True, primary=not has_primary
        )
    elif not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
