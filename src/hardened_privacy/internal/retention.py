"""Deleting or anonymising data older than its declared retention."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import and_
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast, Concat, Left
from django.utils import timezone

from hardened_privacy.classification import classify
from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.subject import (
    ERASED,
    anonymous_value,
    erased_per_row,
    sensitive_fields,
    shared_anonymous_value,
)

logger = logging.getLogger(__name__)

ACTIONS = ("anonymise", "delete")


def _holds_anonymous_value(f: models.Field[Any, Any]) -> models.Q | None:
    """Rows whose ``f`` holds its anonymous value, or None if SQL cannot tell."""
    from hardened_privacy.fields import EncryptedFieldMixin

    if erased_per_row(f):
        if isinstance(f, EncryptedFieldMixin):
            return None
        erased: Any = Concat(
            models.Value(f"{ERASED}-"),
            Cast("pk", models.CharField()),
            output_field=models.CharField(),
        )
        if f.max_length:
            erased = Left(erased, f.max_length)
        return models.Q(**{f.name: erased})
    if f.null:
        return models.Q(**{f"{f.name}__isnull": True})
    if isinstance(f, EncryptedFieldMixin):
        return None
    return models.Q(**{f.name: shared_anonymous_value(f)})


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

    def already_anonymous(self) -> models.Q | None:
        """Rows with every field anonymised, when SQL can compare them all.

        Encrypted values are random even for an empty plaintext, so a step
        with a non-null encrypted field is left to :meth:`pending`.
        """
        if self.action != "anonymise" or not self.fields:
            return None
        conditions = [_holds_anonymous_value(f) for f in self.fields]
        if any(c is None for c in conditions):
            return None
        return reduce(and_, (c for c in conditions if c is not None))

    def needs_row_check(self) -> bool:
        return self.action == "anonymise" and self.already_anonymous() is None

    def queryset(self, now: datetime.datetime) -> models.QuerySet[Any]:
        """Expired rows, less those SQL can tell are already anonymised."""
        rows = self.model._base_manager.filter(
            **{f"{self.age_field}__lt": self.cutoff(now)}
        )
        done = self.already_anonymous()
        return rows if done is None else rows.exclude(done)

    def pending(self, instance: models.Model) -> bool:
        """Whether some field of ``instance`` still holds a real value."""
        return self.action == "delete" or any(
            getattr(instance, f.attname) != anonymous_value(f, instance)
            for f in self.fields
        )

    def count_due(self, now: datetime.datetime, chunk_size: int = 500) -> int:
        """Rows the step would change now, reading values only when needed."""
        rows = self.queryset(now)
        if not self.needs_row_check():
            return rows.count()
        names = [f.name for f in self.fields]
        return sum(
            1
            for instance in rows.only("pk", *names).iterator(chunk_size=chunk_size)
            if self.pending(instance)
        )


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


@dataclass
class Progress:
    label: str
    done: int
    due_at_start: int
    batches: int


def apply(
    step: Step,
    batch_size: int = 500,
    now: Any = None,
    *,
    max_batches: int | None = None,
    report: Callable[[Progress], None] | None = None,
) -> Progress:
    """Carry out one step in batches, each committed on its own.

    Rows are walked in primary-key order and rows already anonymised are
    neither rewritten nor counted, so a run stopped by ``max_batches`` or
    an interruption resumes where it left off when started again.
    """
    from hardened_privacy.fields import BlindIndexField

    now = now or timezone.now()
    progress = Progress(step.label, 0, step.count_due(now, batch_size), 0)
    names = [f.name for f in step.fields]
    names += [
        f.name
        for f in step.model._meta.concrete_fields
        if isinstance(f, BlindIndexField) and f.source in names
    ]
    last_pk: Any = None
    while max_batches is None or progress.batches < max_batches:
        window = step.queryset(now).order_by("pk")
        if last_pk is not None:
            window = window.filter(pk__gt=last_pk)
        pks = list(window.values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        with transaction.atomic():
            if step.action == "delete":
                step.model._base_manager.filter(pk__in=pks).delete()
                progress.done += len(pks)
            else:
                rows = step.model._base_manager.select_for_update().filter(pk__in=pks)
                for instance in rows.order_by("pk"):
                    if not step.pending(instance):
                        continue
                    for sensitive in step.fields:
                        setattr(
                            instance,
                            sensitive.attname,
                            anonymous_value(sensitive, instance),
                        )
                    instance.save(update_fields=names)
                    progress.done += 1
        last_pk = pks[-1]
        progress.batches += 1
        if report is not None:
            report(progress)
    logger.info(
        "Retention: %s rows for %s in %s batches.",
        progress.done,
        step.model._meta.label,
        progress.batches,
    )
    return progress
