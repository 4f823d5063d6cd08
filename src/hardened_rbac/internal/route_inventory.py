"""Read every URL pattern's security marks for the route inventory.

Nothing here adds a mark of its own. Each column reads what already marks a
view: ``policy_required`` / ``policy_exempt``, the exempt modules and the
admin site's own permissions for the policy; Django's ``login_required``
family (the ``login_url`` attribute its wrapper carries),
``login_not_required``, the access mixins, the admin site's staff check and
``LoginRequiredMiddleware`` for authentication;
hardened_auth's ``HARDENED_AUTH_RATE_LIMITED_VIEWS`` and django-ratelimit's
decorator for the rate limit; ``csrf_exempt`` and ``CsrfViewMiddleware``
for CSRF. A route passes when it has a policy and an authentication
requirement, or the site marked it public.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import HardenedRbacConfigurationError

POLICY_ATTR = "hardened_rbac_policy"
EXEMPT_ATTR = "hardened_rbac_policy_exempt"
LOGIN_MIDDLEWARE = "django.contrib.auth.middleware.LoginRequiredMiddleware"
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
RATE_LIMIT_MIDDLEWARE = "hardened_auth.middleware.RateLimitMiddleware"
RATELIMIT_FILE = re.compile(r"django_ratelimit[/\\]decorators\.py$")
# The wrappers of this distribution's decorators that refuse a request
# without a signed-in user or a valid token, by source file and the
# qualified name of the function that builds them.
AUTH_WRAPPERS = (
    (
        re.compile(r"hardened_auth[/\\]stepup\.py$"),
        "step_up_required.",
        "step-up (hardened_auth step_up_required)",
    ),
    (
        re.compile(r"hardened_auth[/\\]tokens\.py$"),
        "bearer_token_required.",
        "bearer token (hardened_auth bearer_token_required)",
    ),
    (
        re.compile(r"hardened_payments[/\\]idempotency\.py$"),
        "_guard.",
        "signed in (hardened_payments idempotent)",
    ),
    (
        re.compile(r"hardened_rbac[/\\]scim\.py$"),
        "scim_view.",
        "SCIM token (hardened_rbac scim_view)",
    ),
)
AUTH_MIXINS = {
    "hardened_auth.stepup.StepUpRequiredMixin": "mixin (StepUpRequiredMixin)"
}


@dataclass
class Route:
    """One URL pattern and what guards it."""

    pattern: str
    name: str | None
    view: str
    authentication: str
    policy: str
    rate_limit: str
    csrf: str
    public: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def walk(
    patterns: Sequence[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str | None, Callable[..., Any]]]:
    """Every (route, namespaced name, callback) below ``patterns``."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield route, name, entry.callback


def _chain(view: Callable[..., Any]) -> list[Any]:
    """The view, the functions it wraps, and its class for class-based views."""
    found: list[Any] = []
    current: Any = view
    while current is not None and len(found) < 20:
        found.append(current)
        current = getattr(current, "__wrapped__", None)
    for attr in ("view_class", "cls"):
        klass = getattr(view, attr, None)
        if klass is not None:
            found.append(klass)
    return found


def _admin_view_codes() -> frozenset[Any]:
    from django.contrib.admin import AdminSite

    return frozenset(
        c for c in AdminSite.admin_view.__code__.co_consts if hasattr(c, "co_code")
    )


def _closure_site(function: Any, codes: frozenset[Any], depth: int) -> Any:
    """The site in ``AdminSite.admin_view``'s check among the closures."""
    from django.contrib.admin import AdminSite

    code = getattr(function, "__code__", None)
    cells = getattr(function, "__closure__", None) or ()
    if code is None or depth > 6:
        return None
    contents = {}
    for free, cell in zip(code.co_freevars, cells, strict=False):
        try:
            contents[free] = cell.cell_contents
        except ValueError:
            continue
    if code in codes:
        site = contents.get("self")
        return site if isinstance(site, AdminSite) else None
    for value in contents.values():
        inner = getattr(value, "get_response", value)
        if callable(inner):
            found = _closure_site(inner, codes, depth + 1)
            if found is not None:
                return found
    return None


def admin_site_of(view: Callable[..., Any]) -> Any:
    """The ``AdminSite`` whose staff check guards ``view``, or ``None``.

    The admin's own URLs carry the site (``admin_site``) or their
    ``ModelAdmin`` (``model_admin``) on the wrapper ``get_urls()`` makes;
    a view a ``ModelAdmin`` adds itself is guarded when it went through
    ``admin_site.admin_view()``, whose inner function is then in the
    wrapper's closures. A bare method of a ``ModelAdmin`` is not.
    """
    from django.contrib.admin import AdminSite, ModelAdmin

    chain = _chain(view)
    for item in chain:
        site = getattr(item, "admin_site", None)
        if not isinstance(item, type) and isinstance(site, AdminSite):
            return site
        model_admin = getattr(item, "model_admin", None)
        if isinstance(model_admin, ModelAdmin) and isinstance(
            model_admin.admin_site, AdminSite
        ):
            return model_admin.admin_site
    codes = _admin_view_codes()
    for item in chain:
        if not isinstance(item, type):
            found = _closure_site(item, codes, 0)
            if found is not None:
                return found
    return None


def view_path(view: Callable[..., Any]) -> str:
    target = getattr(view, "view_class", None) or view
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or type(target).__name__
    return f"{module}.{name}"


def _wrapper_authentication(chain: Sequence[Any]) -> str | None:
    for item in chain:
        if isinstance(item, type):
            for klass in item.__mro__:
                found = AUTH_MIXINS.get(f"{klass.__module__}.{klass.__qualname__}")
                if found is not None:
                    return found
            continue
        code = getattr(item, "__code__", None)
        if code is None:
            continue
        for source, builder, label in AUTH_WRAPPERS:
            if source.search(code.co_filename) and code.co_qualname.startswith(builder):
                return label
    return None


