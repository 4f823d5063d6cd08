"""The current community: its members, and views that need one."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase

from hardened_rbac.conf import app_settings as rbac_settings
from hardened_rbac.models import Membership, Tenant
from hardened_rbac.tenancy import current_tenant, require_tenant

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def community_required(view: View) -> View:
    """Answer 404 when the request names no community (tenant)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if current_tenant() is None:
            raise Http404("No community.")
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def members() -> QuerySet[Any]:
    """Active users with an active membership of the current tenant."""
    tenant = require_tenant()
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            pk__in=Membership.objects.active()
            .filter(tenant_id=tenant.pk)
            .values("user_id"),
        )
        .order_by("username")
    )


def path_in(tenant: Tenant, path: str) -> str:
    """``path`` (as ``reverse`` gives it outside a tenant) under ``tenant``."""
    prefix = rbac_settings.TENANT_PATH_PREFIX.strip("/")
    return f"/{prefix}/{tenant.slug}{path}"
