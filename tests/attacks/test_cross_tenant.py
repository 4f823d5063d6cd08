"""A member of tenant B attacks every route with tenant A's ids.

Nothing here is hand-listed: the routes come from the root URLconf and the
models from the app registry (see ``sweep.py``). For each route and method,
A's ids go in the path, the query string, a form body and a JSON body, under
every name an id could have; the answer must be the one an id that does not
exist gets, and A's rows must be exactly as they were.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

import pytest
from django.db import models
from django.test import Client

from hardened_rbac.models import Membership, Tenant
from hardened_rbac.tenancy import TenantScopedModel, unscoped
from tests.attacks import sweep
from tests.factories import MembershipFactory

METHODS = ("get", "post-form", "post-json", "patch-json", "delete")
# As long as the missing ids, so a length limit (Django refuses a redirect
# target over 2048 characters) answers A's ids and missing ids alike.
A_PK_START = 700_000_001
CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*"')


@pytest.fixture
def world(db, settings):
    # The limiter would start refusing part-way through the sweep and make
    # two identical requests answer differently; limits have their own tests.
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {}
    tenant_a = Tenant.objects.create(slug="sweep-a", name="A")
    tenant_b = Tenant.objects.create(slug="sweep-b", name="B")
    member_a = MembershipFactory(tenant=tenant_a).user
    member_b = MembershipFactory(tenant=tenant_b).user
    owned = sweep.tenant_models()
    made_b: dict[type[models.Model], models.Model] = {}
    made_a: dict[type[models.Model], models.Model] = {}
    for model in owned:
        if model not in made_b:
            sweep.build(model, tenant_b, made_b)
    a_pks = itertools.count(A_PK_START)
    for model in owned:
        if model not in made_a:
            sweep.build(model, tenant_a, made_a, a_pks)
    client = Client()
    client.force_login(member_b)
    return {
        "a": tenant_a,
        "b": tenant_b,
        "member_a": member_a,
        "client": client,
        "models": owned,
        "made_a": made_a,
        "made_b": made_b,
    }


def snapshot(tenant: Tenant, owned: list[type[models.Model]]) -> dict[str, Any]:
    """Every row of every tenant-owned model that belongs to ``tenant``."""
    rows: dict[str, Any] = {}
    with unscoped(reason="cross-tenant sweep snapshot"):
        for model in owned:
            field = next(
                f
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model is Tenant
            )
            rows[model._meta.label] = list(
                model._base_manager.filter(**{field.attname: tenant.pk})
                .order_by("pk")
                .values()
            )
    rows["memberships"] = list(
        Membership.objects.filter(tenant=tenant).order_by("pk").values()
    )
    rows["tenant"] = list(Tenant.objects.filter(pk=tenant.pk).values())
    return rows


def id_names(owned: list[type[models.Model]]) -> list[str]:
    names = {"id", "pk", "object_id", "tenant", "tenant_id", "tenant_slug", "slug"}
    for model in owned:
        names |= {model._meta.model_name or "", f"{model._meta.model_name}_id"}
        for field in model._meta.concrete_fields:
            if field.is_relation:
                names |= {field.name, field.attname}
    return sorted(n for n in names if n)


def send(client: Client, method: str, path: str, data: dict[str, str]) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
    if method == "get":
        return client.get(path, data, **headers)
    if method == "delete":
        return client.delete(path, QUERY_STRING=_query(data), **headers)
    verb = getattr(client, method.split("-")[0])
    if method.endswith("-json"):
        return verb(path, json.dumps(data), content_type="application/json", **headers)
    return verb(path, data, **headers)


def _query(data: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


def answer(response: Any, values: list[str]) -> tuple[Any, ...]:
    """What a client can observe, with the probed values masked."""
    body = CSRF_VALUE.sub(rb"\1*", response.content)
    location = response.headers.get("Location", "")
    for value in sorted(values, key=len, reverse=True):
        body = body.replace(value.encode(), b"<ID>")
        location = location.replace(value, "<ID>")
    return (
        response.status_code,
        response.headers.get("Content-Type"),
        location,
        body,
    )


def _shape(response: Any) -> tuple[Any, ...]:
    keys: Any = None
    if response.headers.get("Content-Type", "").startswith("application/json"):
        keys = sorted(json.loads(response.content or b"{}"))
    return response.status_code, response.headers.get("Content-Type"), keys


class Baseline:
    """The answers two different missing ids get, to compare attacks with.

    Some routes change the member's own state on the first request (a POST
    that creates recovery codes makes the next one need a step-up). When an
    attack's answer differs, the baseline is taken again, after the attack,
    and the attack must match that one.
    """

    def __init__(self, client: Client, method: str, make: Any, misses: Any) -> None:
        self.client, self.method, self.make, self.misses = client, method, make, misses
        self.values = [str(v) for case in misses for v in case.values()]
        self._take()

    def _take(self) -> None:
        self.first = send(self.client, self.method, *self.make(self.misses[0]))
        second = send(self.client, self.method, *self.make(self.misses[1]))
        self.stable = answer(self.first, self.values) == answer(second, self.values)

    def _matches(self, hit: Any, values: list[str]) -> bool:
        if self.stable:
            return bool(answer(hit, values) == answer(self.first, values))
        # The page carries something random (a challenge, a nonce): compare
        # what does not change between two misses.
        return _shape(hit) == _shape(self.first)

    def check(self, attack: dict[str, Any]) -> None:
        """The attack's answer equals a missing id's, up to the values sent."""
        values = self.values + [str(v) for v in attack.values()]
        hit = send(self.client, self.method, *self.make(attack))
        where = (self.method, self.make(attack)[0])
        assert hit.status_code < 500, where
        if not self._matches(hit, values):
            self._take()
            assert self._matches(hit, values), where


def _fill(route: sweep.Route, values: dict[str, Any]) -> str:
    return route.template % {k: values[k] for k in route.params}


def _own(route_param: str, made: dict[type[models.Model], models.Model]) -> Any:
    """B's own row that a path parameter such as ``payment_id`` names."""
    stem = re.sub(r"_?(id|pk)$", "", route_param)
    for model, obj in made.items():
        if model._meta.model_name == stem.replace("_", ""):
            return obj.pk
    return sweep.MISSING_IDS[0]


