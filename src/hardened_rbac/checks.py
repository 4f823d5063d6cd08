"""System checks for the ``HARDENED_RBAC_*`` settings and tenant scoping."""

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, Warning
from django.db.backends.base.base import BaseDatabaseWrapper

from hardened_rbac.conf import TENANT_SOURCES, app_settings

E001_MSG = "HARDENED_RBAC_RESERVED_TENANT_SLUGS must be a list of strings."
E002_MSG = "HARDENED_RBAC_TENANT_SOURCE must be 'path', 'subdomain' or 'header'."
E003_MSG = "HARDENED_RBAC_TENANT_PATH_PREFIX must be one non-empty path segment."
E004_MSG = "HARDENED_RBAC_TENANT_HEADER must be a non-empty header name."
E005_MSG = (
    "HARDENED_RBAC_TENANT_DOMAIN must name the parent domain when the tenant "
    "comes from the subdomain."
)
E006_MSG = "HARDENED_RBAC_UNSCOPED_MODELS must be a list of 'app_label.Model' names."
W001_MSG = "%s has a foreign key to Tenant but is not a TenantScopedModel."


def _is_string_list(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(s, str) for s in value)


def check_reserved_slugs(**kwargs: Any) -> list[CheckMessage]:
    if _is_string_list(app_settings.RESERVED_TENANT_SLUGS):
        return []
    return [
        Error(
            E001_MSG,
            hint="For example ['admin', 'api', 'www'].",
            id="hardened_rbac.E001",
        )
    ]


