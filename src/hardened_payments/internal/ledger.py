"""Posting transfers: validation, row locking, idempotent transfer ids.

On PostgreSQL a transfer is posted by the ``hardened_payments_post_transfer``
function (migration ``0008_ledger_post_function``) in one statement; other
databases post through the ORM with the same checks made here.

The statement is sent with its parameters apart from its text (server-side
binding), through Django's cursor wrapper, so the execute wrappers, query
logging and error translation apply as to any other query.
"""

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.asyncio import async_unsafe

from hardened_payments.exceptions import (
    InsufficientFunds,
    InvalidTransfer,
    LedgerError,
    TransferConflict,
    UnbalancedTransfer,
)
from hardened_payments.internal import audit
from hardened_payments.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)

MAX_TRANSFER_ID_LENGTH = 200
INSERT_COLUMNS = (
    "tenant_id",
    "transfer_id",
    "description",
    "content_digest",
    "reverses_id",
    "created_at",
)
TRANSFER_FIELDS = ["id", *INSERT_COLUMNS]
POST_FUNCTION_SQL = (
    "SELECT transfer_pk, transfer_created_at, posted"
    " FROM hardened_payments_post_transfer("
    "%s, %s, %s, %s, %s, %s, %s::bigint[], %s::bigint[], %s::text[])"
)
ACCOUNT_MISSING = "A leg names an account that does not exist."
FOREIGN_ACCOUNT = "A leg names another tenant's account."
WRONG_CURRENCY = "A leg's currency differs from its account's currency."
UNCLAIMED = "The transfer id could not be claimed."
TOO_FEW_LEGS = "A transfer needs at least two legs."
POSTGRES_REFUSALS = {
    "HPL01": ACCOUNT_MISSING,
    "HPL02": FOREIGN_ACCOUNT,
    "HPL03": WRONG_CURRENCY,
    "HPL07": UNCLAIMED,
    "HPL08": TOO_FEW_LEGS,
}


@dataclass(frozen=True, slots=True)
class Leg:
    """``amount`` added to ``account`` (negative to take it away)."""

    account: LedgerAccount
    amount: Money


def _validate_shape(transfer_id: str, legs: Sequence[Leg]) -> None:
    if not isinstance(transfer_id, str) or not transfer_id.strip():
        raise InvalidTransfer("A transfer needs a non-empty transfer id.")
    if len(transfer_id) > MAX_TRANSFER_ID_LENGTH:
        raise InvalidTransfer("The transfer id is too long.")
    if len(legs) < 2:
        raise InvalidTransfer(TOO_FEW_LEGS)
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount, Money) or leg.amount.amount == 0:
            raise InvalidTransfer("Every leg needs a non-zero Money amount.")
        if leg.account.pk is None:
            raise InvalidTransfer("Every leg needs a saved account.")
        totals[leg.amount.currency] += leg.amount.amount
    unbalanced = sorted(code for code, total in totals.items() if total != 0)
    if unbalanced:
        raise _unbalanced(", ".join(unbalanced))


