"""Keyed HMAC digests that let encrypted columns answer exact-match lookups."""

import hashlib
from typing import TYPE_CHECKING

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.keyring import _state, _state_lock, get_keyring

if TYPE_CHECKING:
    from hashlib import _Hash

MIN_KEY_BYTES = 32
DIGEST_LENGTH = 64

_CONTEXTS_CACHED = 1024
_BLOCK_BYTES = 64


class _Keyed:
    """HMAC-SHA256 under one key, as the two hash states RFC 2104 starts from.

    The inner state has taken in the key padded with ``0x36`` bytes and the
    outer one the key padded with ``0x5c`` bytes, so a digest costs two
    copies of a hash state rather than a new HMAC object. Each column gets
    a copy of the inner state that has also taken in its context.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK_BYTES:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK_BYTES, b"\x00")
        self.inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self.outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
        self.contexts: dict[str, _Hash] = {}

    def for_context(self, context: str) -> "_Hash":
        inner = self.contexts.get(context)
        if inner is None:
            inner = self.inner.copy()
            inner.update(context.encode() + b"\x00")
            if len(self.contexts) < _CONTEXTS_CACHED:
                self.contexts[context] = inner
        return inner

    def hexdigest(self, context: str, value: str) -> str:
        inner = (self.contexts.get(context) or self.for_context(context)).copy()
        inner.update(value.encode())
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


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