def check_tenant_source(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    source = app_settings.TENANT_SOURCE
    if source not in TENANT_SOURCES:
        messages.append(
            Error(E002_MSG, hint="The default is 'path'.", id="hardened_rbac.E002")
        )
    prefix = app_settings.TENANT_PATH_PREFIX
    if not isinstance(prefix, str) or not prefix.strip("/") or "/" in prefix.strip("/"):
        messages.append(
            Error(
                E003_MSG,
                hint="For example 't' for /t/<slug>/.",
                id="hardened_rbac.E003",
            )
        )
    header = app_settings.TENANT_HEADER
    if not isinstance(header, str) or not header.strip():
        messages.append(
            Error(E004_MSG, hint="For example 'X-Tenant'.", id="hardened_rbac.E004")
        )
    domain = app_settings.TENANT_DOMAIN
    if source == "subdomain" and (not isinstance(domain, str) or not domain.strip(".")):
        messages.append(
            Error(E005_MSG, hint="For example 'example.com'.", id="hardened_rbac.E005")
        )
    return messages


def _unscoped_allowed() -> Sequence[str] | None:
    value = app_settings.UNSCOPED_MODELS
    return value if _is_string_list(value) else None


def check_unscoped_models(**kwargs: Any) -> list[CheckMessage]:
    from hardened_rbac.internal.scoping import is_scoped
    from hardened_rbac.models import Tenant

    allowed = _unscoped_allowed()
    if allowed is None:
        return [
            Error(
                E006_MSG,
                hint="For example ['reports.TenantSummary'].",
                id="hardened_rbac.E006",
            )
        ]
    messages: list[CheckMessage] = []
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label == "hardened_rbac" or label in allowed:
            continue
        holds_tenant = any(
            field.is_relation and field.related_model is Tenant and field.concrete
            for field in model._meta.get_fields()
        )
        if holds_tenant and not is_scoped(model):
            messages.append(
                Warning(
                    W001_MSG % label,
                    hint=(
                        "Subclass hardened_rbac.tenancy.TenantScopedModel, or list "
                        "the model in HARDENED_RBAC_UNSCOPED_MODELS if it must "
                        "cross tenants."
                    ),
                    obj=model,
                    id="hardened_rbac.W001",
                )
            )
    return messages


def _postgres_connections(
    databases: Sequence[str] | None,
) -> Iterator[tuple[str, BaseDatabaseWrapper]]:
    """The checked databases that are PostgreSQL, with their connections."""
    from django.db import connections

    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor == "postgresql":
            yield alias, connection


W002_MSG = (
    "The database role of '%s' can bypass row-level security (superuser or "
    "BYPASSRLS), so the tenant policies do not apply to it."
)


def check_rls_role(
    databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for alias, connection in _postgres_connections(databases):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
            row = cursor.fetchone()
        if row is None or row[0]:
            messages.append(
                Warning(
                    W002_MSG % alias,
                    hint=(
                        "Run the site as a role created with NOSUPERUSER "
                        "NOBYPASSRLS; keep a separate role for migrations."
                    ),
                    id="hardened_rbac.W002",
                )
            )
    return messages


W004_MSG = (
    "The many-to-many link table '%s' of database '%s' has no row-level "
    "security, though a tenant-scoped table it joins has."
)


def check_rls_link_tables(
    databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    from hardened_rbac.internal.rls import unprotected_link_tables

    messages: list[CheckMessage] = []
    for alias, connection in _postgres_connections(databases):
        messages.extend(
            Warning(
                W004_MSG % (table, alias),
                hint=(
                    "Add hardened_rbac.operations.EnableTenantLinkRowLevelSecurity"
                    "('<model>', '<field>') to a migration, or use a through "
                    "model that is itself tenant-scoped and protected."
                ),
                id="hardened_rbac.W004",
            )
            for table in unprotected_link_tables(connection)
        )
    return messages


W005_MSG = (
    "The tenant-scoped table '%s' of database '%s' has no row-level security, "
    "so raw SQL and forgotten filters there reach every tenant's rows."
)


def check_rls_scoped_tables(
    databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    from hardened_rbac.internal.rls import unprotected_scoped_tables

    messages: list[CheckMessage] = []
    for alias, connection in _postgres_connections(databases):
        messages.extend(
            Warning(
                W005_MSG % (table, alias),
                hint=(
                    "Add hardened_rbac.operations.EnableTenantRowLevelSecurity"
                    "('<model>') to a migration of the model's app."
                ),
                id="hardened_rbac.W005",
            )
            for table in unprotected_scoped_tables(connection)
        )
    return messages


E007_MSG = "HARDENED_RBAC_POLICY_EXEMPT_MODULES must be a list of module names."
W003_MSG = (
    "The view %s at '%s' declares no policy, so PolicyRequiredMiddleware refuses it."
)
POLICY_MIDDLEWARE = "hardened_rbac.middleware.PolicyRequiredMiddleware"


def _walk(patterns: Sequence[Any], prefix: str = "") -> list[tuple[str, Any]]:
    from django.urls import URLPattern, URLResolver

    found: list[tuple[str, Any]] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.callback))
    return found


def check_views_without_policy(**kwargs: Any) -> list[CheckMessage]:
    from django.conf import settings
    from django.urls import get_resolver

    from hardened_rbac.middleware import view_is_covered

    if not _is_string_list(app_settings.POLICY_EXEMPT_MODULES):
        return [
            Error(
                E007_MSG,
                hint="For example ['django.contrib.admin'].",
                id="hardened_rbac.E007",
            )
        ]
    if POLICY_MIDDLEWARE not in settings.MIDDLEWARE:
        return []
    messages: list[CheckMessage] = []
    for route, view in _walk(get_resolver().url_patterns):
        if view_is_covered(view):
            continue
        name = (
            f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', '?')}"
        )
        messages.append(
            Warning(
                W003_MSG % (name, route),
                hint="Decorate it with policy_required() or policy_exempt(reason=...).",
                id="hardened_rbac.W003",
            )
        )
    return messages


E008_MSG = "HARDENED_RBAC_DECISION_CACHE must name a cache in CACHES."
E009_MSG = "HARDENED_RBAC_DECISION_CACHE_TIMEOUT must be a positive number of seconds."


def check_decision_cache(**kwargs: Any) -> list[CheckMessage]:
    from django.conf import settings

    messages: list[CheckMessage] = []
    if app_settings.DECISION_CACHE not in settings.CACHES:
        messages.append(
            Error(E008_MSG, hint="The default is 'default'.", id="hardened_rbac.E008")
        )
    timeout = app_settings.DECISION_CACHE_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        messages.append(
            Error(E009_MSG, hint="The default is 300.", id="hardened_rbac.E009")
        )
    return messages


E050_MSG = "HARDENED_RBAC_AGENT_MAX_ARGUMENT_BYTES must be a positive number of bytes."
E051_MSG = "HARDENED_RBAC_AGENT_RATE_LIMIT_CACHE must name a cache in CACHES."
E052_MSG = "HARDENED_RBAC_AGENT_APPROVAL_TTL must be a positive number of seconds."
E053_MSG = "HARDENED_RBAC_PUBLIC_ROUTES must be a list of URL names or paths."
E054_MSG = (
    "Agent tools are registered but hardened_privacy is not installed; the "
    "gateway needs it to screen arguments and to reach the network."
)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_agent_gateway(**kwargs: Any) -> list[CheckMessage]:
    from django.conf import settings

    from hardened_rbac.internal.agent_registry import registered

    messages: list[CheckMessage] = []
    if not _positive_int(app_settings.AGENT_MAX_ARGUMENT_BYTES):
        messages.append(
            Error(E050_MSG, hint="The default is 8192.", id="hardened_rbac.E050")
        )
    if app_settings.AGENT_RATE_LIMIT_CACHE not in settings.CACHES:
        messages.append(
            Error(
                E051_MSG,
                hint="Use a cache every process shares, such as Redis.",
                id="hardened_rbac.E051",
            )
        )
    if not _positive_int(app_settings.AGENT_APPROVAL_TTL):
        messages.append(
            Error(E052_MSG, hint="The default is 900.", id="hardened_rbac.E052")
        )
    if registered() and not apps.is_installed("hardened_privacy"):
        messages.append(
            Error(
                E054_MSG,
                hint="Add 'hardened_privacy' to INSTALLED_APPS.",
                id="hardened_rbac.E054",
            )
        )
    return messages


def check_public_routes(**kwargs: Any) -> list[CheckMessage]:
    if _is_string_list(app_settings.PUBLIC_ROUTES):
        return []
    return [
        Error(
            E053_MSG,
            hint="For example ['account_login', '/healthz/'].",
            id="hardened_rbac.E053",
        )
    ]


E010_MSG = "HARDENED_RBAC_ACTION_LINK_MAX_AGE must be a positive number of seconds."
E011_MSG = (
    "HARDENED_RBAC_FRIEND_REQUEST_LIMITS must map 'sender' and 'ip' to "
    "(count, seconds) pairs of positive integers."
)
E012_MSG = "HARDENED_RBAC_FRIEND_REQUEST_CACHE must name a cache in CACHES."


def _limit_pair(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_positive_int(v) for v in value)
    )


def check_action_links_and_limits(**kwargs: Any) -> list[CheckMessage]:
    from django.conf import settings

    messages: list[CheckMessage] = []
    if not _positive_int(app_settings.ACTION_LINK_MAX_AGE):
        messages.append(
            Error(E010_MSG, hint="The default is 900.", id="hardened_rbac.E010")
        )
    limits = app_settings.FRIEND_REQUEST_LIMITS
    if not (
        isinstance(limits, dict)
        and set(limits) == {"sender", "ip"}
        and all(_limit_pair(v) for v in limits.values())
    ):
        messages.append(
            Error(
                E011_MSG,
                hint="For example {'sender': (20, 3600), 'ip': (50, 3600)}.",
                id="hardened_rbac.E011",
            )
        )
    if app_settings.FRIEND_REQUEST_CACHE not in settings.CACHES:
        messages.append(
            Error(E012_MSG, hint="The default is 'default'.", id="hardened_rbac.E012")
        )
    return messages


E013_MSG = "HARDENED_RBAC_SSO_GROUPS_CLAIM must be a non-empty claim name."


def check_sso(**kwargs: Any) -> list[CheckMessage]:
    claim = app_settings.SSO_GROUPS_CLAIM
    if isinstance(claim, str) and claim.strip():
        return []
    return [Error(E013_MSG, hint="The default is 'groups'.", id="hardened_rbac.E013")]


E014_MSG = "%s needs hardened_auth, which is not in INSTALLED_APPS."
TENANT_MIDDLEWARE = "hardened_rbac.middleware.TenantMiddleware"


def _features_needing_auth() -> list[str]:
    from django.conf import settings
    from django.urls import get_resolver

    found: list[str] = []
    if TENANT_MIDDLEWARE in settings.MIDDLEWARE:
        found.append("TenantMiddleware (client addresses from hardened_auth.client_ip)")
    routed = {
        getattr(view, "__module__", "")
        for _, view in _walk(get_resolver().url_patterns)
    }
    if "hardened_rbac.scim" in routed:
        found.append("SCIM provisioning (ending sessions with hardened_auth.sessions)")
    if "hardened_rbac.friend_requests" in sys.modules:
        found.append(
            "The friend-request limits (client addresses from hardened_auth.client_ip)"
        )
    return found


def check_auth_dependency(**kwargs: Any) -> list[CheckMessage]:
    if apps.is_installed("hardened_auth"):
        return []
    return [
        Error(
            E014_MSG % feature,
            hint=(
                "Add 'hardened_auth' to INSTALLED_APPS, or stop using the feature; "
                "its trusted-proxy settings and session records live there."
            ),
            id="hardened_rbac.E014",
        )
        for feature in _features_needing_auth()
    ]
