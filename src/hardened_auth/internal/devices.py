"""Enrolment and removal of a user's second-factor devices."""

import base64
import io
import logging

import django_otp
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django_otp.models import Device

from hardened_auth.internal import audit
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice

logger = logging.getLogger(__name__)


def _count_session_as_verified(request: HttpRequest, device: Device) -> None:
    """Let the session that enrolled a first device count as verified by it.

    Enrolment of a device when one already exists needs a fresh step-up, so
    a session reaches here either verified or holding no device before.
    """
    user = getattr(request, "user", None)
    if user is not None and not user.is_verified():
        django_otp.login(request, device)


def start_totp(user: AbstractBaseUser) -> TOTPDevice:
    """Create an unconfirmed authenticator device, replacing earlier ones."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=False
    )
    return device


def qr_data_uri(text: str) -> str:
    """An SVG QR code of ``text`` as a ``data:`` URI; empty without qrcode.

    The optional ``qrcode`` package draws it; without it the page shows the
    key to type by hand.
    """
    try:
        import qrcode  # type: ignore[import-untyped]
        import qrcode.image.svg  # type: ignore[import-untyped]
    except ImportError:
        return ""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"data:image/svg+xml;base64,{encoded}"


def confirm_totp(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Confirm a pending authenticator device with its first code."""
    if not device.verify_token(code):
        audit.emit(
            "authn_mfa_enrol_fail",
            outcome="failure",
            request=request,
            target=device.persistent_id,
        )
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _count_session_as_verified(request, device)
    audit.emit(
        "authn_mfa_enrolled",
        outcome="success",
        request=request,
        target=device.persistent_id,
        device_type="totp",
    )
    return True


def new_recovery_codes(request: HttpRequest, user: AbstractBaseUser) -> list[str]:
    """Replace the user's recovery codes; the plain codes exist only here."""
    device, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Recovery codes", "confirmed": True}
    )
    codes: list[str] = device.generate_codes()
    _count_session_as_verified(request, device)
    audit.emit(
        "authn_mfa_enrolled",
        outcome="success",
        request=request,
        target=device.persistent_id,
        device_type="recovery_codes",
    )
    return codes


def remove_device(request: HttpRequest | None, device: Device) -> None:
    """Delete a device and audit who removed it."""
    target = device.persistent_id
    owner = device.user_id
    device.delete()
    audit.emit(
        "authn_mfa_removed",
        outcome="success",
        request=request,
        target=target,
        owner=str(owner),
    )
    logger.info("second-factor device %s removed", target)
