"""Lazy, typed access to the ``HARDENED_PRIVACY_*`` settings."""

from typing import Any

from django.conf import settings

PREFIX = "HARDENED_PRIVACY_"


class PrivacySettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def ENVIRONMENT(self) -> str:
        """Name of this deployment; keys are bound to one environment."""
        return str(self._get("ENVIRONMENT", "development"))

    @property
    def KEY_PROVIDERS(self) -> dict[str, dict[str, Any]]:
        """Provider alias to ``{"BACKEND": dotted path, "OPTIONS": {...}}``."""
        value = self._get("KEY_PROVIDERS", {})
        return value if isinstance(value, dict) else {}

    @property
    def KEYS(self) -> dict[str, dict[str, Any]]:
        """Master key id to ``{"PROVIDER": alias, "REFERENCE": name}``."""
        value = self._get("KEYS", {})
        return value if isinstance(value, dict) else {}

    @property
    def ACTIVE_KEY(self) -> str | None:
        """Id of the master key that wraps new data keys; others only read."""
        value = self._get("ACTIVE_KEY", None)
        return None if value is None else str(value)

    @property
    def BLIND_INDEX_KEY(self) -> dict[str, Any] | None:
        """``{"PROVIDER", "REFERENCE"}`` of the HMAC key for blind indexes."""
        value = self._get("BLIND_INDEX_KEY", None)
        return value if isinstance(value, dict) else None

    @property
    def AUDIT_KEY(self) -> dict[str, Any] | None:
        """``{"PROVIDER", "REFERENCE"}`` of the HMAC key chaining audit rows."""
        value = self._get("AUDIT_KEY", None)
        return value if isinstance(value, dict) else None

    @property
    def DATA_KEY_MAX_USES(self) -> int:
        """Values one data key encrypts before a fresh data key is made."""
        return int(str(self._get("DATA_KEY_MAX_USES", 2**24)))


app_settings = PrivacySettings()
