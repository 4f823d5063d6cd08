"""Bind sessions to the device that signed in, and let users end them.

A signed-in request is checked from its session data alone: timeouts, the
device fingerprint and a pending rotation. The ``UserSession`` row is read
only when the session is about to be saved (after the view, so a session
ended while the request ran is signed out rather than saved again) and when
the session's binding digest does not match its store key, id and user (a
session started before rows held their store key). A row holds a seal of
every store key of its session that may still have an entry, since two
requests that change the key at once each leave one behind. A session is
ended by deleting its row, which deletes the store entry of each key
(:mod:`hardened_auth.internal.session_store`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Field
from django.http import HttpRequest
from django.http.request import HttpHeaders
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings
from hardened_auth.internal import audit, session_store
from hardened_auth.internal.user_agents import device_label
from hardened_auth.models import UserSession

logger = logging.getLogger(__name__)

SID_KEY = "hardened_auth.sid"
FINGERPRINT_KEY = "hardened_auth.fingerprint"
STARTED_KEY = "hardened_auth.started_at"
SEEN_KEY = "hardened_auth.last_seen"
BINDING_KEY = "hardened_auth.binding"
ROTATE_KEY = "hardened_auth.rotate"
SEEN_WRITE_INTERVAL = 60
MAX_SEALS = 8
SEAL_ATTEMPTS = 5
FINGERPRINT_SALT = "hardened_auth.fingerprint"
BINDING_DIGEST_LENGTH = 16

# Set on a request whose session key was rotated for a privilege change.
RENEWED_ATTR = "_hardened_auth_session_renewed"
# Set on a request that refreshed its session's last-seen time.
SEEN_ATTR = "_hardened_auth_session_seen"


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def binding_digest(session_key: str | None, sid: str, user_pk: object) -> str:
    """A short digest of a session's store key, id and owner.

    The session keeps the digest of the key its row holds sealed; while it
    matches, the row holds the session's current key and need not be read.
    """
    if session_key is None:
        return ""
    value = f"{session_key}\x1f{sid}\x1f{user_pk}"
    return hashlib.sha256(value.encode()).hexdigest()[:BINDING_DIGEST_LENGTH]


def is_bound(session: SessionBase, sid: str, user: AbstractBaseUser) -> bool:
    expected = binding_digest(session.session_key, sid, user.pk)
    stored = session.get(BINDING_KEY)
    return bool(expected) and isinstance(stored, str) and stored == expected


@lru_cache(maxsize=8)
def _meta_keys(headers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(HttpHeaders.to_wsgi_name(header) for header in headers)


def fingerprint(request: HttpRequest, secret: str | bytes | None = None) -> str:
    """A keyed hash of the device's user agent and client hints.

    The key is derived from ``secret``, by default ``SECRET_KEY``.
    """
    meta = request.META
    keys = _meta_keys(tuple(app_settings.SESSION_FINGERPRINT_HEADERS))
    values = "\x1f".join(str(meta.get(key, ""))[:512] for key in keys)
    mac = salted_hmac(FINGERPRINT_SALT, values, secret=secret, algorithm="sha256")
    return mac.hexdigest()


def _same_device(request: HttpRequest, stored: object) -> bool:
    """Tell whether ``stored`` is the fingerprint of the request's device.

    A fingerprint made under one of ``SECRET_KEY_FALLBACKS`` also matches,
    and is then made again under ``SECRET_KEY``, so rotating the secret
    does not sign sessions out as if they came from another device.
    """
    if not isinstance(stored, str):
        return False
    current = fingerprint(request)
    if constant_time_compare(stored, current):
        return True
    for secret in settings.SECRET_KEY_FALLBACKS:
        if constant_time_compare(stored, fingerprint(request, secret)):
            request.session[FINGERPRINT_KEY] = current
            return True
    return False


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
    if session.session_key is None:
        session.save()
    hashed = sid_hash(sid)
    UserSession.objects.create(
        user_id=user.pk,
        sid_hash=hashed,
        ip=get_client_ip(request) or None,
        device_label=_device_label(request),
        sealed_store_key=_sealed_key_of(session, hashed),
    )
    session[BINDING_KEY] = binding_digest(session.session_key, sid, user.pk)
    audit.emit("session_created", outcome="success", request=request, actor=user.pk)


def _sealed_key_of(session: SessionBase, hashed: str) -> str:
    key = session.session_key
    if key is None:
        raise RuntimeError("a signed-in session has no store key to seal")
    return session_store.seal(key, hashed)


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

    Every session save and every unbound session runs this lookup, so it
    skips building the query anew and runs the statement compiled for its
    database directly. It reads the database rows are written to, never a
    replica that may still hold a row already deleted.
    """
    alias = router.db_for_write(UserSession)
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
    """End the session if it is revoked, too old, idle or on another device.

    A bound session is checked from its data alone; any other reads its row
    first and is ended when the row is gone or belongs to someone else.
    """
    session = request.session
    sid = session.get(SID_KEY)
    user = request.user
    if not isinstance(sid, str) or not isinstance(user, AbstractBaseUser):
        end(request, "revoked")
        return
    renew = session.get(ROTATE_KEY) is True
    if not is_bound(session, sid, user):
        row = _find_row(sid, user)
        if row is None:
            end(request, "revoked")
            return
        renew = renew or row[1]

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
    if not _same_device(request, session.get(FINGERPRINT_KEY)):
        end(request, "device_mismatch")
        return

    if renew:
        _renew(request)
    if now - seen >= SEEN_WRITE_INTERVAL:
        session[SEEN_KEY] = now
        setattr(request, SEEN_ATTR, True)


