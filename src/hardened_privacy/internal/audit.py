"""Appending to and verifying the hash-chained audit log."""

import datetime
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import (
    AuditChainError,
    HardenedPrivacyConfigurationError,
)
from hardened_privacy.internal.keyring import _state, _state_lock, get_keyring
from hardened_privacy.models import AuditRecord

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("hardened_privacy.audit")

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"
MIN_KEY_BYTES = 32
MAX_DATA_BYTES = 8192
OUTCOMES = frozenset({"success", "failure", "denied"})
_INSERT_ATTEMPTS = 5
_LIMITS = {"event": 120, "actor": 64, "tenant": 64, "target": 255, "ip": 45}
_CORE = ("event", "outcome", "actor", "tenant", "target", "ip")


def _key() -> bytes:
    keyring = get_keyring()
    with _state_lock:
        cached = _state.get("audit_key")
    if isinstance(cached, bytes):
        return cached
    key = keyring.secret(app_settings.AUDIT_KEY, "HARDENED_PRIVACY_AUDIT_KEY")
    if len(key) < MIN_KEY_BYTES:
        raise HardenedPrivacyConfigurationError(
            f"HARDENED_PRIVACY_AUDIT_KEY must be at least {MIN_KEY_BYTES} bytes long."
        )
    with _state_lock:
        _state["audit_key"] = key
    return key


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    value = getattr(value, "pk", value)
    return str(value)[:limit]


def chain_for(tenant: str) -> str:
    return f"tenant:{tenant}" if tenant else GLOBAL_CHAIN


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    text = json.dumps(dict(data), default=str, sort_keys=True)
    if len(text.encode()) > MAX_DATA_BYTES:
        return {"truncated": True, "size": len(text.encode())}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class AuditEvent:
    """An audit event reduced to what is stored, with bounded sizes."""

    event: str
    outcome: str
    actor: str
    tenant: str
    target: str
    ip: str
    logger: str
    level: str
    data: dict[str, Any]

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], logger_name: str, level: str
    ) -> "AuditEvent":
        fields = {
            name: _text(payload.get(name), _LIMITS.get(name, 16)) for name in _CORE
        }
        if not fields["event"]:
            raise AuditChainError("An audit event needs an event name.")
        if fields["outcome"] not in OUTCOMES:
            fields["outcome"] = "invalid:" + fields["outcome"][:8]
        extra = {k: v for k, v in payload.items() if k not in _CORE}
        return cls(
            logger=logger_name[:120],
            level=level[:10],
            data=_json_safe(extra),
            **fields,
        )


def record_digest(
    key: bytes,
    previous_hash: str,
    chain: str,
    sequence: int,
    created_at: datetime.datetime,
    values: Mapping[str, Any],
) -> str:
    body = {
        "chain": chain,
        "sequence": sequence,
        "created_at": created_at.astimezone(datetime.UTC).isoformat(),
        **{name: values[name] for name in (*_CORE, "logger", "level", "data")},
    }
    message = (
        previous_hash.encode()
        + b"\n"
        + json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _lock_chain(using: str, chain: str) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(b"hardened_privacy.audit:" + chain.encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def append(event: AuditEvent, using: str = "default") -> AuditRecord:
    """Add ``event`` to the end of its tenant's chain.

    On PostgreSQL a transaction-scoped advisory lock per chain serialises
    writers; everywhere the unique ``(chain, sequence)`` constraint refuses
    a fork, and a writer that loses the race retries on the new head.
    """
    key = _key()
    chain = chain_for(event.tenant)
    values = {
        name: getattr(event, name) for name in (*_CORE, "logger", "level", "data")
    }
    for _attempt in range(_INSERT_ATTEMPTS):
        try:
            with transaction.atomic(using=using):
                _lock_chain(using, chain)
                head = (
                    AuditRecord.objects.using(using)
                    .filter(chain=chain)
                    .order_by("-sequence")
                    .values_list("sequence", "record_hash")
                    .first()
                )
                sequence, previous = (head[0] + 1, head[1]) if head else (1, GENESIS)
                created_at = timezone.now()
                return AuditRecord.objects.using(using).create(
                    chain=chain,
                    sequence=sequence,
                    created_at=created_at,
                    previous_hash=previous,
                    record_hash=record_digest(
                        key, previous, chain, sequence, created_at, values
                    ),
                    **values,
                )
        except IntegrityError:
            continue
    raise AuditChainError(f"Could not append to audit chain {chain!r}: contention.")


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    record_id: int | None
    sequence: int
    reason: str


def verify_chain(chain: str, using: str = "default") -> tuple[int, ChainBreak | None]:
    """Walk ``chain`` in order; return the count and the first break, if any."""
    key = _key()
    expected_sequence, previous = 1, GENESIS
    count = 0
    rows: Iterator[AuditRecord] = (
        AuditRecord.objects.using(using)
        .filter(chain=chain)
        .order_by("sequence")
        .iterator(chunk_size=2000)
    )
    for row in rows:
        count += 1
        if row.sequence != expected_sequence:
            return count, ChainBreak(
                chain,
                row.pk,
                row.sequence,
                f"expected sequence {expected_sequence}: records are missing",
            )
        if not hmac.compare_digest(row.previous_hash, previous):
            return count, ChainBreak(
                chain, row.pk, row.sequence, "does not link to the previous record"
            )
        values = {
            name: getattr(row, name) for name in (*_CORE, "logger", "level", "data")
        }
        digest = record_digest(
            key, previous, chain, row.sequence, row.created_at, values
        )
        if not hmac.compare_digest(row.record_hash, digest):
            return count, ChainBreak(
                chain, row.pk, row.sequence, "its contents were altered"
            )
        previous = row.record_hash
        expected_sequence += 1
    return count, None


def chains(using: str = "default") -> list[str]:
    return list(
        AuditRecord.objects.using(using)
        .order_by("chain")
        .values_list("chain", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class ChainReport:
    chain: str
    count: int
    problem: ChainBreak | None


def verify_chains(
    selected: list[str] | None = None, using: str = "default"
) -> list[ChainReport]:
    """Verify ``selected`` chains, or every chain, in name order."""
    return [
        ChainReport(chain, *verify_chain(chain, using))
        for chain in selected or chains(using)
    ]


def emit(
    event: str,
    *,
    outcome: str,
    actor: object = None,
    ip: str | None = None,
    target: str | None = None,
    **fields: Any,
) -> None:
    """Log one of this app's audit events; WARNING unless it succeeded."""
    payload: dict[str, Any] = {
        "event": event,
        "actor": None if actor is None else str(actor),
        "tenant": None,
        "target": target,
        "outcome": outcome,
        "ip": ip,
        **fields,
    }
    level = logging.INFO if outcome == "success" else logging.WARNING
    audit_logger.log(level, event, extra={"hardened_audit": payload})
