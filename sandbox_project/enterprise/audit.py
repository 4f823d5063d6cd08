"""Every change made in the admin becomes an event in the audit chain.

The admin writes a ``LogEntry`` for each addition, change and deletion.
Single entries are saved one by one and reach :func:`admin_action_logged`
through ``post_save``; the entries of "delete selected" are written with
``bulk_create``, which sends no signal, so :class:`AuditedDeletions` audits
whatever ``ModelAdmin.log_deletions`` wrote and the signal did not see.
"""

import logging
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.http import HttpRequest

audit_logger = logging.getLogger("enterprise.audit")

EVENTS = {
    ADDITION: "admin_object_created",
    CHANGE: "admin_object_changed",
    DELETION: "admin_object_deleted",
}
AUDITED = "_enterprise_audited"


def audit_entry(entry: LogEntry) -> None:
    """Emit the audit event for one admin log entry, once."""
    if getattr(entry, AUDITED, False):
        return
    setattr(entry, AUDITED, True)

    event = EVENTS.get(entry.action_flag, "admin_action")
    content_type = entry.content_type
    model = (
        f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    )
    audit_logger.info(
        event,
        extra={
            "hardened_audit": {
                "event": event,
                "actor": str(entry.user_id),
                "tenant": None,
                "target": f"{model}:{entry.object_id}",
                "outcome": "success",
                "ip": None,
            }
        },
    )


def admin_action_logged(
    sender: Any, instance: LogEntry, created: bool, **kwargs: Any
) -> None:
    """``post_save`` receiver for the admin's own log of actions."""
    if created:
        audit_entry(instance)


class AuditedDeletions(admin.ModelAdmin):  # type: ignore[type-arg]
    """Audit the log entries of a deletion, however the admin wrote them."""

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        entries = super().log_deletions(request, queryset)
        for entry in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(entry, LogEntry):
                audit_entry(entry)
        return entries