def _renew(request: HttpRequest) -> None:
    request.session.pop(ROTATE_KEY, None)
    request.session.cycle_key()
    setattr(request, RENEWED_ATTR, True)
    audit.emit("session_renewed", outcome="success", request=request, cause="privilege")


def _will_be_saved(request: HttpRequest) -> bool:
    """Tell whether ``SessionMiddleware`` saves the session after this request."""
    session = request.session
    return bool(
        session.modified
        or settings.SESSION_SAVE_EVERY_REQUEST
        or (settings.CSRF_USE_SESSIONS and request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))
    )


def settle(request: HttpRequest) -> None:
    """Keep the row in step with a session about to be saved; after the view.

    A session that will be saved, or whose store key changed (a sign-in, a
    second factor, a rotation), confirms its row still exists before it is
    saved: a session whose row was deleted while the request ran is signed
    out instead of saved again. The row then gets the session's current
    store key sealed beside the keys of its other live entries, so ending
    the session deletes every entry it may still be reached by. The row's
    update is the confirmation: a row deleted in between updates nothing
    and the session is signed out.
    """
    session = request.session
    sid = session.get(SID_KEY)
    user = request.user
    if not isinstance(sid, str) or not isinstance(user, AbstractBaseUser):
        return
    bound = is_bound(session, sid, user)
    if bound and not _will_be_saved(request):
        return

    row = _find_row(sid, user)
    if row is None:
        end(request, "revoked")
        return
    row_pk, rotate_pending = row
    renewed = getattr(request, RENEWED_ATTR, False)
    if rotate_pending and not renewed:
        _renew(request)
        renewed = True
    if session.session_key is None:
        session.save()

    changes: dict[str, object] = {}
    if renewed or rotate_pending:
        changes["rotate_pending"] = False
    if getattr(request, SEEN_ATTR, False):
        changes["last_seen_at"] = timezone.now()
    digest = binding_digest(session.session_key, sid, user.pk)
    if session.get(BINDING_KEY) == digest:
        if changes and not UserSession.objects.filter(pk=row_pk).update(**changes):
            end(request, "revoked")
        return
    if not _add_seal(row_pk, session, sid_hash(sid), changes):
        end(request, "revoked")
        return
    session[BINDING_KEY] = digest


def _add_seal(
    row_pk: int, session: SessionBase, hashed: str, changes: dict[str, object]
) -> bool:
    """Seal the session's store key into its row beside the other live keys.

    The row's seals are read, those whose store entries are gone dropped,
    and the new list written only if the row still holds what was read;
    when another request changed the seals in between, they are read
    again, ``SEAL_ATTEMPTS`` times at most. With ``MAX_SEALS`` live keys
    already sealed, the oldest are dropped and their store entries deleted,
    so no live key goes unsealed. ``changes`` are written in the same
    update. Returns whether the key was sealed: not when the row is gone or
    its seals kept changing, and the session is then to be signed out.
    """
    key = session.session_key
    sealed = _sealed_key_of(session, hashed)
    rows = UserSession.objects.using(router.db_for_write(UserSession)).filter(pk=row_pk)
    for _ in range(SEAL_ATTEMPTS):
        current = rows.values_list("sealed_store_key", flat=True).first()
        if current is None:
            return False
        live = [
            (seal, opened)
            for seal, opened in _opened_seals(current, hashed, row_pk)
            if opened != key and session_store.entry_exists(opened)
        ]
        cut = max(len(live) - (MAX_SEALS - 1), 0)
        dropped, kept = live[:cut], live[cut:]
        text = " ".join([*(seal for seal, _ in kept), sealed])
        if rows.filter(sealed_store_key=current).update(
            sealed_store_key=text, **changes
        ):
            for _, opened in dropped:
                session_store.delete_entry(opened)
            return True
    logger.error("the seals of session row %s kept changing; signed out", row_pk)
    return False


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
    """Make every session of the user rotate its key on its next request.

    The rows are marked for sessions that read them, and the store entry of
    each key sealed in them is marked so a bound session rotates without
    reading its row.
    """
    rows = UserSession.objects.using(router.db_for_write(UserSession)).filter(
        user_id=user_id
    )
    rows.update(rotate_pending=True)
    sealed_keys = rows.exclude(sealed_store_key="").values_list(
        "pk", "sid_hash", "sealed_store_key"
    )
    for row_pk, hashed, sealed in sealed_keys:
        for _, key in _opened_seals(sealed, hashed, row_pk):
            session_store.mark_entry(key, ROTATE_KEY, required=SID_KEY)


def _opened_seals(text: str, hashed: str, row_pk: object) -> list[tuple[str, str]]:
    """Each seal in a row's ``text`` that opens, oldest first, with its key.

    A row of an older release holds one seal; one that does not open is
    logged and left out.
    """
    opened = []
    for sealed in text.split():
        key = session_store.open_sealed(sealed, hashed)
        if key is None:
            logger.error("the sealed store key of session row %s does not open", row_pk)
        else:
            opened.append((sealed, key))
    return opened


def store_keys_of(row: UserSession) -> list[str]:
    """The store keys sealed in ``row``, oldest first; none for older rows."""
    return [key for _, key in _opened_seals(row.sealed_store_key, row.sid_hash, row.pk)]
