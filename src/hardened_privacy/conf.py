"""Lazy, typed access to the ``HARDENED_PRIVACY_*`` settings."""

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


app_settings = PrivacySettings()