def content_digest(
    legs: Sequence[Leg], description: str, reverses: LedgerTransfer | None
) -> str:
    """Digest of what a transfer does, independent of the order of its legs."""
    canonical = {
        "legs": sorted(
            [leg.account.pk, leg.amount.currency, leg.amount.amount] for leg in legs
        ),
        "description": description,
        "reverses": reverses.pk if reverses is not None else None,
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _unbalanced(currencies: str) -> UnbalancedTransfer:
    return UnbalancedTransfer(
        "The legs do not sum to zero in %(currencies)s.",
        code="unbalanced",
        params={"currencies": currencies},
    )


def _overdrawn(code: str) -> InsufficientFunds:
    return InsufficientFunds(
        "Account %(code)s would be overdrawn.",
        code="insufficient_funds",
        params={"code": code},
    )


def _conflict(tenant: Tenant, transfer_id: str) -> TransferConflict:
    audit.emit(
        "ledger_transfer_conflict",
        outcome="failure",
        tenant=tenant.pk,
        target=transfer_id,
    )
    return TransferConflict(
        "Transfer id %(id)s was already used for a different transfer.",
        code="conflict",
        params={"id": transfer_id},
    )


def _existing(tenant: Tenant, transfer_id: str, digest: str) -> LedgerTransfer | None:
    found = LedgerTransfer.objects.filter(
        tenant=tenant, transfer_id=transfer_id
    ).first()
    if found is None:
        return None
    if found.content_digest != digest:
        raise _conflict(tenant, transfer_id)
    return found


def _lock_and_check(tenant: Tenant, legs: Sequence[Leg]) -> dict[int, int]:
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account.pk] += leg.amount.amount
    locked = list(
        LedgerAccount.objects.select_for_update().filter(pk__in=deltas).order_by("pk")
    )
    accounts = {account.pk: account for account in locked}
    if len(accounts) != len(deltas):
        raise InvalidTransfer(ACCOUNT_MISSING)

    for leg in legs:
        account = accounts[leg.account.pk]
        if account.tenant_id != tenant.pk:
            raise InvalidTransfer(FOREIGN_ACCOUNT)
        if account.currency != leg.amount.currency:
            raise InvalidTransfer(WRONG_CURRENCY)
    for pk, delta in deltas.items():
        account = accounts[pk]
        if not account.allow_negative and account.balance + delta < 0:
            raise _overdrawn(account.code)
    return deltas


def _insert_transfer(
    tenant: Tenant,
    transfer_id: str,
    description: str,
    digest: str,
    reverses: LedgerTransfer | None,
) -> LedgerTransfer | None:
    """Insert the journal row; ``None`` if the id is already taken.

    ``ON CONFLICT DO NOTHING`` waits for a concurrent transaction holding the
    same id and then yields to it, without a savepoint round trip.
    """
    transfer = LedgerTransfer(
        tenant=tenant,
        transfer_id=transfer_id,
        description=description,
        content_digest=digest,
        reverses=reverses,
        created_at=timezone.now(),
    )
    table = connection.ops.quote_name(LedgerTransfer._meta.db_table)
    columns = ", ".join(INSERT_COLUMNS)
    conflict = "tenant_id, transfer_id"
    placeholders = ", ".join(["%s"] * len(INSERT_COLUMNS))
    values: list[Any] = [
        tenant.pk,
        transfer_id,
        description,
        digest,
        reverses.pk if reverses is not None else None,
        connection.ops.adapt_datetimefield_value(transfer.created_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    transfer.pk = row[0]
    transfer._state.adding = False
    return transfer


def _post_with_orm(
    tenant: Tenant,
    transfer_id: str,
    legs: Sequence[Leg],
    description: str,
    digest: str,
    reverses: LedgerTransfer | None,
) -> tuple[LedgerTransfer, bool]:
    with transaction.atomic():
        transfer = _insert_transfer(tenant, transfer_id, description, digest, reverses)
        if transfer is None:
            existing = _existing(tenant, transfer_id, digest)
            if existing is None:
                raise InvalidTransfer(UNCLAIMED)
            return existing, False
        deltas = _lock_and_check(tenant, legs)
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                transfer=transfer,
                account_id=leg.account.pk,
                amount=leg.amount.amount,
                currency=leg.amount.currency,
            )
            for leg in legs
        )
        for pk, delta in deltas.items():
            LedgerAccount.objects.filter(pk=pk).add_to_balance(delta)
    return transfer, True


def _refusal(
    error: DatabaseError, tenant: Tenant, transfer_id: str
) -> LedgerError | None:
    """The ledger exception for a refusal of the posting function, if it is one."""
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    diag = getattr(cause, "diag", None)
    detail = str(getattr(diag, "message_detail", None) or "")
    if sqlstate == "HPL04":
        return _overdrawn(detail)
    if sqlstate == "HPL05":
        return _unbalanced(detail)
    if sqlstate == "HPL06":
        return _conflict(tenant, transfer_id)
    if sqlstate in POSTGRES_REFUSALS:
        return InvalidTransfer(POSTGRES_REFUSALS[sqlstate])
    return None


def _integer_array(values: Sequence[int]) -> str:
    """``values`` as a PostgreSQL array literal, for a ``bigint[]`` parameter."""
    return "{" + ",".join([f"{value:d}" for value in values]) + "}"


