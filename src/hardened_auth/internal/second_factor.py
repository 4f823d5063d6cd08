"""Check a submitted second-factor code against the user's devices."""

import logging

import django_otp
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django_otp.models import Device

from hardened_auth.internal import audit
from hardened_auth.stepup import mark_second_factor_verified

logger = logging.getLogger(__name__)


def verify_code(request: HttpRequest, user: AbstractBaseUser, code: str) -> bool:
    """Verify ``code`` against any confirmed device; on success mark the session.

    django-otp's TOTP device refuses a code whose time step was already used,
    so a replayed code fails here like a wrong one.
    """
    device: Device | None = django_otp.match_token(user, code)
    if device is None:
        audit.emit(
            "authn_mfa_fail",
            outcome="failure",
            request=request,
            actor=user.pk,
        )
        return False

    django_otp.login(request, device)
    mark_second_factor_verified(request)
    audit.emit(
        "authn_mfa_success",
        outcome="success",
        request=request,
        actor=user.pk,
        target=device.persistent_id,
    )
    logger.info("second factor verified for user %s", user.pk)
    return True
