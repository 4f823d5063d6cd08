"""Bind sessions to the device that signed in, and let users end them."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from functools import lru_cache
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Field
from django.http import HttpRequest
from django.http.request import HttpHeaders
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings
from hardened_auth.internal import audit
from hardened_auth.internal.user_agents import device_label
from hardened_auth.models import UserSession

logger = logging.getLogger(__name__)

SID_KEY = "hardened_auth.sid"
FINGERPRINT_KEY = "hardened_auth.fingerprint"
STARTED_KEY = "hardened_auth.started_at"
SEEN_KEY = "hardened_auth.last_seen"
SEEN_WRITE_INTERVAL = 60
FINGERPRINT_SALT = "hardened_auth.fingerprint"


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@lru_cache(maxsize=8)
def _meta_keys(headers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(HttpHeaders.to_wsgi_name(header) for header in headers)


def fingerprint(request: HttpRequest) -> str:
    """A keyed hash of the device's user agent and client hints."""
    meta = request.META
    keys = _meta_keys(tuple(app_settings.SESSION_FINGERPRINT_HEADERS))
    values = "\x1f".join(str(meta.get(key, ""))[:512] for key in keys)
    return salted_hmac(FINGERPRINT_SALT, values, algorithm="sha256").hexdigest()


def _device_label(request: HttpRequest) -> str:
    return device_label(
        str(request.META.get("HTTP_USER_AGENT", "")),
        str(request.META.get("HTTP_SEC_CH_UA_PLATFORM", "")),
    )


def start(request: HttpRequest, user: AbstractBaseUser) -> None:
    """Record a new signed-in session; called when a user signs in."""
    sid = secrets.token_urlsafe(32)
    now = int(time.time())
    session = request.session
    session[SID_KEY] = sid
    session[FINGERPRINT_KEY] = fingerprint(request)
    session[STARTED_KEY] = now
    session[SEEN_KEY] = now
    UserSession.objects.create(
        user_id=user.pk,
        sid_hash=sid_hash(sid),
        ip=get_client_ip(request) or None,
        device_label=_device_label(request),
    )
    audit.emit("session_created", outcome="success", request=request, actor=user.pk)


def end(request: HttpRequest, reason: str) -> None:
    """Sign the request's session out and audit why."""
    actor = getattr(request.user, "pk", None)
    forget(request)
    audit.emit(
        "session_expired",
        outcome="denied" if reason == "device_mismatch" else "success",
        request=request,
        actor=actor,
        cause=reason,
    )
    logger.warning("session of user %s ended: %s", actor, reason)
    logout(request)


_LOOKUP_SID = "hardened_auth.lookup.sid"
_lookup_sql: dict[str, str] = {}


def _compiled_lookup(alias: str) -> str:
    """The SQL of the per-request row lookup on ``alias``, compiled once.

    The statement selects by the session hash alone, a unique column, so its
    only parameter is that hash, whatever type the user model's key has.
    """
    sql = _lookup_sql.get(alias)
    if sql is None:
        queryset = (
            UserSession.objects.using(alias)
            .filter(sid_hash=_LOOKUP_SID)
            .values_list("pk", "rotate_pending", "user_id")
        )
        sql, params = queryset.query.get_compiler(alias).as_sql()
        if list(params) != [_LOOKUP_SID]:
            raise RuntimeError("the session lookup compiled to unexpected parameters")
        _lookup_sql[alias] = sql
    return sql


def owner_matches(key: Field[Any, Any], stored: object, pk: object) -> bool:
    """Tell whether the user id ``stored`` in a row is the user key ``pk``.

    A backend returns a key column in the type it stores it as (a UUID is a
    hex string on SQLite and a ``uuid.UUID`` on PostgreSQL), so both sides
    are brought to the key field's Python type before they are compared.
    """
    try:
        return bool(key.to_python(stored) == key.to_python(pk))
    except ValidationError:
        return False


def _find_row(sid: str, user: AbstractBaseUser) -> tuple[int, bool] | None:
    """Return the id and rotation flag of the row of ``sid`` owned by ``user``.

    Every signed-in request runs this lookup, so it skips building the query
    anew and runs the statement compiled for its database directly.
    """
    alias = router.db_for_read(UserSession)
    with connections[alias].cursor() as cursor:
        cursor.execute(_compiled_lookup(alias), [sid_hash(sid)])
        row = cursor.fetchone()
    if row is None or not owner_matches(_user_key(), row[2], user.pk):
        return None
    return int(row[0]), bool(row[1])


def _user_key() -> Field[Any, Any]:
    field = UserSession._meta.get_field("user")
    return field.target_field


def check(request: HttpRequest) -> None:
    """End the session if it is revoked, too old, idle or on another device."""
    session = request.session
    sid = session.get(SID_KEY)
    user = request.user
    row = (
        _find_row(sid, user)
        if isinstance(sid, str) and isinstance(user, AbstractBaseUser)
        else None
    )
    if row is None:
        end(request, "revoked")
        return
    row_pk, rotate_pending = row

    now = int(time.time())
    started = session.get(STARTED_KEY)
    seen = session.get(SEEN_KEY)
    if (
        not isinstance(started, int)
        or now - started > app_settings.SESSION_ABSOLUTE_TIMEOUT
    ):
        end(request, "absolute_timeout")
        return
    if not isinstance(seen, int) or now - seen > app_settings.SESSION_IDLE_TIMEOUT:
        end(request, "idle_timeout")
        return
    stored = session.get(FINGERPRINT_KEY)
    if not isinstance(stored, str) or not constant_time_compare(
        stored, fingerprint(request)
    ):
        end(request, "device_mismatch")
        return

    if rotate_pending:
        session.cycle_key()
        UserSession.objects.filter(pk=row_pk).update(rotate_pending=False)
        audit.emit(
            "session_renewed", outcome="success", request=request, cause="privilege"
        )
    if now - seen >= SEEN_WRITE_INTERVAL:
        session[SEEN_KEY] = now
        UserSession.objects.filter(pk=row_pk).update(last_seen_at=timezone.now())


def forget(request: HttpRequest) -> int:
    """Delete the row of the request's session (on sign-out).

    Only a row of the signed-in user is deleted, so a session that carries
    another user's session id cannot end that user's session.
    """
    sid = request.session.get(SID_KEY)
    user = getattr(request, "user", None)
    if not isinstance(sid, str) or not isinstance(user, AbstractBaseUser):
        return 0
    count, _ = UserSession.objects.filter(
        sid_hash=sid_hash(sid), user_id=user.pk
    ).delete()
    return count


def end_other_sessions(request: HttpRequest | None, user: AbstractBaseUser) -> int:
    """Delete every session row of ``user`` except the request's own."""
    rows = UserSession.objects.filter(user_id=user.pk)
    sid = request.session.get(SID_KEY) if request is not None else None
    if isinstance(sid, str):
        rows = rows.exclude(sid_hash=sid_hash(sid))
    count, _ = rows.delete()
    if count:
        audit.emit(
            "session_expired",
            outcome="success",
            request=request,
            actor=user.pk,
            cause="ended_by_account_change",
            count=count,
        )
    return count


def mark_privileges_changed(user_id: int | str) -> None:
    """Make every session of the user rotate its key on its next request."""
    UserSession.objects.filter(user_id=user_id).update(rotate_pending=True)
