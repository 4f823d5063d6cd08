"""Key providers: where master keys and site secrets live.

A provider does three things: it returns a named secret, and it wraps and
unwraps data keys under a named master key. Environment and file providers
hold the master key material locally and wrap with AES-GCM; Vault's transit
engine and AWS KMS never reveal the master key and wrap remotely.
"""

import base64
import binascii
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import (
    DecryptionError,
    KeyProviderError,
)

logger = logging.getLogger(__name__)

MASTER_KEY_BYTES = 32
_WRAP_NONCE_BYTES = 12
_WRAP_LABEL = b"hardened_privacy:data-key:v1\x00"


def decode_key_material(material: bytes, reference: str) -> bytes:
    """Decode base64 key material and insist on a 256-bit key."""
    text = material.strip()
    try:
        raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise KeyProviderError(
            f"Key {reference!r} must be {MASTER_KEY_BYTES} random bytes encoded "
            "as base64."
        )
    return raw


class KeyProvider:
    """Base class; subclasses supply secrets and wrap data keys."""

    def __init__(self, alias: str, **options: Any) -> None:
        self.alias = alias
        self.options = options

    def get_secret(self, reference: str) -> bytes:
        """Return the secret stored under ``reference``."""
        raise NotImplementedError

    def wrap_data_key(self, key_id: str, reference: str, data_key: bytes) -> bytes:
        """Encrypt ``data_key`` under the master key ``reference``."""
        raise NotImplementedError

    def unwrap_data_key(self, key_id: str, reference: str, wrapped: bytes) -> bytes:
        """Decrypt a data key wrapped by :meth:`wrap_data_key`."""
        raise NotImplementedError


class LocalKeyProvider(KeyProvider):
    """A provider whose master keys are base64 secrets it can read itself."""

    def _master(self, reference: str) -> AESGCM:
        return AESGCM(decode_key_material(self.get_secret(reference), reference))

    def wrap_data_key(self, key_id: str, reference: str, data_key: bytes) -> bytes:
        nonce = os.urandom(_WRAP_NONCE_BYTES)
        aad = _WRAP_LABEL + key_id.encode()
        return nonce + self._master(reference).encrypt(nonce, data_key, aad)

    def unwrap_data_key(self, key_id: str, reference: str, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:_WRAP_NONCE_BYTES], wrapped[_WRAP_NONCE_BYTES:]
        aad = _WRAP_LABEL + key_id.encode()
        try:
            return self._master(reference).decrypt(nonce, body, aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(
                f"The data key for {key_id!r} does not open under its master key."
            ) from exc


DEVELOPMENT_ENVIRONMENTS = frozenset({"development", "test"})


class EnvironmentKeyProvider(LocalKeyProvider):
    """Secrets and master keys read from environment variables.

    ``OPTIONS`` may set ``PREFIX``, prepended to every reference, and
    ``DEVELOPMENT_DEFAULTS``, values used when a variable is unset; those are
    honoured only while ``HARDENED_PRIVACY_ENVIRONMENT`` is ``development``
    or ``test`` (or ``OPTIONS["ENVIRONMENT"]``, for use in settings files),
    and a deploy check reports them.
    """

    def _in_development(self) -> bool:
        environment = self.options.get("ENVIRONMENT") or app_settings.ENVIRONMENT
        return environment in DEVELOPMENT_ENVIRONMENTS

    def get_secret(self, reference: str) -> bytes:
        name = str(self.options.get("PREFIX", "")) + reference
        value = os.environ.get(name)
        defaults = self.options.get("DEVELOPMENT_DEFAULTS") or {}
        if not value and name in defaults and self._in_development():
            value = defaults.get(name)
        if not value:
            raise KeyProviderError(
                f"Provider {self.alias!r}: the environment variable {name} is not set."
            )
        return value.encode()


class FileKeyProvider(LocalKeyProvider):
    """Secrets and master keys read from files, as Docker and Kubernetes mount.

    ``OPTIONS["DIRECTORY"]`` is the folder; a reference is a file name in it,
    never a path that leaves it.
    """

    def _directory(self) -> Path:
        directory = self.options.get("DIRECTORY")
        if not directory:
            raise KeyProviderError(
                f"Provider {self.alias!r} needs OPTIONS['DIRECTORY']."
            )
        return Path(str(directory)).resolve()

    def get_secret(self, reference: str) -> bytes:
        directory = self._directory()
        path = (directory / reference).resolve()
        if path.parent != directory or reference in {"", ".", ".."}:
            raise KeyProviderError(
                f"Provider {self.alias!r}: {reference!r} is not a file name."
            )
        try:
            value = path.read_bytes().strip()
        except OSError as exc:
            raise KeyProviderError(
                f"Provider {self.alias!r}: cannot read secret file {reference!r}."
            ) from exc
        if not value:
            raise KeyProviderError(
                f"Provider {self.alias!r}: secret file {reference!r} is empty."
            )
        return value
