"""System checks for the ``HARDENED_PRIVACY_*`` settings."""

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error

from hardened_privacy.conf import app_settings
from hardened_privacy.internal.keyring import KEY_ID, key_environment

E001_MSG = "HARDENED_PRIVACY_ENVIRONMENT must be a short lower-case name."
E002_MSG = "HARDENED_PRIVACY_KEY_PROVIDERS must map aliases to {'BACKEND': ...}."
E003_MSG = (
    "HARDENED_PRIVACY_KEYS must map key ids like 'production/2026-01' to "
    "{'PROVIDER': alias, 'REFERENCE': name} with a configured provider."
)
E004_MSG = "HARDENED_PRIVACY_ACTIVE_KEY must name a key in HARDENED_PRIVACY_KEYS."
E005_MSG = "A key in HARDENED_PRIVACY_KEYS belongs to another environment."
E006_MSG = "Models use encrypted fields but HARDENED_PRIVACY_ACTIVE_KEY is not set."

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def check_environment(**kwargs: Any) -> list[CheckMessage]:
    if _ENVIRONMENT.match(app_settings.ENVIRONMENT):
        return []
    return [
        Error(
            E001_MSG,
            hint="For example 'development', 'staging' or 'production'.",
            id="hardened_privacy.E001",
        )
    ]


def _providers_valid(providers: object) -> bool:
    if not isinstance(providers, dict):
        return False
    return all(
        isinstance(alias, str)
        and isinstance(spec, dict)
        and isinstance(spec.get("BACKEND"), str)
        and isinstance(spec.get("OPTIONS", {}), dict)
        for alias, spec in providers.items()
    )


def _keys_valid(keys: object, providers: dict[str, Any]) -> bool:
    if not isinstance(keys, dict):
        return False
    return all(
        isinstance(key_id, str)
        and KEY_ID.match(key_id) is not None
        and isinstance(spec, dict)
        and spec.get("PROVIDER") in providers
        and isinstance(spec.get("REFERENCE"), str)
        and bool(spec["REFERENCE"])
        for key_id, spec in keys.items()
    )


def _models_use_encryption() -> bool:
    from hardened_privacy.fields import EncryptedFieldMixin

    return any(
        isinstance(field, EncryptedFieldMixin)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
    )


def check_keys(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    providers = getattr(settings, "HARDENED_PRIVACY_KEY_PROVIDERS", {})
    keys = getattr(settings, "HARDENED_PRIVACY_KEYS", {})
    active = app_settings.ACTIVE_KEY
    if not _providers_valid(providers):
        messages.append(
            Error(
                E002_MSG,
                hint="For example {'env': {'BACKEND': "
                "'hardened_privacy.keys.EnvironmentKeyProvider'}}.",
                id="hardened_privacy.E002",
            )
        )
        providers = {}
    if not _keys_valid(keys, providers):
        messages.append(
            Error(
                E003_MSG,
                hint="Key ids start with the environment name and a slash.",
                id="hardened_privacy.E003",
            )
        )
        return messages
    if active is not None and active not in keys:
        messages.append(
            Error(
                E004_MSG,
                hint="Add the key to HARDENED_PRIVACY_KEYS or fix the id.",
                id="hardened_privacy.E004",
            )
        )
    foreign = sorted(k for k in keys if key_environment(k) != app_settings.ENVIRONMENT)
    if foreign:
        messages.append(
            Error(
                E005_MSG,
                hint=f"HARDENED_PRIVACY_ENVIRONMENT is "
                f"{app_settings.ENVIRONMENT!r}; remove or replace: "
                f"{', '.join(foreign)}.",
                id="hardened_privacy.E005",
            )
        )
    if active is None and _models_use_encryption():
        messages.append(
            Error(
                E006_MSG,
                hint="Configure a master key; see docs/hardened_privacy_keys.md.",
                id="hardened_privacy.E006",
            )
        )
    return messages
