"""A member of tenant B attacks every route with tenant A's ids.

Nothing here is hand-listed: the routes come from the root URLconf and the
models from the app registry (see ``sweep.py``). For each route and method,
A's ids go in the path, the query string, a form body and a JSON body, under
every name an id could have; the answer must be the one an id that does not
exist gets, and A's rows must be exactly as they were. Every page B's member
opens, lists included, must also leave out every value that identifies one
of A's rows.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from hardened_rbac.decorators import policy_exempt
from hardened_rbac.models import Membership, Tenant
from hardened_rbac.tenancy import TenantScopedModel, unscoped
from sandbox import urls as sandbox_urls
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
        "member_b": member_b,
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


# A planted value counts only as a whole token, so "sweep-1" is not found in
# "sweep-12"; shorter strings than this are too common to mean anything.
PLANTED_MIN_LENGTH = 6


def _row_values(
    tenant: Tenant, owned: list[type[models.Model]]
) -> tuple[set[str], set[int]]:
    """The strings, UUIDs and user ids in every row ``tenant`` owns."""
    strings: set[str] = {tenant.slug}
    users: set[int] = set()
    user_model = get_user_model()
    for model in owned:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        for row in snapshot(tenant, [model])[model._meta.label]:
            for attname, value in row.items():
                field = fields[attname]
                if field.is_relation and field.related_model is user_model:
                    users.add(value)
                elif isinstance(value, str | uuid.UUID) or (
                    isinstance(value, int) and value >= A_PK_START
                ):
                    strings.add(str(value))
    return strings, users


def planted(world: dict[str, Any], tenant: str) -> set[str]:
    """Values that identify one tenant's rows and no row of the other.

    Strings and UUIDs of the tenant's rows, its large primary and foreign
    keys, and the usernames and addresses of its member and of the users its
    rows point to, less anything the other tenant's rows also hold.
    """
    other = "b" if tenant == "a" else "a"
    mine, my_users = _row_values(world[tenant], world["models"])
    theirs, their_users = _row_values(world[other], world["models"])
    my_users.add(world[f"member_{tenant}"].pk)
    their_users.add(world[f"member_{other}"].pk)
    for ids, values in ((my_users, mine), (their_users, theirs)):
        for username, email in (
            get_user_model()
            .objects.filter(pk__in=ids - {None})
            .values_list("username", "email")
        ):
            values |= {username, email}
    return {v for v in mine - theirs if len(v) >= PLANTED_MIN_LENGTH}


def _body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return str(response.content.decode(errors="replace"))


def pages_as_b(world: dict[str, Any]) -> dict[str, str]:
    """Every route's page as B's member sees it, with B's slug and ids."""
    pages = {}
    for route in sweep.routes():
        base = {
            name: world["b"].slug
            if k == "SlugConverter"
            else _own(name, world["made_b"])
            for name, k in route.params.items()
        }
        path = _fill(route, base)
        for url in (path, f"/t/{world['b'].slug}{path}"):
            response = world["client"].get(url)
            assert response.status_code < 500, url
            pages[url] = _body(response)
    return pages


def found(pages: dict[str, str], values: set[str]) -> dict[str, list[str]]:
    """For each page, the values it shows, matched as whole tokens."""
    pattern = re.compile(
        r"(?<![\w-])(?:"
        + "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
        + r")(?![\w-])"
    )
    shown = {url: sorted(set(pattern.findall(body))) for url, body in pages.items()}
    return {url: values for url, values in shown.items() if values}


def test_no_page_tenant_b_opens_shows_a_value_of_tenant_a(world):
    """Lists and detail pages under B leave out every row of A's."""
    pages = pages_as_b(world)
    assert found(pages, planted(world, "a")) == {}
    # The scan means something only if B's pages do list B's own rows.
    shown = set().union(*found(pages, planted(world, "b")).values())
    member_b = world["member_b"]
    assert shown - {world["b"].slug, member_b.username, member_b.email}


@policy_exempt(reason="a careless exemption, so the sweep has a leak to find")
def _every_tenants_posts(request: Any) -> HttpResponse:
    """A list that forgets its tenant, as a careless new view would."""
    from demo.models import Post

    with unscoped(reason="a deliberately leaky view for the sweep to catch"):
        rows = Post._base_manager.values_list("pk", "body", "author__username")
        return HttpResponse("\n".join(" ".join(map(str, row)) for row in rows))


class LeakyURLconf:
    """The sandbox's routes and one new list view that ignores the tenant."""

    urlpatterns = [
        path("sweep-new-list/", _every_tenants_posts, name="sweep_new_list"),
        *sandbox_urls.urlpatterns,
    ]


def test_a_new_list_view_that_ignores_the_tenant_is_caught(world, settings):
    settings.ROOT_URLCONF = LeakyURLconf
    leaks = found(pages_as_b(world), planted(world, "a"))
    assert set(leaks) == {"/sweep-new-list/", "/t/sweep-b/sweep-new-list/"}
    post = world["made_a"][apps.get_model("demo", "Post")]
    assert {str(post.pk), post.body} <= set(leaks["/sweep-new-list/"])
