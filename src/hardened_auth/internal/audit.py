"""Emit audit events on the ``hardened_auth.audit`` logger.

The record's message is the event name and ``extra["hardened_audit"]`` holds
the structured fields shared by every app. Callers pass identifiers only:
never a password, code, token or secret.
"""

import logging
from typing import Any, Literal

from django.http import HttpRequest

from hardened_auth.client_ip import get_client_ip

audit_logger = logging.getLogger("hardened_auth.audit")

Outcome = Literal["success", "failure", "denied"]


def _actor_of(request: HttpRequest | None) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return None


def emit(
    event: str,
    *,
    outcome: Outcome,
    request: HttpRequest | None = None,
    actor: object | None = None,
    target: str | None = None,
    **fields: Any,
) -> None:
    """Log one audit event; WARNING for denials and failures, INFO otherwise."""
    level = logging.INFO if outcome == "success" else logging.WARNING
    if not audit_logger.isEnabledFor(level):
        return
    payload: dict[str, Any] = {
        "event": event,
        "actor": str(actor) if actor is not None else _actor_of(request),
        "tenant": None,
        "target": target,
        "outcome": outcome,
        "ip": get_client_ip(request) if request is not None else None,
        **fields,
    }
    audit_logger.log(level, event, extra={"hardened_audit": payload})