def _text_array(values: Sequence[str]) -> str:
    """``values`` as a PostgreSQL array literal, for a ``text[]`` parameter.

    Every element is double-quoted with its backslashes and double quotes
    escaped, so commas, braces, spaces and the word NULL stay plain text.
    """
    quoted = [
        '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values
    ]
    return "{" + ",".join(quoted) + "}"


def _post_with_function(
    tenant: Tenant,
    transfer_id: str,
    legs: Sequence[Leg],
    description: str,
    digest: str,
    reverses: LedgerTransfer | None,
) -> tuple[LedgerTransfer, bool]:
    """Post through ``hardened_payments_post_transfer`` in one statement.

    Outside a transaction the statement is its own transaction, so the
    deferred balance triggers run when it ends. Inside one, a savepoint keeps
    the caller's transaction usable after a refusal.
    """
    db = connections[DEFAULT_DB_ALIAS]
    params = [
        tenant.pk,
        transfer_id,
        description,
        digest,
        reverses.pk if reverses is not None else None,
        timezone.now(),
        _integer_array([leg.account.pk for leg in legs]),
        _integer_array([leg.amount.amount for leg in legs]),
        _text_array([leg.amount.currency for leg in legs]),
    ]
    try:
        if db.get_autocommit():
            row = _call_post_function(db, params)
        else:
            with transaction.atomic(using=db.alias):
                row = _call_post_function(db, params)
    except DatabaseError as error:
        refusal = _refusal(error, tenant, transfer_id)
        if refusal is None:
            raise
        raise refusal from error

    pk, created_at, posted = row
    transfer = LedgerTransfer.from_db(
        db.alias,
        TRANSFER_FIELDS,
        [
            pk,
            tenant.pk,
            transfer_id,
            description,
            digest,
            reverses.pk if reverses is not None else None,
            created_at,
        ],
    )
    LedgerTransfer.tenant.field.set_cached_value(transfer, tenant)
    LedgerTransfer.reverses.field.set_cached_value(transfer, reverses)
    return transfer, bool(posted)


@async_unsafe
def _binding_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor of ``db`` that binds parameters on the server.

    Django's own PostgreSQL cursor renders parameters into the SQL text. This
    one takes the same steps as :meth:`BaseDatabaseWrapper.cursor` around a
    server-binding cursor: health check, connection, thread check, time zone
    of loaded timestamps, and the wrapper that runs the execute wrappers,
    logs the query when queries are logged and translates driver errors.
    The connection's ``prepare_threshold`` (``OPTIONS``, off by default)
    decides whether the statement is prepared.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.postgres import types
    from psycopg.pq import Format

    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        cursor: Any = ServerBindingCursor(db.connection)  # type: ignore[call-arg]
    loader = db.connection.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)
    if db.timezone != getattr(loader, "timezone", None):
        register_tzloader(db.timezone, cursor)
    if db.queries_logged:
        return db.make_debug_cursor(cursor)
    return db.make_cursor(cursor)


def _call_post_function(db: BaseDatabaseWrapper, params: list[Any]) -> tuple[Any, ...]:
    with _binding_cursor(db) as cursor:
        cursor.execute(POST_FUNCTION_SQL, params)
        row = cursor.fetchone()
    if row is None:
        raise InvalidTransfer(UNCLAIMED)
    return tuple(row)


def post(
    tenant: Tenant,
    transfer_id: str,
    legs: Sequence[Leg],
    *,
    description: str = "",
    reverses: LedgerTransfer | None = None,
) -> LedgerTransfer:
    _validate_shape(transfer_id, legs)
    digest = content_digest(legs, description, reverses)

    poster = (
        _post_with_function if connection.vendor == "postgresql" else _post_with_orm
    )
    transfer, posted = poster(tenant, transfer_id, legs, description, digest, reverses)
    if not posted or not audit.enabled("success"):
        return transfer

    audit.emit(
        "ledger_transfer_posted",
        outcome="success",
        tenant=tenant.pk,
        target=transfer_id,
        legs=[[leg.account.pk, leg.amount.amount, leg.amount.currency] for leg in legs],
    )
    return transfer
