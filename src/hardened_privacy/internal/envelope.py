"""Envelope encryption of values under data keys wrapped by master keys.

A stored value reads ``hp1$<key id>$<payload>``; the payload is URL-safe
base64 (unpadded) of::

    wrapped length (2 bytes, big-endian) | wrapped data key | nonce (12) |
    AES-256-GCM ciphertext and tag

The associated data binds the ciphertext to the format version, the master
key id, the wrapped data key and the caller's context (for model fields the
table and column), so a value moved to another column, or a header rewritten
to name another key, fails authentication.

A process wraps one data key under the active master key and encrypts with
it until ``HARDENED_PRIVACY_DATA_KEY_MAX_USES`` values, each under its own
random nonce. Data keys it has unwrapped stay open in a bounded cache, so
reading many values costs the master key one unwrap per data key.
"""

import binascii
import logging
import os
import struct
import threading
from collections.abc import Iterator

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
BINARY_VERSION = b"\x01"
_UNWRAPPED_CACHE_SIZE = 256
_NONCE_BATCH = 512

_NOT_OURS = "The value is not a hardened_privacy ciphertext."
_FAILED = (
    "The ciphertext failed authentication: it was altered, truncated or moved "
    "from another column."
)

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/!!")
_PADDING = (b"", b"===", b"==", b"=")


