"""Lazy, typed access to the ``HARDENED_RBAC_*`` settings."""

from collections.abc import Sequence

from django.conf import settings

PREFIX = "HARDENED_RBAC_"

DEFAULT_RESERVED_SLUGS = ("admin", "api", "www", "static", "media", "accounts")


class RbacSettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def RESERVED_TENANT_SLUGS(self) -> Sequence[str]:
        """Slugs no tenant may take, because URLs or subdomains use them."""
        value = self._get("RESERVED_TENANT_SLUGS", DEFAULT_RESERVED_SLUGS)
        return value  # type: ignore[return-value]


app_settings = RbacSettings()
