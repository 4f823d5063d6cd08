"""Keyed HMAC digests that let encrypted columns answer exact-match lookups."""

import hashlib
import hmac

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.keyring import _state, _state_lock, get_keyring

MIN_KEY_BYTES = 32
DIGEST_LENGTH = 64

_CONTEXTS_CACHED = 1024


class _Keyed:
    """The keyed HMAC, and copies of it that have taken in a column's context."""

    def __init__(self, key: bytes) -> None:
        self.mac = hmac.new(key, digestmod=hashlib.sha256)
        self.contexts: dict[str, hmac.HMAC] = {}

    def for_context(self, context: str) -> hmac.HMAC:
        mac = self.contexts.get(context)
        if mac is None:
            mac = self.mac.copy()
            mac.update(context.encode() + b"\x00")
            if len(self.contexts) < _CONTEXTS_CACHED:
                self.contexts[context] = mac
        return mac

    def hexdigest(self, context: str, value: str) -> str:
        mac = (self.contexts.get(context) or self.for_context(context)).copy()
        mac.update(value.encode())
        return mac.hexdigest()


def _keyed() -> _Keyed:
    cached: _Keyed | None = _state.get("blind_index_hmac")
    if cached is not None:
        return cached
    keyring = get_keyring()
    key = keyring.secret(
        app_settings.BLIND_INDEX_KEY, "HARDENED_PRIVACY_BLIND_INDEX_KEY"
    )
    if len(key) < MIN_KEY_BYTES:
        raise HardenedPrivacyConfigurationError(
            f"HARDENED_PRIVACY_BLIND_INDEX_KEY must be at least {MIN_KEY_BYTES} "
            "bytes long."
        )
    keyed = _Keyed(key)
    with _state_lock:
        if _state.get("keyring") is keyring:
            _state["blind_index_hmac"] = keyed
    return keyed


def digest(context: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` for the column named by ``context``, as hex."""
    keyed: _Keyed | None = _state.get("blind_index_hmac")
    return (keyed or _keyed()).hexdigest(context, value)