def _b64encode(raw: bytes) -> str:
    encoded = binascii.b2a_base64(raw, newline=False)
    return encoded.translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict unpadded URL-safe base64; anything else raises ValueError."""
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)


def key_prefix(key_id: str) -> str:
    """The text every value encrypted under ``key_id`` starts with."""
    return f"{PREFIX}{key_id}$"


def parse_key_id(token: str) -> str:
    """The master key id named in a stored value, or DecryptionError."""
    parts = token.split("$", 2)
    if len(parts) != 3 or parts[0] != VERSION or not KEY_ID.match(parts[1]):
        raise DecryptionError(_NOT_OURS)
    return parts[1]


def _aad_prefix(key_id: str, wrapped: bytes) -> bytes:
    return b"\x00".join([VERSION.encode(), key_id.encode(), wrapped, b""])


class _NonceBatches(threading.local):
    batch: Iterator[tuple[bytes, ...]] = iter(())


_nonce_batches = _NonceBatches()


def _nonce() -> bytes:
    """A random 96-bit nonce that no other caller is given.

    Nonces come from ``os.urandom`` a batch at a time. Each thread draws
    from its own batch, and a forked child drops the batches it inherited.
    """
    drawn = next(_nonce_batches.batch, None)
    if drawn is None:
        pool = os.urandom(NONCE_BYTES * _NONCE_BATCH)
        _nonce_batches.batch = struct.iter_unpack(f"{NONCE_BYTES}s", pool)
        drawn = next(_nonce_batches.batch)
    return drawn[0]


def _forget_nonces() -> None:
    global _nonce_batches
    _nonce_batches = _NonceBatches()


os.register_at_fork(after_in_child=_forget_nonces)


class _DataKey:
    """An open data key and the bytes every envelope under it repeats.

    ``text_head`` is the start of every text envelope under this key: the
    prefix and the base64 of the longest run of header bytes that encodes
    on its own (a multiple of three bytes); ``carry`` is the rest of the
    header, encoded together with each value's nonce.
    """

    __slots__ = (
        "aad_prefix",
        "aead",
        "binary_header",
        "carry",
        "header",
        "key_id",
        "text_head",
        "text_length",
        "uses",
        "wrapped",
    )

    def __init__(self, key_id: str, aead: AESGCM, wrapped: bytes) -> None:
        self.key_id = key_id
        self.aead = aead
        self.wrapped = wrapped
        self.header = len(wrapped).to_bytes(2, "big") + wrapped
        self.aad_prefix = _aad_prefix(key_id, wrapped)
        encoded = key_id.encode()
        self.binary_header = BINARY_VERSION + bytes([len(encoded)]) + encoded
        self.binary_header += self.header
        aligned = len(self.header) - len(self.header) % 3
        self.text_head = key_prefix(key_id) + _b64encode(self.header[:aligned])
        self.text_length = len(self.text_head)
        self.carry = self.header[aligned:]
        self.uses = 0

    def open(self, nonce: bytes, body: bytes, context: bytes) -> bytes:
        try:
            return self.aead.decrypt(nonce, body, self.aad_prefix + context)
        except InvalidTag as exc:
            raise DecryptionError(_FAILED) from exc


class EnvelopeCipher:
    """Encrypts with the active key's current data key; opens any known key."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.max_uses = app_settings.DATA_KEY_MAX_USES
        self._current: _DataKey | None = None
        self._opened: dict[tuple[str, bytes], _DataKey] = {}
        self._lock = threading.Lock()

    def _renew(self) -> _DataKey:
        with self._lock:
            current = self._current
            if current is not None and current.uses < self.max_uses:
                return current
            key_id = self.keyring.require_active_key()
            provider, reference = self.keyring.master(key_id)
            data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
            wrapped = provider.wrap_data_key(key_id, reference, data_key)
            if len(wrapped) >= 2**16:
                raise DecryptionError("The wrapped data key is too long.")
            current = _DataKey(key_id, AESGCM(data_key), wrapped)
            self._remember(current)
            self._current = current
            logger.info("Created a data key under master key %s.", key_id)
            return current

    def _remember(self, data_key: _DataKey) -> None:
        while len(self._opened) >= _UNWRAPPED_CACHE_SIZE:
            del self._opened[next(iter(self._opened))]
        self._opened[(data_key.key_id, data_key.wrapped)] = data_key

    def _open_data_key(self, key_id: str, wrapped: bytes) -> _DataKey:
        opened = self._opened.get((key_id, wrapped))
        if opened is not None:
            return opened
        provider, reference = self.keyring.master(key_id)
        data_key = provider.unwrap_data_key(key_id, reference, wrapped)
        if len(data_key) != DATA_KEY_BYTES:
            raise DecryptionError("The unwrapped data key has the wrong length.")
        opened = _DataKey(key_id, AESGCM(data_key), wrapped)
        with self._lock:
            self._remember(opened)
        return opened

    def _encrypting(self) -> _DataKey:
        data_key = self._current
        if data_key is None or data_key.uses >= self.max_uses:
            data_key = self._renew()
        data_key.uses += 1
        return data_key

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """The binary envelope: ``0x01 | id length | key id | wrapped
        length (2) | wrapped data key | nonce | ciphertext and tag``."""
        data_key = self._encrypting()
        nonce = _nonce()
        body = data_key.aead.encrypt(nonce, plaintext, data_key.aad_prefix + context)
        return data_key.binary_header + nonce + body

    def encrypt(self, plaintext: bytes, context: bytes) -> str:
        """The text envelope stored by model fields (see the module docstring)."""
        data_key = self._current
        if data_key is None or data_key.uses >= self.max_uses:
            data_key = self._renew()
        data_key.uses += 1
        nonce = _nonce()
        body = data_key.aead.encrypt(nonce, plaintext, data_key.aad_prefix + context)
        encoded = binascii.b2a_base64(data_key.carry + nonce + body, newline=False)
        return data_key.text_head + encoded.translate(_TO_URLSAFE).rstrip(b"=").decode()

    def _known(self, key_id: str) -> None:
        if key_id not in self.keyring.keys:
            if not KEY_ID.match(key_id):
                raise DecryptionError(_NOT_OURS)
            raise UnknownKeyError(
                f"The value was encrypted under {key_id!r}, which is not configured."
            )

    def _open(self, key_id: str, raw: bytes, start: int, context: bytes) -> bytes:
        wrapped_length = int.from_bytes(raw[start : start + 2], "big")
        wrapped_end = start + 2 + wrapped_length
        if len(raw) < wrapped_end + NONCE_BYTES + TAG_BYTES or not wrapped_length:
            raise DecryptionError("The ciphertext is truncated.")
        data_key = self._open_data_key(key_id, raw[start + 2 : wrapped_end])
        nonce_end = wrapped_end + NONCE_BYTES
        return data_key.open(raw[wrapped_end:nonce_end], raw[nonce_end:], context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        """Open a binary envelope made by :meth:`seal`."""
        current = self._current
        if current is not None and blob.startswith(current.binary_header):
            start = len(current.binary_header)
            nonce_end = start + NONCE_BYTES
            return current.open(blob[start:nonce_end], blob[nonce_end:], context)
        if len(blob) < 2 or blob[:1] != BINARY_VERSION:
            raise DecryptionError("The value is not a hardened_privacy envelope.")
        end = 2 + blob[1]
        try:
            key_id = blob[2:end].decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecryptionError("The envelope's key id is not readable.") from exc
        self._known(key_id)
        return self._open(key_id, blob, end, context)

    def decrypt(self, token: str, context: bytes) -> bytes:
        """Open a text envelope made by :meth:`encrypt`."""
        current = self._current
        if (
            current is not None
            and isinstance(token, str)
            and token.startswith(current.text_head)
        ):
            try:
                data = token[current.text_length :].encode("ascii")
                data = data.translate(_FROM_URLSAFE)
                raw = binascii.a2b_base64(
                    data + _PADDING[len(data) % 4], strict_mode=True
                )
            except (binascii.Error, ValueError) as exc:
                raise DecryptionError("The ciphertext is not valid base64.") from exc
            start = len(current.carry)
            if raw[:start] == current.carry:
                nonce_end = start + NONCE_BYTES
                if len(raw) < nonce_end + TAG_BYTES:
                    raise DecryptionError("The ciphertext is truncated.")
                try:
                    return current.aead.decrypt(
                        raw[start:nonce_end],
                        raw[nonce_end:],
                        current.aad_prefix + context,
                    )
                except InvalidTag as exc:
                    raise DecryptionError(_FAILED) from exc
        parts = token.split("$", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != VERSION:
            raise DecryptionError(_NOT_OURS)
        self._known(parts[1])
        try:
            raw = _b64decode(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("The ciphertext is not valid base64.") from exc
        return self._open(parts[1], raw, 0, context)


def get_cipher() -> EnvelopeCipher:
    """The cipher for the current settings and keyring.

    The cipher is kept beside the keyring it was built for, and only while
    that keyring is current: a settings change clears both at once, so
    finding a cipher is enough to know it belongs to the current settings.
    """
    cipher: EnvelopeCipher | None = _state.get("cipher")
    if cipher is not None:
        return cipher
    keyring = get_keyring()
    with _state_lock:
        cipher = _state.get("cipher")
        if cipher is None or cipher.keyring is not keyring:
            cipher = EnvelopeCipher(keyring)
            if _state.get("keyring") is keyring:
                _state["cipher"] = cipher
        return cipher
