"""Reading values written by django-cryptography, so they can be rotated.

django-cryptography stored ``0x80 | timestamp (8) | IV (16) | AES-CBC
ciphertext | HMAC-SHA256 (32)``: the AES key is PBKDF2-SHA256 (30,000
rounds, salt ``CRYPTOGRAPHY_SALT``) of ``CRYPTOGRAPHY_KEY`` or
``SECRET_KEY``, the HMAC key is ``SECRET_KEY`` itself, and the plaintext is
a pickle. Only reading is supported: the HMAC is checked first, and the
pickle is opened by an unpickler that builds nothing but plain data, dates
and decimals. hardened_privacy never writes pickles.
"""

import hashlib
import hmac
import io
import pickle
import struct
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import DecryptionError
from hardened_privacy.internal.keyring import _state, _state_lock, get_keyring

VERSION = b"\x80"
HEADER = struct.calcsize(">cQ")
IV_BYTES = 16
MAC_BYTES = 32
ITERATIONS = 30000

_ALLOWED = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        if (module, name) not in _ALLOWED:
            raise DecryptionError(
                f"A legacy value refers to {module}.{name}, which is not plain data."
            )
        found: Callable[..., Any] = super().find_class(module, name)
        return found


class LegacyKey:
    def __init__(self, secret_key: bytes, cryptography_key: bytes, salt: bytes):
        self.mac_key = secret_key
        self.aes_key = PBKDF2HMAC(
            algorithm=SHA256(), length=32, salt=salt, iterations=ITERATIONS
        ).derive(cryptography_key)

    def open(self, token: bytes) -> bytes | None:
        """The plaintext, or None when this key did not sign ``token``."""
        body, mac = token[:-MAC_BYTES], token[-MAC_BYTES:]
        expected = hmac.new(self.mac_key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        iv, ciphertext = body[HEADER : HEADER + IV_BYTES], body[HEADER + IV_BYTES :]
        if not ciphertext or len(ciphertext) % 16:
            raise DecryptionError("A legacy value has a malformed ciphertext.")
        decryptor = Cipher(algorithms.AES(self.aes_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise DecryptionError("A legacy value has broken padding.") from exc


def configured() -> bool:
    return bool(app_settings.LEGACY_DJANGO_CRYPTOGRAPHY)


def _keys() -> list[LegacyKey]:
    with _state_lock:
        cached = _state.get("legacy_keys")
    if isinstance(cached, list):
        return cached
    keyring = get_keyring()
    keys = []
    for index, spec in enumerate(app_settings.LEGACY_DJANGO_CRYPTOGRAPHY):
        where = f"HARDENED_PRIVACY_LEGACY_DJANGO_CRYPTOGRAPHY[{index}]"
        secret = keyring.secret(spec.get("SECRET_KEY"), where + "['SECRET_KEY']")
        crypto = (
            keyring.secret(spec["CRYPTOGRAPHY_KEY"], where + "['CRYPTOGRAPHY_KEY']")
            if spec.get("CRYPTOGRAPHY_KEY")
            else secret
        )
        salt = str(spec.get("SALT", "django-cryptography")).encode()
        keys.append(LegacyKey(secret, crypto, salt))
    with _state_lock:
        _state["legacy_keys"] = keys
    return keys


def as_token(value: Any) -> bytes | None:
    """The raw legacy token in a stored value, or None if it is not one."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, str):
        text = value[2:] if value.startswith("\\x") else value
        try:
            value = bytes.fromhex(text)
        except ValueError:
            return None
    if not isinstance(value, bytes):
        return None
    if len(value) < HEADER + IV_BYTES + 16 + MAC_BYTES or value[:1] != VERSION:
        return None
    return value


def decrypt(value: Any) -> Any:
    """Open a django-cryptography value with a configured legacy key."""
    token = as_token(value)
    if token is None:
        raise DecryptionError("The value is not a django-cryptography ciphertext.")
    for key in _keys():
        plaintext = key.open(token)
        if plaintext is not None:
            try:
                return _DataOnlyUnpickler(io.BytesIO(plaintext)).load()
            except DecryptionError:
                raise
            except Exception as exc:
                raise DecryptionError("A legacy value does not unpickle.") from exc
    raise DecryptionError("No legacy key opens this django-cryptography value.")
