"""A data subject's records: export, anonymisation and erasure."""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from hardened_privacy.classification import SECRET, classify
from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.models import ErasureRecord

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("hardened_privacy.audit")

ERASED = "erased"


def subject_models() -> Iterator[tuple[type[models.Model], str]]:
    """Every model with rows belonging to a user, and the path to the user."""
    user_model = get_user_model()
    yield user_model, "pk"
    for model in apps.get_models():
        if model is user_model or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is user_model:
                yield model, field.name


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)


def export_subject(user_pk: Any) -> dict[str, Any]:
    """Every classified field of every row that belongs to the user."""
    document: dict[str, Any] = {"subject": str(user_pk), "records": {}}
    for model, path in subject_models():
        rows = []
        for instance in model._base_manager.filter(**{path: user_pk}).order_by("pk"):
            row: dict[str, Any] = {"id": _plain(instance.pk)}
            for field in model._meta.concrete_fields:
                found = classify(model, field.name)
                if found is None or field.primary_key:
                    continue
                if found.level == SECRET:
                    row[field.name] = "[withheld: secret]"
                else:
                    row[field.name] = _plain(getattr(instance, field.attname))
            rows.append(row)
        if rows:
            document["records"][model._meta.label] = rows
    return document


def erased_per_row(field: models.Field[Any, Any]) -> bool:
    """Whether the field's anonymous value names the row, to stay unique."""
    return bool(field.unique) and isinstance(field, models.CharField)


def anonymous_value(field: models.Field[Any, Any], instance: models.Model) -> Any:
    """A value that keeps the row valid while saying nothing about anyone."""
    if erased_per_row(field):
        return f"{ERASED}-{instance.pk}"[: field.max_length]
    return shared_anonymous_value(field)


def shared_anonymous_value(field: models.Field[Any, Any]) -> Any:
    """The anonymous value of a field that need not differ between rows."""
    if field.null:
        return None
    if isinstance(field, models.CharField | models.TextField):
        return ""
    if isinstance(field, models.BooleanField):
        return False
    if field.has_default():
        return field.get_default()
    raise HardenedPrivacyConfigurationError(
        f"{field.model._meta.label}.{field.name} cannot be anonymised: make it "
        "nullable, give it a default, or classify it as internal."
    )


def sensitive_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    fields = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        found = classify(model, field.name)
        if found is not None and found.sensitive:
            fields.append(field)
    return fields


def anonymise(instance: models.Model) -> int:
    """Overwrite the instance's personal and secret fields; return how many."""
    from hardened_privacy.fields import BlindIndexField

    fields = sensitive_fields(type(instance))
    names = []
    for field in fields:
        setattr(instance, field.attname, anonymous_value(field, instance))
        names.append(field.name)
    for field in type(instance)._meta.concrete_fields:
        if isinstance(field, BlindIndexField) and field.source in names:
            names.append(field.name)
    if names:
        instance.save(update_fields=names)
    return len(fields)


def _append_ledger(subject: str, completed_at: datetime.datetime) -> None:
    path = app_settings.ERASURE_LEDGER
    if not path:
        return
    line = json.dumps({"subject": subject, "completed_at": completed_at.isoformat()})
    with open(path, "a", encoding="utf-8") as ledger:
        ledger.write(line + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())


def erase_subject(user_pk: Any, requested_by: str = "") -> ErasureRecord:
    """Anonymise the user's personal data everywhere but on legal hold."""
    held = {
        label.lower(): reason
        for label, reason in app_settings.LEGAL_HOLD_MODELS.items()
    }
    erased = 0
    retained: list[dict[str, Any]] = []
    user_model = get_user_model()
    with transaction.atomic():
        for model, path in subject_models():
            rows = model._base_manager.select_for_update().filter(**{path: user_pk})
            reason = held.get(model._meta.label_lower)
            if reason is not None:
                count = rows.count()
                if count:
                    retained.append(
                        {"model": model._meta.label, "rows": count, "reason": reason}
                    )
                continue
            for instance in rows.order_by("pk"):
                erased += anonymise(instance)
                if model is user_model:
                    instance.set_unusable_password()  # type: ignore[attr-defined]
                    instance.is_active = False  # type: ignore[attr-defined]
                    instance.save(update_fields=["password", "is_active"])
        completed_at = timezone.now()
        record = ErasureRecord.objects.create(
            subject=str(user_pk),
            requested_by=requested_by,
            completed_at=completed_at,
            fields_erased=erased,
            retained=retained,
        )
    _append_ledger(str(user_pk), completed_at)
    audit_logger.info(
        "privacy_subject_erased",
        extra={
            "hardened_audit": {
                "event": "privacy_subject_erased",
                "actor": requested_by or None,
                "tenant": None,
                "target": f"user:{user_pk}",
                "outcome": "success",
                "ip": None,
                "fields_erased": erased,
            }
        },
    )
    return record


def ledger_subjects() -> list[str]:
    """Subjects erased according to the ledger file and the table."""
    subjects = set(ErasureRecord.objects.values_list("subject", flat=True))
    path = app_settings.ERASURE_LEDGER
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as ledger:
            for number, line in enumerate(ledger, start=1):
                if not line.strip():
                    continue
                try:
                    subjects.add(str(json.loads(line)["subject"]))
                except (ValueError, KeyError, TypeError) as exc:
                    raise HardenedPrivacyConfigurationError(
                        f"Erasure ledger line {number} is not readable."
                    ) from exc
    return sorted(subjects)
