"""Give every demo user a second factor and print it, for the demo only.

``manage.py sandbox_demo`` calls ``seed`` after the core users exist. Each
run replaces every user's authenticator app and recovery codes, as it
replaces the passwords, and prints them: sign-in asks for the second factor
after the password, and the admin, payouts and other sensitive pages ask for
a fresh one, so whoever walks the demo needs them. A real site never prints
these.
"""

from collections.abc import Iterable
from typing import Any, TextIO

from hardened_auth.conf import app_settings
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice

DEVICE_NAME = "Sandbox authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
CODES_PER_LINE = 5


def seed(*, tenants: dict[str, Any], users: dict[str, Any], stdout: TextIO) -> None:
    """Replace each user's TOTP device and recovery codes; print both."""
    stdout.write(
        "Second factors (sign-in asks for one after the password; the admin\n"
        "and payouts ask again). Type the key into an authenticator app or\n"
        "scan the otpauth URI:\n"
    )
    for username, user in users.items():
        device, codes = _replace_second_factor(user)
        stdout.write(f"  {username}:\n")
        stdout.write(f"    authenticator app key (base32): {device.base32_secret}\n")
        stdout.write(f"    or scan: {device.config_url(app_settings.TOTP_ISSUER)}\n")
        stdout.write("    recovery codes, each usable once:\n")
        for line in _lines(codes):
            stdout.write(f"      {line}\n")
    stdout.write("These keys and codes are new on every run; demo use only.\n")


def _replace_second_factor(user: Any) -> tuple[TOTPDevice, list[str]]:
    TOTPDevice.objects.filter(user=user).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, confirmed=True
    )
    recovery, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": RECOVERY_DEVICE_NAME, "confirmed": True}
    )
    if not recovery.confirmed:
        recovery.confirmed = True
        recovery.save(update_fields=["confirmed"])
    return device, recovery.generate_codes()


def _lines(codes: list[str]) -> Iterable[str]:
    for start in range(0, len(codes), CODES_PER_LINE):
        yield " ".join(codes[start : start + CODES_PER_LINE])
