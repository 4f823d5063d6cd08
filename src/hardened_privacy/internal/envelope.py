"""Envelope encryption of values under data keys wrapped by master keys.

A stored value reads ``hp1$<key id>$<payload>``; the payload is URL-safe
base64 (unpadded) of::

    wrapped length (2 bytes, big-endian) | wrapped data key | nonce (12) |
    AES-256-GCM ciphertext and tag

The associated data binds the ciphertext to the format version, the master
key id, the wrapped data key and the caller's context (for model fields the
table and column), so a value moved to another column, or a header rewritten
to name another key, fails authentication.
"""

import base64
import binascii
import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import DecryptionError, UnknownKeyError
from hardened_privacy.internal.keyring import (
    KEY_ID,
    Keyring,
    _state,
    _state_lock,
    get_keyring,
)

logger = logging.getLogger(__name__)

VERSION = "hp1"
PREFIX = VERSION + "$"
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
TAG_BYTES = 16
_UNWRAPPED_CACHE_SIZE = 256


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_prefix(key_id: str) -> str:
    """The text every value encrypted under ``key_id`` starts with."""
    return f"{PREFIX}{key_id}$"


def parse_key_id(token: str) -> str:
    """The master key id named in a stored value, or DecryptionError."""
    parts = token.split("$", 2)
    if len(parts) != 3 or parts[0] != VERSION or not KEY_ID.match(parts[1]):
        raise DecryptionError("The value is not a hardened_privacy ciphertext.")
    return parts[1]


class _DataKey:
    __slots__ = ("aead", "header", "key_id", "uses", "wrapped")

    def __init__(self, key_id: str, data_key: bytes, wrapped: bytes) -> None:
        self.key_id = key_id
        self.wrapped = wrapped
        self.aead = AESGCM(data_key)
        self.header = len(wrapped).to_bytes(2, "big") + wrapped
        self.uses = 0


class EnvelopeCipher:
    """Encrypts with the active key's current data key; opens any known key."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._current: _DataKey | None = None
        self._opened: OrderedDict[tuple[str, bytes], AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def _data_key(self) -> _DataKey:
        with self._lock:
            current = self._current
            if current is None or current.uses >= app_settings.DATA_KEY_MAX_USES:
                key_id = self.keyring.require_active_key()
                provider, reference = self.keyring.master(key_id)
                data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
                wrapped = provider.wrap_data_key(key_id, reference, data_key)
                if len(wrapped) >= 2**16:
                    raise DecryptionError("The wrapped data key is too long.")
                current = _DataKey(key_id, data_key, wrapped)
                self._current = current
                self._opened[(key_id, wrapped)] = current.aead
                logger.info("Created a data key under master key %s.", key_id)
            current.uses += 1
            return current

    def _open_data_key(self, key_id: str, wrapped: bytes) -> AESGCM:
        cache_key = (key_id, wrapped)
        with self._lock:
            aead = self._opened.get(cache_key)
            if aead is not None:
                self._opened.move_to_end(cache_key)
                return aead
        provider, reference = self.keyring.master(key_id)
        data_key = provider.unwrap_data_key(key_id, reference, wrapped)
        if len(data_key) != DATA_KEY_BYTES:
            raise DecryptionError("The unwrapped data key has the wrong length.")
        aead = AESGCM(data_key)
        with self._lock:
            self._opened[cache_key] = aead
            while len(self._opened) > _UNWRAPPED_CACHE_SIZE:
                self._opened.popitem(last=False)
        return aead

    @staticmethod
    def _aad(key_id: str, wrapped: bytes, context: bytes) -> bytes:
        return b"\x00".join([VERSION.encode(), key_id.encode(), wrapped, context])

    def encrypt(self, plaintext: bytes, context: bytes) -> str:
        data_key = self._data_key()
        nonce = os.urandom(NONCE_BYTES)
        body = data_key.aead.encrypt(
            nonce, plaintext, self._aad(data_key.key_id, data_key.wrapped, context)
        )
        return key_prefix(data_key.key_id) + _b64encode(data_key.header + nonce + body)

    def decrypt(self, token: str, context: bytes) -> bytes:
        key_id = parse_key_id(token)
        if key_id not in self.keyring.keys:
            raise UnknownKeyError(
                f"The value was encrypted under {key_id!r}, which is not configured."
            )
        try:
            raw = _b64decode(token.split("$", 2)[2])
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("The ciphertext is not valid base64.") from exc
        wrapped_length = int.from_bytes(raw[:2], "big")
        minimum = 2 + wrapped_length + NONCE_BYTES + TAG_BYTES
        if len(raw) < minimum or wrapped_length == 0:
            raise DecryptionError("The ciphertext is truncated.")
        wrapped = raw[2 : 2 + wrapped_length]
        nonce = raw[2 + wrapped_length : minimum - TAG_BYTES]
        body = raw[minimum - TAG_BYTES :]
        aead = self._open_data_key(key_id, wrapped)
        try:
            return aead.decrypt(nonce, body, self._aad(key_id, wrapped, context))
        except InvalidTag as exc:
            raise DecryptionError(
                "The ciphertext failed authentication: it was altered, truncated "
                "or moved from another column."
            ) from exc


def get_cipher() -> EnvelopeCipher:
    """The cipher for the current settings and keyring."""
    keyring = get_keyring()
    with _state_lock:
        cipher: Any = _state.get("cipher")
        if cipher is None or cipher.keyring is not keyring:
            cipher = EnvelopeCipher(keyring)
            _state["cipher"] = cipher
        assert isinstance(cipher, EnvelopeCipher)
        return cipher
