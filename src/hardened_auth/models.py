"""Second-factor devices kept by hardened_auth in django-otp's registry.

Both devices are django-otp devices, so ``django_otp.match_token`` and
``devices_for_user`` find them next to passkeys from django-otp-webauthn.
"""

import secrets
import time
from base64 import b32encode
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import hotp

from hardened_privacy.fields import EncryptedTextField

TOTP_STEP_SECONDS = 30
TOTP_TOLERANCE_STEPS = 1
TOTP_SECRET_BYTES = 20
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECOVERY_CODE_LENGTH = 12
MAX_SUBMITTED_CODE_LENGTH = 64


def _new_secret() -> str:
    return secrets.token_hex(TOTP_SECRET_BYTES)


def _record_failure(device: Device) -> None:
    """Count a failed attempt in the database without saving other fields.

    A full ``save()`` of an instance loaded before a concurrent success would
    write back its stale ``last_t`` and make a used code valid again.
    """
    now = timezone.now()
    type(device).objects.filter(pk=device.pk).update(
        throttling_failure_count=F("throttling_failure_count") + 1,
        throttling_failure_timestamp=now,
    )
    device.throttling_failure_count += 1
    device.throttling_failure_timestamp = now


def _record_success(device: Device) -> None:
    now = timezone.now()
    type(device).objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None, last_used_at=now
    )
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.last_used_at = now


class TOTPDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """An authenticator app; the shared secret is encrypted at rest.

    A code is accepted once: the time step it belongs to is recorded with a
    conditional update, so the same code (or an older one) fails afterwards,
    even when two requests present it at the same moment.
    """

    secret = EncryptedTextField(default=_new_secret)
    digits = models.PositiveSmallIntegerField(default=6)
    last_t = models.BigIntegerField(
        default=-1, help_text="The last time step a code was accepted for."
    )

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return bytes.fromhex(self.secret)

    @property
    def base32_secret(self) -> str:
        """The secret as an authenticator app takes it when typed by hand."""
        return b32encode(self.bin_key).decode().rstrip("=")

    def config_url(self, issuer: str) -> str:
        """The ``otpauth://`` URI an authenticator app scans."""
        label = f"{issuer}:{self.user.get_username()}"
        query = urlencode(
            {
                "secret": self.base32_secret,
                "issuer": issuer,
                "digits": self.digits,
                "period": TOTP_STEP_SECONDS,
                "algorithm": "SHA1",
            }
        )
        return f"otpauth://totp/{quote(label)}?{query}"

    def code_at(self, step: int) -> str:
        return str(hotp(self.bin_key, step, self.digits)).zfill(self.digits)

    def get_throttle_factor(self) -> int:
        return 1

    def accepts_format(self, code: str) -> bool:
        """Tell whether ``code`` looks like a code of this device."""
        return len(code) == self.digits and code.isdigit()

    def verify_token(self, token: Any) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        code = str(token).strip()
        if len(code) != self.digits or not code.isdigit():
            _record_failure(self)
            return False

        now = int(time.time()) // TOTP_STEP_SECONDS
        candidates = range(now - TOTP_TOLERANCE_STEPS, now + TOTP_TOLERANCE_STEPS + 1)
        matched = [
            step
            for step in candidates
            if step > self.last_t and constant_time_compare(self.code_at(step), code)
        ]
        if matched and self._claim_step(matched[-1]):
            return True
        _record_failure(self)
        return False

    def _claim_step(self, step: int) -> bool:
        claimed = TOTPDevice.objects.filter(pk=self.pk, last_t__lt=step).update(
            last_t=step,
            throttling_failure_count=0,
            throttling_failure_timestamp=None,
            last_used_at=timezone.now(),
        )
        if claimed:
            self.last_t = step
        return bool(claimed == 1)


def hash_recovery_code(code: str) -> str:
    """Keyed hash of a normalised recovery code; the code is never stored."""
    normalised = "".join(code.split()).replace("-", "").upper()
    return salted_hmac(
        "hardened_auth.recovery_code", normalised, algorithm="sha256"
    ).hexdigest()


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """A set of single-use recovery codes, stored only as keyed hashes."""

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "recovery code set"

    def get_throttle_factor(self) -> int:
        return 1

    def generate_codes(self, count: int = RECOVERY_CODE_COUNT) -> list[str]:
        """Replace every code with ``count`` new ones; return them once."""
        codes = [
            "".join(
                secrets.choice(RECOVERY_CODE_ALPHABET)
                for _ in range(RECOVERY_CODE_LENGTH)
            )
            for _ in range(count)
        ]
        self.codes.all().delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=self, code_hash=hash_recovery_code(code))
            for code in codes
        )
        return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]

    def accepts_format(self, code: str) -> bool:
        """Tell whether ``code`` looks like a recovery code."""
        return not code.isdigit() and len(code) <= MAX_SUBMITTED_CODE_LENGTH

    def remaining(self) -> int:
        return int(self.codes.filter(used_at__isnull=True).count())

    def verify_token(self, token: Any) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        code = str(token)
        used = 0
        if len(code) <= MAX_SUBMITTED_CODE_LENGTH:
            used = RecoveryCode.objects.filter(
                device=self, code_hash=hash_recovery_code(code), used_at__isnull=True
            ).update(used_at=timezone.now())
        if used == 1:
            _record_success(self)
            return True
        _record_failure(self)
        return False


class RecoveryCode(models.Model):
    """One recovery code, as a keyed hash, and when it was used."""

    device = models.ForeignKey(
        RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "code_hash"], name="hardened_auth_unique_code"
            )
        ]

    def __str__(self) -> str:
        return f"recovery code {self.pk} ({'used' if self.used_at else 'unused'})"


class UserSession(models.Model):
    """One signed-in session, so its user can see it and end it.

    The session itself holds a random id; this row holds only its hash, and
    the key of the session's store entry sealed under a key derived from
    ``SECRET_KEY``. Deleting the row deletes that entry, so the session is
    signed out on its next request.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sid_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device_label = models.CharField(max_length=120, blank=True)
    rotate_pending = models.BooleanField(
        default=False, help_text="Rotate the session key on its next request."
    )
    sealed_store_key = models.TextField(
        blank=True,
        default="",
        help_text="The session's sealed store keys; empty for older sessions.",
    )

    class Meta:
        verbose_name = "signed-in session"

    def __str__(self) -> str:
        return f"session {self.pk} of user {self.user_id}"


class TokenFamily(models.Model):
    """The chain of refresh tokens that began with one sign-in of an API client."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name_plural = "token families"

    def __str__(self) -> str:
        return f"token family {self.pk} of user {self.user_id}"


class RefreshToken(models.Model):
    """A single-use refresh token, stored as its SHA-256."""

    family = models.ForeignKey(
        TokenFamily, on_delete=models.CASCADE, related_name="refresh_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token {self.pk}"


class AccessToken(models.Model):
    """A short-lived bearer token, stored as its SHA-256."""

    family = models.ForeignKey(
        TokenFamily, on_delete=models.CASCADE, related_name="access_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"access token {self.pk}"
