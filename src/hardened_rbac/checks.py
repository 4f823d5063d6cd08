"""System checks for the ``HARDENED_RBAC_*`` settings."""

from typing import Any

from django.core.checks import CheckMessage, Error

from hardened_rbac.conf import app_settings

E001_MSG = "HARDENED_RBAC_RESERVED_TENANT_SLUGS must be a list of strings."


def check_reserved_slugs(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.RESERVED_TENANT_SLUGS
    if isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
        return []
    return [
        Error(
            E001_MSG,
            hint="For example ['admin', 'api', 'www'].",
            id="hardened_rbac.E001",
        )
    ]
