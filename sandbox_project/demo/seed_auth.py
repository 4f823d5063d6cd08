"""Give the demo superuser a second factor and print it, for the demo only.

``manage.py sandbox_demo`` calls ``seed`` after the core users exist. Each
run replaces the superuser's authenticator app and recovery codes, as it
replaces the passwords, and prints them: the admin opens only after a second
factor, so whoever runs the demo needs one. A real site never prints these.
"""

from io import TextIOBase
from typing import Any

from hardened_auth.conf import app_settings
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice

SUPERUSER = "admin"
DEVICE_NAME = "Sandbox authenticator app"


def seed(*, tenants: dict[str, Any], users: dict[str, Any], stdout: TextIOBase) -> None:
    """Replace the superuser's TOTP device and recovery codes; print both."""
    user = users[SUPERUSER]

    TOTPDevice.objects.filter(user=user).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, confirmed=True
    )
    recovery, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Recovery codes", "confirmed": True}
    )
    codes = recovery.generate_codes()

    stdout.write(f"Second factor of {SUPERUSER} (the admin asks for it):\n")
    stdout.write(f"  authenticator app key (base32): {device.base32_secret}\n")
    stdout.write(f"  or scan: {device.config_url(app_settings.TOTP_ISSUER)}\n")
    stdout.write("  recovery codes, each usable once:\n")
    for code in codes:
        stdout.write(f"    {code}\n")
    stdout.write("These are new on every run; demo use only.\n")
