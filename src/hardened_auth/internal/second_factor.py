"""Check a submitted second-factor code against the user's devices."""

import logging

import django_otp
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django_otp.models import Device

from hardened_auth.internal import audit
from hardened_auth.stepup import mark_second_factor_verified

logger = logging.getLogger(__name__)


def has_second_factor(user: AbstractBaseUser) -> bool:
    """Tell whether the user has at least one confirmed device."""
    return any(True for _ in django_otp.devices_for_user(user, confirmed=True))


def match_code(user: AbstractBaseUser, code: str) -> Device | None:
    """Return the confirmed device that accepts ``code``, or ``None``.

    Only devices whose code format matches are tried, so a TOTP attempt never
    throttles the recovery codes and the other way round.
    """
    for device in django_otp.devices_for_user(user, confirmed=True):
        accepts = getattr(device, "accepts_format", None)
        if accepts is None or not accepts(code):
            continue
        if device.verify_token(code):
            return device
    return None


def verify_code(request: HttpRequest, user: AbstractBaseUser, code: str) -> bool:
    """Verify ``code`` against the user's devices; on success mark the session.

    A TOTP code is accepted once per time step and a recovery code once, so a
    replayed code fails here like a wrong one.
    """
    device = match_code(user, code)
    if device is None:
        audit.emit(
            "authn_mfa_fail",
            outcome="failure",
            request=request,
            actor=user.pk,
        )
        return False

    complete_verification(request, device)
    return True


def complete_verification(request: HttpRequest, device: Device) -> None:
    """Record a verified device in the session, rotate its key and audit it."""
    django_otp.login(request, device)
    mark_second_factor_verified(request)
    audit.emit(
        "authn_mfa_success",
        outcome="success",
        request=request,
        actor=device.user_id,
        target=device.persistent_id,
    )
    logger.info("second factor verified for user %s", device.user_id)
