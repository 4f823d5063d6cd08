"""Keyed HMAC digests that let encrypted columns answer exact-match lookups."""

import hashlib
import hmac

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.keyring import _state, _state_lock, get_keyring

MIN_KEY_BYTES = 32
DIGEST_LENGTH = 64


def _keyed() -> "hmac.HMAC":
    with _state_lock:
        cached = _state.get("blind_index_hmac")
    if isinstance(cached, hmac.HMAC):
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
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    with _state_lock:
        _state["blind_index_hmac"] = keyed
    return keyed


def digest(context: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` for the column named by ``context``, as hex."""
    mac = _keyed().copy()
    mac.update(context.encode() + b"\x00" + value.encode())
    return mac.hexdigest()
