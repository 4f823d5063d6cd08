"""Emit audit events on the ``hardened_rbac.audit`` logger.

The record's message is the event name and ``extra["hardened_audit"]`` holds
the structured fields every app shares. Callers pass identifiers only: never
a token, secret or personal value.
"""

import logging
from typing import Any, Literal

from hardened_rbac.internal.context import current_actor, current_tenant

audit_logger = logging.getLogger("hardened_rbac.audit")

Outcome = Literal["success", "failure", "denied"]


def emit(
    event: str,
    *,
    outcome: Outcome,
    target: str | None = None,
    tenant: object | None = None,
    actor: object | None = None,
    ip: str | None = None,
    **fields: Any,
) -> None:
    """Log one audit event; WARNING for denials and failures, INFO otherwise.

    The actor, address and tenant default to those of the current context.
    """
    context_actor = current_actor()
    if tenant is None:
        current = current_tenant()
        tenant = current.pk if current is not None else None
    payload: dict[str, Any] = {
        "event": event,
        "actor": str(actor) if actor is not None else context_actor.user_id,
        "tenant": str(tenant) if tenant is not None else None,
        "target": target,
        "outcome": outcome,
        "ip": ip if ip is not None else context_actor.ip,
        **fields,
    }
    level = logging.INFO if outcome == "success" else logging.WARNING
    audit_logger.log(level, event, extra={"hardened_audit": payload})
