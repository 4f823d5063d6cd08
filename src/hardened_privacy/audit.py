"""Logging handler and formatter for every app's audit events.

Apps log audit events on ``hardened_<app>.audit`` with
``extra={"hardened_audit": {"event": ..., "actor": ..., "tenant": ...,
"target": ..., "outcome": ..., "ip": ..., ...}}``. Attach
:class:`AuditLogHandler` to those loggers to store the events in the
hash-chained :class:`~hardened_privacy.models.AuditRecord` table, and
:class:`AuditJSONFormatter` to any stream handler for one JSON object per
line. Both add the id :class:`~hardened_privacy.middleware.RequestIdMiddleware`
bound for the request (``request_id``), so one request's events can be found
together.
"""

import datetime
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from hardened_privacy.internal import request_id

AUDIT_ATTRIBUTE = "hardened_audit"
REQUEST_ID_FIELD = "request_id"

_guard = threading.local()

# A job or management command binds its own id the way the middleware does:
# ``with bind_request_id("nightly-retention"): ...``.
bind_request_id = request_id.bound
current_request_id = request_id.current


class AuditJSONFormatter(logging.Formatter):
    """One JSON object per record; newlines in values cannot forge lines."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(
                record.created, tz=datetime.UTC
            ).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.current()
        if current:
            document[REQUEST_ID_FIELD] = current
        payload = getattr(record, AUDIT_ATTRIBUTE, None)
        if isinstance(payload, Mapping):
            document["audit"] = _with_request_id(payload)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=True, sort_keys=True)


def _with_request_id(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` with the bound request id, unless it names one itself."""
    data = dict(payload)
    current = request_id.current()
    if current and REQUEST_ID_FIELD not in data:
        data[REQUEST_ID_FIELD] = current
    return data


class AuditLogHandler(logging.Handler):
    """Stores records that carry ``hardened_audit`` in the audit chain.

    Records without it are ignored, so the handler may sit on a parent
    logger. A failure to store is reported through ``handleError`` (to
    stderr), never swallowed silently and never raised into the caller.
    """

    def __init__(self, level: int = logging.NOTSET, using: str = "default") -> None:
        super().__init__(level)
        self.using = using

    def emit(self, record: logging.LogRecord) -> None:
        payload = getattr(record, AUDIT_ATTRIBUTE, None)
        if not isinstance(payload, Mapping) or getattr(_guard, "active", False):
            return
        _guard.active = True
        try:
            from hardened_privacy.internal.audit import AuditEvent, append
            from hardened_privacy.masking import scrub

            event = AuditEvent.from_payload(
                scrub(_with_request_id(payload)), record.name, record.levelname
            )
            append(event, using=self.using)
        except Exception:
            self.handleError(record)
        finally:
            _guard.active = False
