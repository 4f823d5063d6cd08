"""Resolve each request's tenant and refuse users who are not members.

``TenantMiddleware`` goes after ``AuthenticationMiddleware``. It reads the
tenant slug from the source ``HARDENED_RBAC_TENANT_SOURCE`` names, checks the
user's active membership and makes the tenant current for the request. A
tenant that does not exist, is inactive, or does not count the user as a
member gets the same 404, so a response never confirms that a tenant exists.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_script_prefix, set_script_prefix

from hardened_auth.client_ip import get_client_ip
from hardened_rbac.conf import app_settings
from hardened_rbac.internal import audit
from hardened_rbac.internal.context import Actor, actor_context, tenant_context
from hardened_rbac.models import Membership, Tenant

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,63}")


def _actor_of(request: HttpRequest) -> Actor:
    user = getattr(request, "user", None)
    user_id = str(user.pk) if user is not None and user.is_authenticated else None
    return Actor(user_id=user_id, ip=get_client_ip(request) or None)


def _from_path(request: HttpRequest) -> tuple[str | None, str]:
    prefix = app_settings.TENANT_PATH_PREFIX.strip("/")
    parts = request.path_info.split("/", 3)
    if len(parts) < 3 or parts[1] != prefix:
        return None, ""
    rest = "/" + parts[3] if len(parts) > 3 else "/"
    return parts[2], rest


def _from_subdomain(request: HttpRequest) -> str | None:
    domain = app_settings.TENANT_DOMAIN.lower().strip(".")
    host = request.get_host().lower().rsplit(":", 1)[0]
    if not domain or not host.endswith("." + domain):
        return None
    return host[: -len(domain) - 1]


def _from_header(request: HttpRequest) -> str | None:
    return request.headers.get(app_settings.TENANT_HEADER) or None


def _membership_tenant(request: HttpRequest, slug: str) -> Tenant | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not SLUG_RE.fullmatch(slug):
        return None
    membership = (
        Membership.objects.active()
        .filter(user=user, tenant__slug=slug)
        .select_related("tenant")
        .first()
    )
    return membership.tenant if membership is not None else None


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        actor = _actor_of(request)
        source = app_settings.TENANT_SOURCE
        rest = ""
        if source == "path":
            slug, rest = _from_path(request)
        elif source == "subdomain":
            slug = _from_subdomain(request)
        else:
            slug = _from_header(request)

        with actor_context(actor):
            if slug is None:
                request.tenant = None  # type: ignore[attr-defined]
                return self.get_response(request)
            tenant = _membership_tenant(request, slug)
            if tenant is None:
                audit.emit(
                    "authz_fail",
                    outcome="denied",
                    target=f"tenant:{slug[:63]}",
                    action="tenant_not_member",
                    source=source,
                )
                raise Http404("No such tenant.")
            request.tenant = tenant  # type: ignore[attr-defined]
            with tenant_context(tenant):
                if source == "path":
                    return self._strip_prefix(request, slug, rest)
                return self.get_response(request)

    def _strip_prefix(self, request: HttpRequest, slug: str, rest: str) -> HttpResponse:
        prefix = app_settings.TENANT_PATH_PREFIX.strip("/")
        previous = get_script_prefix()
        request.path_info = rest
        set_script_prefix(f"{previous.rstrip('/')}/{prefix}/{slug}/")
        try:
            return self.get_response(request)
        finally:
            set_script_prefix(previous)


def view_is_covered(view: Callable[..., object]) -> bool:
    """Whether a view declares a policy, is exempt, or lives in an exempt module.

    Views behind the admin site's staff check answer to the admin's own
    permissions, so they count as covered too.
    """
    from hardened_rbac.decorators import EXEMPT_ATTR, POLICY_ATTR
    from hardened_rbac.internal.route_inventory import admin_site_of

    candidates = [view, getattr(view, "view_class", None), getattr(view, "cls", None)]
    for candidate in candidates:
        if candidate is not None and (
            hasattr(candidate, POLICY_ATTR) or hasattr(candidate, EXEMPT_ATTR)
        ):
            return True
    module = getattr(view, "__module__", "") or ""
    if any(
        module == exempt or module.startswith(exempt + ".")
        for exempt in app_settings.POLICY_EXEMPT_MODULES
    ):
        return True
    return admin_site_of(view) is not None


class PolicyRequiredMiddleware:
    """Refuse, with 403, every view that declares no policy and is not exempt."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        if view_is_covered(view_func):
            return None
        name = getattr(view_func, "__qualname__", type(view_func).__name__)
        audit.emit(
            "authz_fail",
            outcome="denied",
            target=f"view:{getattr(view_func, '__module__', '')}.{name}",
            action="view_without_policy",
        )
        raise PermissionDenied("This view declares no policy.")
