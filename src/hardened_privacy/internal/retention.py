"""Deleting or anonymising data older than its declared retention."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from hardened_privacy.classification import classify
from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.subject import anonymous_value, sensitive_fields

logger = logging.getLogger(__name__)

ACTIONS = ("anonymise", "delete")


@dataclass
class Step:
    model: type[models.Model]
    action: str
    age_field: str
    days: int
    fields: list[models.Field[Any, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        names = ", ".join(f.name for f in self.fields)
        what = f"anonymise {names}" if self.action == "anonymise" else "delete rows"
        return f"{self.model._meta.label}: {what} older than {self.days} days"

    def cutoff(self, now: datetime.datetime) -> datetime.datetime:
        return now - datetime.timedelta(days=self.days)

    def queryset(self, now: datetime.datetime) -> models.QuerySet[Any]:
        rows = self.model._base_manager.filter(
            **{f"{self.age_field}__lt": self.cutoff(now)}
        )
        if self.action == "anonymise" and all(f.null for f in self.fields):
            present = (models.Q(**{f"{f.name}__isnull": False}) for f in self.fields)
            rows = rows.filter(reduce(or_, present))
        return rows


def _days_for(model: type[models.Model], name: str, policy_days: Any) -> int | None:
    found = classify(model, name)
    if found is None:
        return None
    if found.retention_days is not None:
        return found.retention_days
    if policy_days is not None:
        return int(policy_days)
    return app_settings.RETENTION_DAYS.get(found.level)


def plan() -> list[Step]:
    """The retention steps the settings and classifications call for."""
    steps: list[Step] = []
    for label, policy in app_settings.RETENTION_MODELS.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError) as exc:
            raise HardenedPrivacyConfigurationError(
                f"HARDENED_PRIVACY_RETENTION_MODELS names unknown model {label!r}."
            ) from exc
        action = str(policy.get("ACTION", "anonymise"))
        age_field = str(policy.get("AGE_FIELD", ""))
        if action not in ACTIONS or not age_field:
            raise HardenedPrivacyConfigurationError(
                f"HARDENED_PRIVACY_RETENTION_MODELS[{label!r}] needs an AGE_FIELD "
                f"and an ACTION of {' or '.join(ACTIONS)}."
            )
        grouped: dict[int, list[models.Field[Any, Any]]] = {}
        for sensitive in sensitive_fields(model):
            days = _days_for(model, sensitive.name, policy.get("DAYS"))
            if days is not None:
                grouped.setdefault(days, []).append(sensitive)
        if action == "delete":
            candidates = list(grouped) + (
                [int(policy["DAYS"])] if policy.get("DAYS") is not None else []
            )
            if candidates:
                steps.append(Step(model, action, age_field, min(candidates)))
            continue
        for days, fields in sorted(grouped.items()):
            steps.append(Step(model, action, age_field, days, fields))
    return steps


def apply(step: Step, batch_size: int = 500, now: Any = None) -> int:
    """Carry out one step in batches; return the number of rows changed."""
    from hardened_privacy.fields import BlindIndexField

    now = now or timezone.now()
    done = 0
    last_pk: Any = None
    while True:
        window = step.queryset(now).order_by("pk")
        if last_pk is not None:
            window = window.filter(pk__gt=last_pk)
        pks = list(window.values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        with transaction.atomic():
            if step.action == "delete":
                step.model._base_manager.filter(pk__in=pks).delete()
            else:
                names = [f.name for f in step.fields]
                names += [
                    f.name
                    for f in step.model._meta.concrete_fields
                    if isinstance(f, BlindIndexField) and f.source in names
                ]
                for instance in step.model._base_manager.select_for_update().filter(
                    pk__in=pks
                ):
                    for sensitive in step.fields:
                        setattr(
                            instance,
                            sensitive.attname,
                            anonymous_value(sensitive, instance),
                        )
                    instance.save(update_fields=names)
        done += len(pks)
        last_pk = pks[-1]
    logger.info("Retention: %s rows for %s.", done, step.model._meta.label)
    return done