def test_the_sweep_finds_the_routes_and_models_it_attacks(world):
    names = {route.name for route in sweep.routes()}
    assert "hardened_payments:refund" in names
    assert "account_login" in names
    assert not any(name.startswith("admin:") for name in names)
    labels = {model._meta.label for model in world["models"]}
    assert {"hardened_payments.Payment", "demo.Post"} <= labels
    scoped = {m for m in world["models"] if issubclass(m, TenantScopedModel)}
    assert {m.__name__ for m in scoped} >= {"Project", "Task", "FriendRequest"}
    assert set(world["made_a"]) == set(world["models"])


def test_a_model_the_sweep_cannot_build_fails_loudly(db):
    field = models.DurationField()
    field.set_attributes_from_name("span")
    field.model = Tenant
    with pytest.raises(sweep.CannotBuild, match=r"Tenant\.span"):
        sweep._value_for(field, Tenant(), {}, None)


def _misses(names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    first, second = (
        {name: str(sweep.MISSING_IDS[i]) for name in names}
        | {"tenant_slug": sweep.MISSING_SLUGS[i], "slug": sweep.MISSING_SLUGS[i]}
        for i in (0, 1)
    )
    return first, second


def test_tenant_a_ids_in_bodies_and_queries_get_the_missing_answer(world):
    client, made_a, made_b = world["client"], world["made_a"], world["made_b"]
    names = id_names(world["models"])
    a_ids = [obj.pk for obj in made_a.values()]
    named: dict[str, str] = {}
    for model, obj in made_a.items():
        named |= {model._meta.model_name: str(obj.pk)}
        named |= {f"{model._meta.model_name}_id": str(obj.pk)}
    before = snapshot(world["a"], world["models"])
    for route in sweep.routes():
        base = {
            name: world["b"].slug if kind == "SlugConverter" else _own(name, made_b)
            for name, kind in route.params.items()
        }
        path = _fill(route, base)
        for turn, method in enumerate(METHODS):
            baseline = Baseline(
                client, method, lambda data, path=path: (path, data), _misses(names)
            )
            # Names that say their model carry that model's id in A on every
            # request; the generic ones (id, pk...) take each of A's ids once
            # across the methods, to keep the sweep quick.
            for a_id in a_ids[turn :: len(METHODS)]:
                attack = {name: str(a_id) for name in names}
                attack |= named
                baseline.check(
                    attack | {"tenant_slug": world["a"].slug, "slug": world["a"].slug}
                )
    assert snapshot(world["a"], world["models"]) == before


def test_tenant_a_ids_and_slug_in_the_path_get_the_missing_answer(world):
    client, made_a, made_b = world["client"], world["made_a"], world["made_b"]
    before = snapshot(world["a"], world["models"])
    a_ids = [str(obj.pk) for obj in made_a.values()]
    checked = 0
    for route in sweep.routes():
        base = {
            name: world["b"].slug if k == "SlugConverter" else _own(name, made_b)
            for name, k in route.params.items()
        }
        for param, kind in route.params.items():
            if kind == "SlugConverter":
                attacks = [world["a"].slug]
                misses: tuple[Any, ...] = sweep.MISSING_SLUGS
            else:
                attacks = a_ids
                misses = sweep.MISSING_IDS
            for method in METHODS:
                baseline = Baseline(
                    client,
                    method,
                    lambda data, base=base, route=route: (
                        _fill(route, base | data),
                        {},
                    ),
                    ({param: str(misses[0])}, {param: str(misses[1])}),
                )
                for value in attacks:
                    baseline.check({param: value})
                    checked += 1
    assert checked
    assert snapshot(world["a"], world["models"]) == before


def test_every_route_under_tenant_a_prefix_gets_the_missing_answer(world):
    """The tenant middleware answers A's slug as it answers an unknown one."""
    client = world["client"]
    before = snapshot(world["a"], world["models"])
    for route in sweep.routes():
        base = {
            name: world["b"].slug if k == "SlugConverter" else sweep.MISSING_IDS[0]
            for name, k in route.params.items()
        }
        path = _fill(route, base)
        for method in ("get", "post-json"):
            baseline = Baseline(
                client,
                method,
                lambda data, path=path: (f"/t/{data['slug']}{path}", {}),
                ({"slug": sweep.MISSING_SLUGS[0]}, {"slug": sweep.MISSING_SLUGS[1]}),
            )
            baseline.check({"slug": world["a"].slug})
    assert snapshot(world["a"], world["models"]) == before
