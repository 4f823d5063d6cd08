"""Lazy, typed access to the ``HARDENED_PAYMENTS_*`` settings."""

from django.conf import settings

PREFIX = "HARDENED_PAYMENTS_"


class PaymentsSettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def DEFAULT_CURRENCY(self) -> str:
        """ISO 4217 code used when a caller names no currency."""
        return str(self._get("DEFAULT_CURRENCY", "USD"))


app_settings = PaymentsSettings()
