"""Machinery of the cross-tenant sweep: every route, every tenant-owned model.

The sweep discovers what it attacks. ``routes()`` walks the root URLconf and
``tenant_models()`` lists every concrete ``TenantScopedModel`` subclass and
every other model with a foreign key to ``Tenant``. ``build()`` makes a row
of any of them generically from its field types; a field it cannot fill
raises ``CannotBuild`` so a new model is never silently left out.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import TenantScopedModel, use_tenant

# Admin is left out: every admin view needs a staff session, is not served
# under a tenant, and its object pages are guarded by the admin site's own
# permissions, which hardened_rbac's admin tests cover.
EXCLUDED_NAMESPACES = frozenset({"admin"})

MISSING_IDS = (987_654_321, 987_654_322)
MISSING_SLUGS = ("no-such-tenant-1", "no-such-tenant-2")


class CannotBuild(Exception):
    """A tenant-owned model has a required field the sweep cannot fill."""


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    params: dict[str, str]


def _walk(
    resolver: URLResolver, prefix: str, namespaces: tuple[str, ...]
) -> Iterator[tuple[str, tuple[str, ...], URLPattern]]:
    for entry in resolver.url_patterns:
        piece = _template_of(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(
                entry, prefix + piece, (*namespaces, entry.namespace or "")
            )
        else:
            yield prefix + piece, namespaces, entry


def _template_of(pattern: Any) -> str:
    """The pattern as a ``%(name)s`` format string."""
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        return re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"%(\1)s", route.replace("%", "%%"))
    if isinstance(pattern, RegexPattern):
        template, _params = normalize(pattern.regex.pattern)[0]
        return template
    raise TypeError(f"Unknown URL pattern type {type(pattern).__name__}.")


def _converter_names(template: str) -> list[str]:
    return re.findall(r"%\((\w+)\)s", template)


def routes() -> list[Route]:
    found = []
    for template, namespaces, pattern in _walk(get_resolver(), "/", ()):
        if EXCLUDED_NAMESPACES & set(namespaces):
            continue
        kinds = {}
        for name in _converter_names(template):
            converter = pattern.pattern.converters.get(name)
            kinds[name] = type(converter).__name__ if converter else "str"
        label = ":".join(n for n in (*namespaces, pattern.name or "") if n)
        found.append(Route(label or template, template, kinds))
    return found


def tenant_models() -> list[type[models.Model]]:
    owned = []
    for model in apps.get_models():
        if model._meta.abstract or model._meta.proxy:
            continue
        if issubclass(model, TenantScopedModel) or any(
            f.is_relation and f.related_model is Tenant and f.many_to_one
            for f in model._meta.concrete_fields
        ):
            owned.append(model)
    return owned


_counter = itertools.count(1)


def _ledger_transfer(tenant: Tenant) -> models.Model:
    """A transfer must be posted balanced: the database refuses it otherwise."""
    from hardened_payments import ledger
    from hardened_payments.money import Money

    n = next(_counter)
    source = ledger.open_account(tenant, f"sweep-src-{n}", "USD", allow_negative=True)
    target = ledger.open_account(tenant, f"sweep-dst-{n}", "USD")
    return ledger.post_transfer(
        tenant,
        f"sweep-{n}",
        [ledger.Leg(source, Money(-100, "USD")), ledger.Leg(target, Money(100, "USD"))],
    )


# Models whose rows only their app's API may make, by label.
BUILDERS: dict[str, Callable[[Tenant], models.Model]] = {
    "hardened_payments.LedgerTransfer": _ledger_transfer,
}


def _value_for(
    field: models.Field[Any, Any],
    tenant: Tenant,
    made: dict[type[models.Model], models.Model],
    pks: Iterator[int] | None,
) -> Any:
    n = next(_counter)
    if field.choices:
        return field.choices[0][0]
    if field.name == "currency":
        # Pages format amounts in their currency, which must be a real one.
        return "USD"
    if field.is_relation:
        related = field.related_model
        assert isinstance(related, type)
        if related is Tenant:
            return tenant
        if related is get_user_model():
            return get_user_model().objects.create(username=f"sweep-owner-{n}")
        if related in made:
            return made[related]
        return build(related, tenant, made, pks)
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.DecimalField):
        return 1
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    if isinstance(field, models.DateTimeField):
        from django.utils import timezone

        return timezone.now()
    if isinstance(field, models.EmailField):
        return f"sweep{n}@example.com"
    if isinstance(field, models.CharField | models.TextField):
        length = field.max_length or 40
        return f"s{n}"[-length:] if length < 4 else f"sweep-{n}"[:length]
    if isinstance(field, models.BinaryField):
        return b"sweep"
    raise CannotBuild(
        f"{field.model._meta.label}.{field.name} ({type(field).__name__}) "
        "cannot be filled generically; register a builder in the sweep."
    )


def build(
    model: type[models.Model],
    tenant: Tenant,
    made: dict[type[models.Model], models.Model],
    pks: Iterator[int] | None = None,
) -> models.Model:
    """Save a row of ``model`` in ``tenant``, filling every required field.

    With ``pks``, integer primary keys are taken from it, so that the rows of
    one tenant never share an id with another tenant's rows of any model.
    """
    builder = BUILDERS.get(model._meta.label)
    if builder is not None:
        built = builder(tenant)
        made.setdefault(model, built)
        return built
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and pks is not None:
            if isinstance(field, models.IntegerField):
                values[field.attname] = next(pks)
            continue
        if field.primary_key or field.has_default() or field.null:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        values[field.name] = _value_for(field, tenant, made, pks)
    with use_tenant(tenant):
        obj = model(**values)
        obj.save(force_insert=True)
    made.setdefault(model, obj)
    return obj
