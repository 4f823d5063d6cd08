"""Cached decisions, keyed under versions that signals replace.

A decision is cached under the current version tokens of three scopes: the
whole site (site-wide roles, guardian permissions), the tenant (its roles,
and any change to one of its scoped rows) and the user (memberships, grants,
groups, the account itself). Changing anything in a scope replaces its token
with a new random one, so every decision cached under the old token is never
read again. A token that the cache evicted, or that does not read back as a
token, is replaced too, never reset, so an eviction cannot bring an old
namespace back.

An entry is a short string: the answer, the moment it stops counting and an
HMAC, keyed by ``SECRET_KEY``, of both together with the entry's key and the
three tokens it was decided under. The tokens themselves are not stored in
it: an entry counts only while its HMAC matches the tokens read with it, so a
replaced token, an entry moved to another key and an altered answer all read
as a miss, and so does anything that does not parse.

The tokens and the entry are read together in one round trip. On Django's
Redis backend the read goes to the first (primary) server, so a replica's lag
cannot hide a revocation, through one client kept for the cache instead of a
new one per read.

Nothing is saved when a grant expires, so no token changes then: an entry
decided while the user held a grant that expires later is kept only until
that moment, and is read as missing after it. No entry counts beyond the
cache timeout it was stored with, whatever the cache's own expiry says.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import pickle
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeGuard
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import (
    RedisCache,
    RedisCacheClient,
    RedisSerializer,
)
from django.db import models

from hardened_rbac.conf import app_settings
from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.grants import next_expiry

logger = logging.getLogger(__name__)

PREFIX = "hardened_rbac:v1"
SITE = f"{PREFIX}:site"
MAC_SALT = b"hardened_rbac.decisions"
TOKEN_LENGTH = 32

Scope = tuple[str, str, str]

UNREADABLE = object()

_signers: dict[str, hmac.HMAC] = {}


def _cache() -> BaseCache:
    return caches[app_settings.DECISION_CACHE]


def tenant_key(tenant_id: Any) -> str:
    return f"{PREFIX}:tenant:{tenant_id}"


def user_key(user_id: Any) -> str:
    return f"{PREFIX}:user:{user_id}"


def scope_keys(tenant_id: Any, user_id: Any) -> tuple[str, str, str]:
    return SITE, tenant_key(tenant_id), user_key(user_id)


def bump(*keys: str) -> None:
    """Give each scope a new token; old decisions under it are never read."""
    try:
        _cache().set_many({key: _new_token() for key in keys}, timeout=None)
    except Exception:
        logger.exception("Could not invalidate cached decisions for %s", keys)


def _new_token() -> str:
    return uuid.uuid4().hex


def _is_token(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == TOKEN_LENGTH


class _Primary(NamedTuple):
    client: Any
    loads: Callable[[bytes], object]


_primaries: WeakKeyDictionary[BaseCache, _Primary | None] = WeakKeyDictionary()


def _primary(cache: BaseCache) -> _Primary | None:
    """Django's Redis client on the cache's first server, kept for the cache.

    ``None`` for every other backend, and for a Redis backend with a client
    class of its own, which may place keys on servers of its choosing.
    """
    if cache in _primaries:
        return _primaries[cache]
    primary = None
    if isinstance(cache, RedisCache) and type(cache._cache) is RedisCacheClient:
        serializer = getattr(cache._cache, "_serializer", None)
        loads = getattr(serializer, "loads", None)
        if type(serializer) is RedisSerializer:
            # It pickles everything but integers, and no value here is one.
            loads = pickle.loads
        if loads is not None:
            primary = _Primary(cache._cache.get_client(write=True), loads)
    _primaries[cache] = primary
    return primary


def read(cache: BaseCache, keys: Sequence[str]) -> dict[str, object]:
    """The values stored under ``keys``, in one round trip.

    On Redis a value that does not deserialize reads as ``UNREADABLE``,
    which is neither a token nor an entry.
    """
    primary = _primary(cache)
    if primary is None:
        return cache.get_many(keys)
    raw = primary.client.mget([cache.make_key(key) for key in keys])
    found: dict[str, object] = {}
    for key, value in zip(keys, raw, strict=True):
        if value is None:
            continue
        try:
            found[key] = primary.loads(value)
        except Exception:
            logger.warning("Unreadable decision cache value under %s", key)
            found[key] = UNREADABLE
    return found


def _scope(found: dict[str, object], keys: Sequence[str]) -> Scope | None:
    site, tenant, user = (found.get(key) for key in keys)
    if _is_token(site) and _is_token(tenant) and _is_token(user):
        return site, tenant, user
    return None


def versions(tenant_id: Any, user_id: Any) -> Scope:
    """The current tokens of the site, the tenant and the user.

    A missing token is added, so concurrent readers agree on one; a value
    that is not a token is replaced. A token the cache does not keep is a
    new one on every read, so nothing decided under it is read again.
    """
    keys = scope_keys(tenant_id, user_id)
    cache = _cache()
    found = read(cache, keys)
    scope = _scope(found, keys)
    if scope is not None:
        return scope
    for key in keys:
        if key not in found:
            cache.add(key, _new_token(), timeout=None)
        elif not _is_token(found[key]):
            cache.set(key, _new_token(), timeout=None)
    found = read(cache, keys)
    site, tenant, user = (
        value if _is_token(value) else _new_token()
        for value in (found.get(key) for key in keys)
    )
    return site, tenant, user


def decision_key(user_id: Any, tenant_id: Any, action: str, obj: models.Model) -> str:
    raw = "|".join(
        (str(user_id), str(tenant_id), action, obj._meta.label_lower, str(obj.pk))
    )
    return f"{PREFIX}:d:" + hashlib.sha256(raw.encode()).hexdigest()


def _signer() -> hmac.HMAC:
    secret: str = settings.SECRET_KEY
    signer = _signers.get(secret)
    if signer is None:
        key = hashlib.sha256(MAC_SALT + b"\x00" + secret.encode()).digest()
        signer = hmac.new(key, digestmod=hashlib.sha256)
        _signers.clear()
        _signers[secret] = signer
    return signer


def _mac(key: str, scope: Scope, answer: str, until: str) -> str:
    mac = _signer().copy()
    mac.update("\x00".join((key, *scope, answer, until)).encode())
    return mac.hexdigest()


def entry(key: str, scope: Scope, allowed: bool, until: float) -> str:
    """The stored form of a decision made under ``scope``."""
    answer = "1" if allowed else "0"
    moment = repr(float(until))
    return f"{answer}:{moment}:{_mac(key, scope, answer, moment)}"


def stored_answer(value: object, key: str, scope: Scope) -> bool | None:
    """The answer ``value`` holds for ``key`` under ``scope``, else ``None``.

    ``None`` stands for a miss: a value of another form, an HMAC that does
    not match (another key, other tokens, an altered answer or moment) and a
    moment already past.
    """
    if not isinstance(value, str):
        return None
    parts = value.split(":")
    if len(parts) != 3:
        return None
    answer, moment, mac = parts
    if answer not in ("0", "1"):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(key, scope, answer, moment).encode()):
        return None
    if time.time() >= float(moment):
        return None
    return answer == "1"


def _lifetime(user_id: Any, tenant_id: Any) -> tuple[float | None, int]:
    """The moment an entry stops counting, if any, and its cache timeout.

    Both stop at the user's next grant expiry in the tenant, so a decision
    never outlives the grant it may rest on.
    """
    timeout = app_settings.DECISION_CACHE_TIMEOUT
    expiry = None if user_id is None else next_expiry(user_id, tenant_id)
    if expiry is None:
        return None, timeout
    deadline = expiry.timestamp()
    return deadline, max(1, min(timeout, math.ceil(deadline - time.time())))


def cached_is_allowed(user: Any, action: str, obj: models.Model) -> bool:
    """``decide(...).allowed``, remembered until a relevant version changes.

    The entry counts only under the versions it was decided under, so
    versions and entry are read together. It stops counting at the user's
    next grant expiry, and at the end of its timeout in any case.
    """
    from hardened_rbac.internal.policy import decide

    tenant = current_tenant()
    if tenant is None:
        return False
    if getattr(obj, "tenant_id", tenant.pk) != tenant.pk:
        return decide(user, action, obj).allowed
    user_id = user.pk if user is not None and user.is_authenticated else None
    key = decision_key(user_id, tenant.pk, action, obj)
    keys = scope_keys(tenant.pk, user_id)
    try:
        found = read(_cache(), [*keys, key])
        scope = _scope(found, keys)
        if scope is None:
            scope = versions(tenant.pk, user_id)
        else:
            stored = stored_answer(found.get(key), key, scope)
            if stored is not None:
                return stored
    except Exception:
        logger.warning("Decision cache unavailable; deciding without it")
        return decide(user, action, obj).allowed

    deadline, timeout = _lifetime(user_id, tenant.pk)
    allowed = decide(user, action, obj).allowed
    until = time.time() + timeout if deadline is None else deadline
    try:
        _cache().set(key, entry(key, scope, allowed, until), timeout=timeout)
    except Exception:
        logger.warning("Decision cache unavailable; decision not stored")
    return allowed
