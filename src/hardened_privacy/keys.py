"""Key providers and access to the configured keys.

Configure providers in ``HARDENED_PRIVACY_KEY_PROVIDERS`` and master keys in
``HARDENED_PRIVACY_KEYS``; see ``docs/hardened_privacy_keys.md``.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.module_loading import import_string

from hardened_privacy.exceptions import KeyProviderError
from hardened_privacy.internal.keyring import get_keyring, key_environment
from hardened_privacy.internal.providers import (
    EnvironmentKeyProvider,
    FileKeyProvider,
    KeyProvider,
    LocalKeyProvider,
)
from hardened_privacy.internal.remote_providers import (
    AwsKmsKeyProvider,
    VaultTransitKeyProvider,
)

__all__ = [
    "AwsKmsKeyProvider",
    "EnvironmentKeyProvider",
    "FileKeyProvider",
    "KeyProvider",
    "LocalKeyProvider",
    "VaultTransitKeyProvider",
    "get_keyring",
    "key_environment",
    "read_secret",
    "read_secrets",
]


def _provider(provider: Mapping[str, Any]) -> KeyProvider:
    backend = import_string(str(provider["BACKEND"]))
    instance = backend("settings", **dict(provider.get("OPTIONS", {})))
    if not isinstance(instance, KeyProvider):
        raise KeyProviderError(f"{provider['BACKEND']} is not a KeyProvider.")
    return instance


def read_secret(provider: Mapping[str, Any], reference: str) -> str:
    """Read one secret in a settings file, before Django is set up.

    ``provider`` is a ``{"BACKEND": ..., "OPTIONS": {...}}`` mapping, as in
    ``HARDENED_PRIVACY_KEY_PROVIDERS``. A missing secret raises, so the
    process refuses to start without it.
    """
    return _provider(provider).get_secret(reference).decode()


def read_secrets(
    provider: Mapping[str, Any], references: Iterable[str], missing_ok: bool = False
) -> list[str]:
    """Read several secrets (e.g. ``SECRET_KEY_FALLBACKS``), in order."""
    instance = _provider(provider)
    values = []
    for reference in references:
        try:
            values.append(instance.get_secret(reference).decode())
        except KeyProviderError:
            if not missing_ok:
                raise
    return values
