"""Read what ``manage.py sandbox_demo`` prints, as a visitor would."""

import base64
import re
from dataclasses import dataclass

from django_otp.oath import totp

from hardened_auth.models import TOTP_STEP_SECONDS

PASSWORD_LINE = re.compile(r"^  (\w+)\s+\S+@\S+\s+(\S+)\s+tenants:", re.MULTILINE)
SECOND_FACTOR_BLOCK = re.compile(
    r"^  (\w+):\n"
    r"    authenticator app key \(base32\): ([A-Z2-7]+)\n"
    r"    or scan: (otpauth://\S+)\n"
    r"    recovery codes, each usable once:\n"
    r"((?:      .+\n)+)",
    re.MULTILINE,
)
RECOVERY_CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")


@dataclass(frozen=True)
class SecondFactor:
    secret: str
    uri: str
    recovery_codes: list[str]

    def code(self, drift: int = 0) -> str:
        """The authenticator app's code now, or ``drift`` steps away."""
        key = base64.b32decode(self.secret + "=" * (-len(self.secret) % 8))
        return f"{totp(key, step=TOTP_STEP_SECONDS, drift=drift):06d}"


def passwords(printed: str) -> dict[str, str]:
    return dict(PASSWORD_LINE.findall(printed))


def second_factors(printed: str) -> dict[str, SecondFactor]:
    return {
        username: SecondFactor(secret, uri, RECOVERY_CODE.findall(codes))
        for username, secret, uri, codes in SECOND_FACTOR_BLOCK.findall(printed)
    }