def authentication(view: Callable[..., Any]) -> tuple[str, bool]:
    """How the route requires a signed-in user, and whether it does."""
    from django.contrib.auth.mixins import AccessMixin

    chain = _chain(view)
    if getattr(view, "login_required", True) is False:
        return "not required (login_not_required)", False
    if admin_site_of(view) is not None:
        return "staff (admin site)", True
    for item in chain:
        if isinstance(item, type) and issubclass(item, AccessMixin):
            mixins = [c.__name__ for c in item.__mro__ if c.__name__.endswith("Mixin")]
            return f"mixin ({', '.join(mixins[:2]) or item.__name__})", True
    for item in chain:
        if not isinstance(item, type) and hasattr(item, "redirect_field_name"):
            return "decorator (login_required / user_passes_test)", True
    wrapped = _wrapper_authentication(chain)
    if wrapped is not None:
        return wrapped, True
    if LOGIN_MIDDLEWARE in settings.MIDDLEWARE:
        return "middleware (LoginRequiredMiddleware)", True
    return "none", False


def policy(view: Callable[..., Any]) -> tuple[str, bool]:
    """The policy the view declares, or why it needs none."""
    for item in _chain(view):
        declared = getattr(item, POLICY_ATTR, None)
        if declared is not None:
            action, model = declared
            return f"{action} {model}", True
        reason = getattr(item, EXEMPT_ATTR, None)
        if reason is not None:
            return f"exempt: {reason}", True
    module = getattr(view, "__module__", "") or ""
    exempt_modules = app_settings.POLICY_EXEMPT_MODULES
    for exempt in exempt_modules if isinstance(exempt_modules, list | tuple) else ():
        if module == exempt or module.startswith(exempt + "."):
            return f"exempt module {exempt}", True
    if admin_site_of(view) is not None:
        return "admin site permissions", True
    return "none", False


def _ratelimit_decorations(view: Callable[..., Any]) -> list[str]:
    found = []
    for item in _chain(view):
        code = getattr(item, "__code__", None)
        closure = getattr(item, "__closure__", None)
        if code is None or closure is None:
            continue
        if not RATELIMIT_FILE.search(code.co_filename):
            continue
        cells = dict(zip(code.co_freevars, closure, strict=False))
        rate = cells["rate"].cell_contents if "rate" in cells else None
        key = cells["key"].cell_contents if "key" in cells else None
        found.append(f"django-ratelimit {rate} by {key}")
    return found


def rate_limit(view: Callable[..., Any], name: str | None) -> str:
    limits = _ratelimit_decorations(view)
    if RATE_LIMIT_MIDDLEWARE in settings.MIDDLEWARE and name is not None:
        from hardened_auth.conf import app_settings as auth_settings

        scope = auth_settings.RATE_LIMITED_VIEWS.get(name)
        if scope is not None:
            rates = auth_settings.RATE_LIMITS.get(scope, {})
            shown = ", ".join(f"{k} {v}" for k, v in sorted(rates.items()))
            limits.append(f"hardened_auth {scope} ({shown})")
    return "; ".join(limits) or "none"


def csrf(view: Callable[..., Any]) -> str:
    if getattr(view, "csrf_exempt", False):
        return "exempt"
    if CSRF_MIDDLEWARE not in settings.MIDDLEWARE:
        return "unprotected (no CsrfViewMiddleware)"
    return "protected"


def public_mark(route: str, name: str | None, patterns: Sequence[str]) -> str | None:
    """The ``HARDENED_RBAC_PUBLIC_ROUTES`` entry that marks the route public.

    Entries starting with ``/`` match the path pattern, others the URL name;
    both may use shell-style wildcards.
    """
    for entry in patterns:
        if entry.startswith("/"):
            if fnmatch.fnmatchcase("/" + route, entry):
                return f"setting {entry}"
        elif name is not None and fnmatch.fnmatchcase(name, entry):
            return f"setting {entry}"
    return None


def inventory(urlconf: str | None = None) -> list[Route]:
    """Every route of ``urlconf`` (the site's by default) with its guards."""
    public_patterns = app_settings.PUBLIC_ROUTES
    if not isinstance(public_patterns, list | tuple) or not all(
        isinstance(entry, str) for entry in public_patterns
    ):
        raise HardenedRbacConfigurationError(
            "HARDENED_RBAC_PUBLIC_ROUTES must be a list of URL names or paths."
        )
    routes = []
    for route, name, view in walk(get_resolver(urlconf).url_patterns):
        auth, has_auth = authentication(view)
        declared, has_policy = policy(view)
        public = public_mark(route, name, public_patterns)
        if public is None and getattr(view, "login_required", True) is False:
            public = "login_not_required"
        problems = []
        if not has_policy and (public is None or public == "login_not_required"):
            problems.append("no policy")
        if not has_auth and public is None:
            problems.append("no authentication requirement")
        routes.append(
            Route(
                pattern="/" + route,
                name=name,
                view=view_path(view),
                authentication=auth,
                policy=declared,
                rate_limit=rate_limit(view, name),
                csrf=csrf(view),
                public=public,
                problems=problems,
            )
        )
    return routes


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def as_markdown(routes: Sequence[Route]) -> str:
    columns = [
        "pattern",
        "name",
        "view",
        "authentication",
        "policy",
        "rate_limit",
        "csrf",
        "public",
        "problems",
    ]
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for route in routes:
        values = route.as_dict()
        values["problems"] = ", ".join(route.problems)
        lines.append("| " + " | ".join(_cell(values[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"
