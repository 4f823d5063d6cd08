"""The configured providers and master keys, built once per settings change."""

import logging
import re
import threading
from typing import Any

from django.utils.module_loading import import_string

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import (
    HardenedPrivacyConfigurationError,
    KeyProviderError,
    UnknownKeyError,
)
from hardened_privacy.internal.providers import KeyProvider

logger = logging.getLogger(__name__)

KEY_ID = re.compile(r"^[a-z][a-z0-9-]{0,31}/[A-Za-z0-9._-]{1,64}$")


def key_environment(key_id: str) -> str:
    """The environment a key id belongs to: the part before the slash."""
    return key_id.split("/", 1)[0]


class Keyring:
    """Providers by alias and master keys by id, from the settings."""

    def __init__(
        self,
        providers: dict[str, dict[str, Any]],
        keys: dict[str, dict[str, Any]],
        active_key: str | None,
    ) -> None:
        self._provider_specs = providers
        self._providers: dict[str, KeyProvider] = {}
        self.keys = keys
        self.active_key = active_key
        self._lock = threading.Lock()

    def provider(self, alias: str) -> KeyProvider:
        with self._lock:
            if alias in self._providers:
                return self._providers[alias]
            spec = self._provider_specs.get(alias)
            if not isinstance(spec, dict) or "BACKEND" not in spec:
                raise KeyProviderError(f"No key provider is configured as {alias!r}.")
            try:
                backend = import_string(str(spec["BACKEND"]))
            except ImportError as exc:
                raise KeyProviderError(
                    f"Key provider {alias!r} names a backend that cannot be imported."
                ) from exc
            provider = backend(alias, **dict(spec.get("OPTIONS", {})))
            if not isinstance(provider, KeyProvider):
                raise KeyProviderError(f"Key provider {alias!r} is not a KeyProvider.")
            self._providers[alias] = provider
            return provider

    def secret(self, spec: dict[str, Any] | None, setting: str) -> bytes:
        """Read a secret described by ``{"PROVIDER": ..., "REFERENCE": ...}``."""
        if not spec or "PROVIDER" not in spec or "REFERENCE" not in spec:
            raise HardenedPrivacyConfigurationError(
                f"{setting} must name a PROVIDER and a REFERENCE."
            )
        return self.provider(str(spec["PROVIDER"])).get_secret(str(spec["REFERENCE"]))

    def master(self, key_id: str) -> tuple[KeyProvider, str]:
        spec = self.keys.get(key_id)
        if not isinstance(spec, dict):
            raise UnknownKeyError(f"Key id {key_id!r} is not configured.")
        return self.provider(str(spec.get("PROVIDER"))), str(spec.get("REFERENCE"))

    def require_active_key(self) -> str:
        key_id = self.active_key
        if not key_id or key_id not in self.keys:
            raise HardenedPrivacyConfigurationError(
                "HARDENED_PRIVACY_ACTIVE_KEY must name a key in HARDENED_PRIVACY_KEYS."
            )
        if key_environment(key_id) != app_settings.ENVIRONMENT:
            raise HardenedPrivacyConfigurationError(
                f"Key {key_id!r} belongs to another environment than "
                f"{app_settings.ENVIRONMENT!r}."
            )
        return key_id

    def retired_keys(self) -> list[str]:
        return sorted(k for k in self.keys if k != self.active_key)


_state: dict[str, Any] = {}
_state_lock = threading.Lock()


def get_keyring() -> Keyring:
    """The keyring for the current settings, built on first use."""
    with _state_lock:
        keyring = _state.get("keyring")
        if keyring is None:
            keyring = Keyring(
                app_settings.KEY_PROVIDERS,
                app_settings.KEYS,
                app_settings.ACTIVE_KEY,
            )
            _state["keyring"] = keyring
        assert isinstance(keyring, Keyring)
        return keyring


def reset_keyring(**kwargs: Any) -> None:
    """Forget the keyring and every cached data key (after a settings change)."""
    setting = kwargs.get("setting")
    if setting is not None and not str(setting).startswith("HARDENED_PRIVACY_"):
        return
    with _state_lock:
        _state.clear()
