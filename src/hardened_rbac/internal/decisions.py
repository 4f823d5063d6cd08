"""Cached decisions, keyed under versions that signals replace.

A decision is cached under the current version tokens of three scopes: the
whole site (site-wide roles, guardian permissions), the tenant (its roles,
and any change to one of its scoped rows) and the user (memberships, grants,
groups, the account itself). Changing anything in a scope replaces its token
with a new random one, so every decision cached under the old token is never
read again. A token that the cache evicted is replaced too, never reset, so
an eviction cannot bring an old namespace back.

Nothing is saved when a grant expires, so no token changes then: an entry
decided while the user held a grant that expires later is kept only until
that moment, and is read as missing after it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from typing import Any

from django.core.cache import BaseCache, caches
from django.db import models

from hardened_rbac.conf import app_settings
from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.grants import next_expiry

logger = logging.getLogger(__name__)

PREFIX = "hardened_rbac:v1"
SITE = f"{PREFIX}:site"


def _cache() -> BaseCache:
    return caches[app_settings.DECISION_CACHE]


def tenant_key(tenant_id: Any) -> str:
    return f"{PREFIX}:tenant:{tenant_id}"


def user_key(user_id: Any) -> str:
    return f"{PREFIX}:user:{user_id}"


def bump(*keys: str) -> None:
    """Give each scope a new token; old decisions under it are never read."""
    try:
        _cache().set_many({key: uuid.uuid4().hex for key in keys}, timeout=None)
    except Exception:
        logger.exception("Could not invalidate cached decisions for %s", keys)


def versions(tenant_id: Any, user_id: Any) -> tuple[str, str, str]:
    keys = (SITE, tenant_key(tenant_id), user_key(user_id))
    cache = _cache()
    found = cache.get_many(keys)
    if len(found) != len(keys):
        for key in keys:
            if key not in found:
                cache.add(key, uuid.uuid4().hex, timeout=None)
        found = cache.get_many(keys)
    return (found.get(keys[0], ""), found.get(keys[1], ""), found.get(keys[2], ""))


def decision_key(user_id: Any, tenant_id: Any, action: str, obj: models.Model) -> str:
    raw = "|".join(
        (str(user_id), str(tenant_id), action, obj._meta.label_lower, str(obj.pk))
    )
    return f"{PREFIX}:d:" + hashlib.sha256(raw.encode()).hexdigest()


def _lookup(
    tenant_id: Any, user_id: Any, key: str
) -> tuple[tuple[str, str, str], object]:
    """The current versions and the stored entry, in one cache round trip."""
    scope_keys = (SITE, tenant_key(tenant_id), user_key(user_id))
    found = _cache().get_many([*scope_keys, key])
    if not all(k in found for k in scope_keys):
        return versions(tenant_id, user_id), None
    scope = (found[scope_keys[0]], found[scope_keys[1]], found[scope_keys[2]])
    return scope, found.get(key)


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


def _stored_answer(entry: object, scope: tuple[str, str, str]) -> bool | None:
    """The entry's answer while it still counts, else ``None``."""
    if not (isinstance(entry, tuple) and len(entry) == 3 and entry[0] == scope):
        return None
    deadline = entry[2]
    if deadline is not None and time.time() >= deadline:
        return None
    return bool(entry[1])


def cached_is_allowed(user: Any, action: str, obj: models.Model) -> bool:
    """``decide(...).allowed``, remembered until a relevant version changes.

    The entry stores the versions it was decided under and counts only while
    they are still the current ones, so versions and entry are read together.
    It also stores the user's next grant expiry and stops counting then.
    """
    from hardened_rbac.internal.policy import decide

    tenant = current_tenant()
    if tenant is None:
        return False
    if getattr(obj, "tenant_id", tenant.pk) != tenant.pk:
        return decide(user, action, obj).allowed
    user_id = user.pk if user is not None and user.is_authenticated else None
    key = decision_key(user_id, tenant.pk, action, obj)
    try:
        scope, entry = _lookup(tenant.pk, user_id, key)
    except Exception:
        logger.warning("Decision cache unavailable; deciding without it")
        return decide(user, action, obj).allowed
    stored = _stored_answer(entry, scope)
    if stored is not None:
        return stored
    deadline, timeout = _lifetime(user_id, tenant.pk)
    allowed = decide(user, action, obj).allowed
    try:
        _cache().set(key, (scope, allowed, deadline), timeout=timeout)
    except Exception:
        logger.warning("Decision cache unavailable; decision not stored")
    return allowed
