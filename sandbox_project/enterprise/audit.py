"""Every change made in the admin becomes an event in the audit chain."""

import logging
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry

audit_logger = logging.getLogger("enterprise.audit")

EVENTS = {
    ADDITION: "admin_object_created",
    CHANGE: "admin_object_changed",
    DELETION: "admin_object_deleted",
}


def admin_action_logged(
    sender: Any, instance: LogEntry, created: bool, **kwargs: Any
) -> None:
    """``post_save`` receiver for the admin's own log of actions."""
    if not created:
        return
    event = EVENTS.get(instance.action_flag, "admin_action")
    content_type = instance.content_type
    model = (
        f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    )
    audit_logger.info(
        event,
        extra={
            "hardened_audit": {
                "event": event,
                "actor": str(instance.user_id),
                "tenant": None,
                "target": f"{model}:{instance.object_id}",
                "outcome": "success",
                "ip": None,
            }
        },
    )
