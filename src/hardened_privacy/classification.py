"""One registry saying how sensitive each model field is.

A field is ``public``, ``internal``, ``personal`` or ``secret``, optionally
with a retention period in days. Declarations come from
``HARDENED_PRIVACY_CLASSIFICATION`` (which wins), from :func:`register`
calls in apps' ``ready()``, and from built-in defaults for Django's own
models. Encrypted fields left undeclared count as ``personal``. Masking uses
the names of personal and secret fields; a system check lists fields no one
classified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.known_models import KNOWN

PUBLIC = "public"
INTERNAL = "internal"
PERSONAL = "personal"
SECRET = "secret"
LEVELS = (PUBLIC, INTERNAL, PERSONAL, SECRET)


@dataclass(frozen=True)
class Classification:
    level: str
    retention_days: int | None = None

    @property
    def sensitive(self) -> bool:
        return self.level in {PERSONAL, SECRET}


_registry: dict[str, dict[str, Classification]] = {}
_cache: dict[str, frozenset[str]] = {}

BUILTIN: dict[str, dict[str, str]] = {
    "auth.user": {
        "password": SECRET,
        "last_login": INTERNAL,
        "is_superuser": INTERNAL,
        "username": PERSONAL,
        "first_name": PERSONAL,
        "last_name": PERSONAL,
        "email": PERSONAL,
        "is_staff": INTERNAL,
        "is_active": INTERNAL,
        "date_joined": INTERNAL,
    },
    "auth.group": {"name": INTERNAL},
    "auth.permission": {"name": PUBLIC, "content_type": PUBLIC, "codename": PUBLIC},
    "contenttypes.contenttype": {"app_label": PUBLIC, "model": PUBLIC},
    "sessions.session": {
        "session_key": SECRET,
        "session_data": SECRET,
        "expire_date": INTERNAL,
    },
    "admin.logentry": {
        "action_time": INTERNAL,
        "user": INTERNAL,
        "content_type": INTERNAL,
        "object_id": INTERNAL,
        "object_repr": PERSONAL,
        "action_flag": INTERNAL,
        "change_message": PERSONAL,
    },
    "hardened_privacy.erasurerecord": dict.fromkeys(
        ("subject", "requested_by", "completed_at", "fields_erased", "retained"),
        INTERNAL,
    ),
    "hardened_privacy.auditrecord": dict.fromkeys(
        (
            "chain",
            "sequence",
            "created_at",
            "event",
            "outcome",
            "actor",
            "tenant",
            "target",
            "ip",
            "logger",
            "level",
            "data",
            "previous_hash",
            "record_hash",
        ),
        INTERNAL,
    ),
    **KNOWN,
}


def _coerce(value: Any, where: str) -> Classification:
    if isinstance(value, Classification):
        result = value
    elif isinstance(value, str):
        result = Classification(value)
    elif isinstance(value, Mapping):
        retention = value.get("retention")
        result = Classification(
            str(value.get("level")), None if retention is None else int(retention)
        )
    else:
        raise HardenedPrivacyConfigurationError(f"{where}: cannot read {value!r}.")
    if result.level not in LEVELS:
        raise HardenedPrivacyConfigurationError(
            f"{where}: level must be one of {', '.join(LEVELS)}."
        )
    return result


def register(model: str | type[models.Model], fields: Mapping[str, Any]) -> None:
    """Declare the classification of ``fields`` of ``model``."""
    label = model if isinstance(model, str) else model._meta.label_lower
    entry = _registry.setdefault(label.lower(), {})
    for name, value in fields.items():
        entry[name] = _coerce(value, f"{label}.{name}")
    _cache.clear()


def _declared(label: str) -> dict[str, Classification]:
    declared = {
        name: Classification(level) for name, level in BUILTIN.get(label, {}).items()
    }
    declared.update(_registry.get(label, {}))
    for key, fields in app_settings.CLASSIFICATION.items():
        if key.lower() == label:
            for name, value in fields.items():
                declared[name] = _coerce(value, f"{key}.{name}")
    return declared


def _classifiable(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "auto_created", False)
    ]


def classify(model: type[models.Model], field_name: str) -> Classification | None:
    """How ``model.field_name`` is classified, or None when nobody said."""
    from hardened_privacy.fields import BlindIndexField, EncryptedFieldMixin

    found = _declared(model._meta.label_lower).get(field_name)
    if found is not None:
        return found
    field = model._meta.get_field(field_name)
    if isinstance(field, EncryptedFieldMixin):
        return Classification(PERSONAL)
    if isinstance(field, BlindIndexField):
        return Classification(INTERNAL)
    return None


def classified_fields(
    model: type[models.Model],
) -> dict[str, Classification | None]:
    return {field.name: classify(model, field.name) for field in _classifiable(model)}


def unclassified_fields() -> list[str]:
    """``app_label.Model.field`` for every field nobody classified."""
    return [
        f"{model._meta.label}.{name}"
        for model in apps.get_models()
        for name, found in classified_fields(model).items()
        if found is None
    ]


def sensitive_field_names() -> frozenset[str]:
    """Names of fields classified ``personal`` or ``secret`` anywhere.

    Computed once per settings change; empty until the app registry is
    ready, so masking works (by pattern and built-in names) during start-up.
    """
    cached = _cache.get("sensitive")
    if cached is not None:
        return cached
    if not apps.ready:
        return frozenset()
    names: set[str] = set()
    for model in apps.get_models():
        for name, found in classified_fields(model).items():
            if found is not None and found.sensitive:
                names.add(name)
    result = frozenset(names)
    _cache["sensitive"] = result
    return result


def reset_cache(**kwargs: Any) -> None:
    setting = kwargs.get("setting")
    if setting is None or str(setting).startswith("HARDENED_PRIVACY_"):
        _cache.clear()
