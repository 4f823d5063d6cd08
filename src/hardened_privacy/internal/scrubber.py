"""Find and mask personal and secret values in text and nested data."""

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "[MASKED]"
MAX_DEPTH = 8
HARD_INPUT_LIMIT = 1_000_000

SENSITIVE_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "access_key",
    "private_key",
    "authorization",
    "cookie",
    "sessionid",
    "session_key",
    "csrf",
    "otp",
    "totp",
    "mfa_code",
    "recovery_code",
    "verification_code",
    "card_number",
    "cardnumber",
    "cvv",
    "cvc",
    "iban",
    "ssn",
    "signature",
)
SENSITIVE_NAMES = frozenset({"code", "pin", "pan", "key", "auth"})

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)(\s+|=)[A-Za-z0-9._~+/=-]{6,}")
_API_KEY = re.compile(
    r"\b(?:"
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"
    r"|whsec_[A-Za-z0-9+/=]{8,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{30,}"
    r"|sk-[A-Za-z0-9_-]{16,}"
    r"|hvs\.[A-Za-z0-9_-]{20,}"
    r")"
)
_ASSIGNMENT = re.compile(
    r"(?i)\b((?:api[_-]?key|access[_-]?key|secret|token|password|passwd|pwd)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;]{3,})"
)
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ()-]{6,}\d(?![\w])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[MASKED:card]" if luhn_valid(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[MASKED:phone]" if 9 <= len(digits) <= 15 else match.group(0)


def mask_text(text: str) -> str:
    """Mask every secret or personal value the patterns recognise."""
    text = _JWT.sub("[MASKED:jwt]", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _API_KEY.sub("[MASKED:key]", text)
    text = _ASSIGNMENT.sub(lambda m: m.group(1) + MASK, text)
    text = _EMAIL.sub("[MASKED:email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[truncated {len(text) - limit} characters]"


class Scrubber:
    """Masks by key name, by pattern, and caps the length of strings."""

    def __init__(
        self,
        extra_names: Iterable[str] = (),
        max_length: int = 4096,
        names_provider: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.extra_names = frozenset(n.lower() for n in extra_names)
        self.max_length = max_length
        self.names_provider = names_provider

    def sensitive_names(self) -> frozenset[str]:
        names = set(self.extra_names)
        if self.names_provider is not None:
            names.update(n.lower() for n in self.names_provider())
        return frozenset(names)

    def is_sensitive_name(self, name: str, names: frozenset[str]) -> bool:
        lowered = name.lower().replace("-", "_")
        if lowered in SENSITIVE_NAMES or lowered in names:
            return True
        return any(part in lowered for part in SENSITIVE_NAME_PARTS)

    def text(self, value: str) -> str:
        return cap(mask_text(value[:HARD_INPUT_LIMIT]), self.max_length)

    def value(self, value: Any, names: frozenset[str] | None = None) -> Any:
        if names is None:
            names = self.sensitive_names()
        return self._value(value, names, 0)

    def _value(self, value: Any, names: frozenset[str], depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_DEPTH:
            return "[MASKED:too-deep]"
        if isinstance(value, Mapping):
            return {
                self.text(str(k)): MASK
                if self.is_sensitive_name(str(k), names)
                else self._value(v, names, depth + 1)
                for k, v in list(value.items())[:200]
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(v, names, depth + 1) for v in list(value)[:200]]
        if isinstance(value, bytes):
            return f"[bytes: {len(value)}]"
        return self.text(str(value))
