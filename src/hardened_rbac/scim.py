"""SCIM 2.0 provisioning of one tenant's users, behind a per-tenant token.

Include ``hardened_rbac.scim`` under a prefix such as ``scim/v2/``. Each
request must carry ``Authorization: Bearer <token>`` with a live token made
in the admin (``SCIM tokens``); the token alone decides the tenant. Served:
``ServiceProviderConfig``, ``Users`` (list with ``userName eq`` filter,
create, read, replace, patch, delete) and ``Groups`` (the same, filtered by
``displayName eq``).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django_scim.constants import SCIM_CONTENT_TYPE, SchemaURI

from hardened_rbac.decorators import policy_exempt
from hardened_rbac.internal import audit, scim_groups
from hardened_rbac.internal.context import tenant_context
from hardened_rbac.internal.scim_tokens import tenant_for_token
from hardened_rbac.internal.scim_users import (
    MAX_PAGE,
    ScimError,
    apply_patch,
    create_user,
    delete_user,
    filter_user_name,
    get_user,
    parse_user,
    representation,
    tenant_users,
    update_user,
)
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)

app_name = "hardened_rbac_scim"

MAX_BODY_BYTES = 64 * 1024
EXEMPT_REASON = "authenticated and bound to a tenant by a SCIM token"

Handler = Callable[..., HttpResponse]


def scim_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, content_type=SCIM_CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response


def error_response(error: ScimError) -> JsonResponse:
    body: dict[str, Any] = {
        "schemas": [SchemaURI.ERROR],
        "status": str(error.status),
        "detail": error.detail,
    }
    if error.scim_type:
        body["scimType"] = error.scim_type
    response = scim_response(body, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, refusing bodies over ``MAX_BODY_BYTES``."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise ScimError(400, "Content-Length is malformed.", "invalidSyntax") from None
    if declared > MAX_BODY_BYTES:
        raise ScimError(413, "The request body is too large.")
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ScimError(413, "The request body is too large.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ScimError(400, "The body is not JSON.", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return body


def scim_view(methods: tuple[str, ...]) -> Callable[[Handler], Handler]:
    """Authenticate by SCIM token, make its tenant current, map errors."""

    def decorate(handler: Handler) -> Handler:
        @csrf_exempt
        @policy_exempt(EXEMPT_REASON)
        @functools.wraps(handler)
        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            scheme, _, presented = request.headers.get("Authorization", "").partition(
                " "
            )
            tenant, cause = (None, "missing")
            if scheme.lower() == "bearer" and presented.strip():
                tenant, cause = tenant_for_token(presented.strip())
            if tenant is None:
                audit.emit(
                    "authn_token_invalid",
                    outcome="denied",
                    target="scim",
                    cause=cause,
                )
                return error_response(ScimError(401, "Authentication failed."))
            with tenant_context(tenant):
                if request.method not in methods:
                    return error_response(ScimError(405, "Method not allowed."))
                try:
                    return handler(request, tenant, *args, **kwargs)
                except ScimError as error:
                    return error_response(error)

        return view

    return decorate


def _location(request: HttpRequest, scim_id: object) -> str:
    return request.build_absolute_uri(
        reverse("hardened_rbac_scim:user", args=[str(scim_id)])
    )


def _page_number(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise ScimError(400, "startIndex and count must be numbers.", "invalidValue")
    return int(raw)


@scim_view(("GET",))
def service_provider_config(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return scim_response(
        {
            "schemas": [SchemaURI.SERVICE_PROVIDER_CONFIG],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_PAGE},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "A per-tenant token made by a site operator.",
                }
            ],
        }
    )


@scim_view(("GET", "POST"))
def users(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    if request.method == "POST":
        created = create_user(tenant, parse_user(read_json(request)))
        response = scim_response(
            representation(created, _location(request, created.pk)), status=201
        )
        response["Location"] = _location(request, created.pk)
        return response
    user_name = filter_user_name(request.GET.get("filter"))
    start = max(_page_number(request.GET.get("startIndex"), 1), 1)
    count = min(_page_number(request.GET.get("count"), MAX_PAGE), MAX_PAGE)
    found = tenant_users(tenant)
    if user_name is not None:
        found = found.filter(user_name__iexact=user_name)
    total = found.count()
    page = list(found.order_by("pk")[start - 1 : start - 1 + count])
    return scim_response(
        {
            "schemas": [SchemaURI.LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [representation(u, _location(request, u.pk)) for u in page],
        }
    )


@scim_view(("GET", "PUT", "PATCH", "DELETE"))
def user(request: HttpRequest, tenant: Tenant, scim_id: str) -> HttpResponse:
    found = get_user(tenant, scim_id)
    if request.method == "DELETE":
        delete_user(found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        found = update_user(found, parse_user(read_json(request)))
    elif request.method == "PATCH":
        found = update_user(found, apply_patch(found, read_json(request)))
    return scim_response(representation(found, _location(request, found.pk)))


def _group_location(request: HttpRequest, scim_id: object) -> str:
    return request.build_absolute_uri(
        reverse("hardened_rbac_scim:group", args=[str(scim_id)])
    )


@scim_view(("GET", "POST"))
def groups(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    if request.method == "POST":
        values = scim_groups.parse_group(tenant, read_json(request))
        created = scim_groups.save_group(tenant, values)
        location = _group_location(request, created.pk)
        response = scim_response(
            scim_groups.representation(created, location), status=201
        )
        response["Location"] = location
        return response
    name = scim_groups.filter_display_name(request.GET.get("filter"))
    start = max(_page_number(request.GET.get("startIndex"), 1), 1)
    count = min(_page_number(request.GET.get("count"), MAX_PAGE), MAX_PAGE)
    found = scim_groups.tenant_groups(tenant)
    if name is not None:
        found = found.filter(role__name__iexact=name)
    total = found.count()
    page = list(found.order_by("pk")[start - 1 : start - 1 + count])
    members = not scim_groups.members_excluded(request.GET.get("excludedAttributes"))
    return scim_response(
        {
            "schemas": [SchemaURI.LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [
                scim_groups.representation(
                    g, _group_location(request, g.pk), members=members
                )
                for g in page
            ],
        }
    )


@scim_view(("GET", "PUT", "PATCH", "DELETE"))
def group(request: HttpRequest, tenant: Tenant, scim_id: str) -> HttpResponse:
    found = scim_groups.get_group(tenant, scim_id)
    if request.method == "DELETE":
        scim_groups.delete_group(found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        values = scim_groups.parse_group(tenant, read_json(request))
        found = scim_groups.save_group(tenant, values, found)
    elif request.method == "PATCH":
        values = scim_groups.apply_patch(found, read_json(request))
        found = scim_groups.save_group(tenant, values, found)
    location = _group_location(request, found.pk)
    members = not scim_groups.members_excluded(request.GET.get("excludedAttributes"))
    return scim_response(scim_groups.representation(found, location, members=members))


urlpatterns = [
    path(
        "ServiceProviderConfig",
        service_provider_config,
        name="service_provider_config",
    ),
    path("Users", users, name="users"),
    path("Users/<str:scim_id>", user, name="user"),
    path("Groups", groups, name="groups"),
    path("Groups/<str:scim_id>", group, name="group"),
]
