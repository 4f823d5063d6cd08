"""Re-encrypting stored values under the active key, in bounded batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.db import connections, models, transaction

from hardened_privacy.internal.envelope import PREFIX, key_prefix

logger = logging.getLogger(__name__)


def encrypted_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    from hardened_privacy.fields import EncryptedFieldMixin

    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedFieldMixin)
    ]


def encrypted_models() -> Iterator[tuple[type[models.Model], list[Any]]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = encrypted_fields(model)
        if fields:
            yield model, fields


def _present(field: models.Field[Any, Any]) -> models.Q:
    return models.Q(**{f"{field.name}__isnull": False})


def stale(fields: list[Any], active_key: str) -> models.Q:
    """Rows where some encrypted field is not under ``active_key``."""
    return reduce(
        or_,
        (
            _present(f)
            & ~models.Q(**{f"{f.name}__ciphertext_startswith": key_prefix(active_key)})
            for f in fields
        ),
    )


def under_key(fields: list[Any], key_id: str) -> models.Q:
    return reduce(
        or_,
        (
            models.Q(**{f"{f.name}__ciphertext_startswith": key_prefix(key_id)})
            for f in fields
        ),
    )


def legacy(fields: list[Any]) -> models.Q:
    """Rows holding a value not in this app's format (e.g. django-cryptography)."""
    return reduce(
        or_,
        (
            _present(f) & ~models.Q(**{f"{f.name}__ciphertext_startswith": PREFIX})
            for f in fields
        ),
    )


def _rewrite(
    model: type[models.Model], fields: list[Any], rows: list[Any], using: str
) -> None:
    """Write each row's values back, encrypted under the active key."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk_column = quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        for field in fields:
            params = [
                (field.get_db_prep_save(value, connection), row.pk)
                for row in rows
                if (value := getattr(row, field.attname)) is not None
            ]
            if params:
                cursor.executemany(
                    f"UPDATE {table} SET {quote(field.column)} = %s "  # noqa: S608
                    f"WHERE {pk_column} = %s",
                    params,
                )


@dataclass
class Progress:
    model: str
    done: int
    pending_at_start: int
    batches: int


def rotate(
    model: type[models.Model],
    fields: list[Any],
    active_key: str,
    *,
    batch_size: int = 500,
    max_batches: int | None = None,
    using: str = "default",
    report: Callable[[Progress], None] | None = None,
) -> Progress:
    """Re-encrypt every stale row of ``model``; each batch commits alone.

    Rows are walked in primary-key order from the last one handled, so
    memory holds one batch at a time and an interrupted run picks up the
    remaining rows when started again.
    """
    manager = model._base_manager.using(using)
    pending = manager.filter(stale(fields, active_key))
    progress = Progress(model._meta.label, 0, pending.count(), 0)
    last_pk: Any = None
    names = [f.name for f in fields]
    while max_batches is None or progress.batches < max_batches:
        window = pending.order_by("pk")
        if last_pk is not None:
            window = window.filter(pk__gt=last_pk)
        pks = list(window.values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        with transaction.atomic(using=using):
            rows = list(
                manager.select_for_update()
                .filter(pk__in=pks)
                .only("pk", *names)
                .order_by("pk")
            )
            _rewrite(model, fields, rows, using)
        last_pk = pks[-1]
        progress.done += len(rows)
        progress.batches += 1
        if report is not None:
            report(progress)
    logger.info(
        "Re-encrypted %s rows of %s in %s batches.",
        progress.done,
        progress.model,
        progress.batches,
    )
    return progress
