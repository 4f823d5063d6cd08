"""Key providers and access to the configured keys.

Configure providers in ``HARDENED_PRIVACY_KEY_PROVIDERS`` and master keys in
``HARDENED_PRIVACY_KEYS``; see ``docs/hardened_privacy_keys.md``.
"""

from hardened_privacy.internal.keyring import get_keyring, key_environment
from hardened_privacy.internal.providers import (
    EnvironmentKeyProvider,
    FileKeyProvider,
    KeyProvider,
    LocalKeyProvider,
)

__all__ = [
    "EnvironmentKeyProvider",
    "FileKeyProvider",
    "KeyProvider",
    "LocalKeyProvider",
    "get_keyring",
    "key_environment",
]
