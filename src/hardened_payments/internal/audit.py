"""Audit events for money movement, in the shape every app shares."""

import logging
from typing import Any, Literal

from django.http import HttpRequest

from hardened_auth.client_ip import get_client_ip

audit_logger = logging.getLogger("hardened_payments.audit")

Outcome = Literal["success", "failure", "denied"]


def emit(
    event: str,
    *,
    outcome: Outcome,
    request: HttpRequest | None = None,
    actor: object = None,
    tenant: object = None,
    target: str | None = None,
    **fields: Any,
) -> None:
    """Log ``event`` on ``hardened_payments.audit`` with structured fields.

    ``fields`` carry amounts in minor units, currencies, idempotency keys and
    provider ids; callers never pass card data, secrets or personal values.
    Nothing is built when the logger would drop the event.
    """
    level = _level(outcome)
    if not audit_logger.isEnabledFor(level):
        return
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user.pk
    record = {
        "event": event,
        "actor": actor,
        "tenant": tenant,
        "target": target,
        "outcome": outcome,
        "ip": get_client_ip(request) or None if request is not None else None,
        **fields,
    }
    audit_logger.log(level, event, extra={"hardened_audit": record})


def _level(outcome: Outcome) -> int:
    return logging.INFO if outcome == "success" else logging.WARNING


def enabled(outcome: Outcome) -> bool:
    """Whether an event with ``outcome`` would be logged now."""
    return audit_logger.isEnabledFor(_level(outcome))
