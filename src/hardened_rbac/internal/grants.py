"""Resolve the permissions a user's grants give in one tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Min
from django.utils import timezone

from hardened_rbac.models import Grant, Tenant

_CACHE_ATTR = "_hardened_rbac_tenant_perms"


def _load(user_id: Any, tenant_id: Any) -> frozenset[str]:
    grants = Grant.objects.effective().filter(
        membership__user_id=user_id, membership__tenant_id=tenant_id
    )
    rows = (
        Permission.objects.filter(hardened_roles__grants__in=grants)
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return frozenset(f"{app}.{codename}" for app, codename in rows)


def next_expiry(user_id: Any, tenant_id: Any) -> datetime | None:
    """When the user's next grant in the tenant expires, if one ever does."""
    found: datetime | None = Grant.objects.filter(
        membership__user_id=user_id,
        membership__tenant_id=tenant_id,
        expires_at__gt=timezone.now(),
    ).aggregate(soonest=Min("expires_at"))["soonest"]
    return found


def permissions_in(user: Any, tenant: Tenant) -> frozenset[str]:
    """Return ``app_label.codename`` strings the user holds in ``tenant``.

    Nothing is held by default: anonymous and inactive users and non-members
    get an empty set. The answer is remembered on the user object, which lives
    for one request.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if not tenant.is_active:
        return frozenset()
    cache: dict[Any, frozenset[str]] = user.__dict__.setdefault(_CACHE_ATTR, {})
    if tenant.pk not in cache:
        cache[tenant.pk] = _load(user.pk, tenant.pk)
    return cache[tenant.pk]


def forget(user: Any) -> None:
    user.__dict__.pop(_CACHE_ATTR, None)
