"""The id of the request being served, for every audit record it causes."""

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

# What an upstream id may look like: short, and nothing a log line or a
# header could be forged with.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hardened_privacy_request_id", default=None
)


def current() -> str | None:
    """The id bound to the running request or job, if any."""
    return _current.get()


def new() -> str:
    return uuid.uuid4().hex


def accept(upstream: str | None) -> str:
    """``upstream`` if it is a well-formed id, otherwise a fresh one."""
    if upstream and _ACCEPTABLE.fullmatch(upstream):
        return upstream
    return new()


@contextmanager
def bound(request_id: str) -> Iterator[str]:
    """Bind ``request_id`` for the duration of the block."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)
