import io
import uuid

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client

from demo.models import Post
from hardened_rbac import checks
from hardened_rbac.exceptions import TenantNotSet
from hardened_rbac.models import Membership, Tenant
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.sandbox import seed_output

pytestmark = pytest.mark.django_db


DEMO_USERS = {"admin", "alice", "bob", "carol"}


def _run(capsys) -> str:
    call_command("sandbox_demo", skip_migrate=True)
    return str(capsys.readouterr().out)


def _seed(capsys) -> dict[str, str]:
    return seed_output.passwords(_run(capsys))


def _signed_in_with_both_factors(client, capsys, username: str) -> None:
    printed = _run(capsys)
    password = seed_output.passwords(printed)[username]
    factor = seed_output.second_factors(printed)[username]
    assert client.login(username=username, password=password)
    assert client.post("/auth/step-up/", {"code": factor.code()}).status_code == 302


def test_demo_command_seeds_the_tenants_and_prints_logins(capsys):
    passwords = _seed(capsys)
    assert set(passwords) == DEMO_USERS
    assert sorted(Tenant.objects.values_list("slug", flat=True)) == [
        "acme",
        "globex",
        "initech",
    ]
    assert Membership.objects.filter(user__username="carol").count() == 2
    with use_tenant(Tenant.objects.get(slug="acme")):
        assert Post.objects.count() == 3
    with use_tenant(Tenant.objects.get(slug="globex")):
        assert list(Post.objects.values_list("body", flat=True)) == [
            "Globex Guild opens its doors."
        ]


def test_demo_command_runs_twice_without_duplicating(capsys):
    _seed(capsys)
    with unscoped("the test counts every tenant's posts"):
        first = Post.objects.count()
    _seed(capsys)
    with unscoped("the test counts every tenant's posts"):
        assert Post.objects.count() == first == 4
    assert Tenant.objects.count() == 3


def test_home_page_shows_only_the_visitors_tenants(client, capsys):
    _signed_in_with_both_factors(client, capsys, "bob")
    body = client.get("/").content.decode()
    assert "Globex Guild opens its doors." in body
    assert "Welcome to Acme" not in body


def test_home_page_lists_the_posts_of_each_of_the_visitors_tenants(client, capsys):
    _signed_in_with_both_factors(client, capsys, "carol")
    body = client.get("/").content.decode()
    assert "in acme: Welcome to Acme" in body
    assert "in globex: Globex Guild opens its doors." in body


def test_posts_are_tenant_scoped(capsys):
    _seed(capsys)
    with pytest.raises(TenantNotSet):
        list(Post.objects.all())
    listed = {
        m.msg for m in checks.check_unscoped_models() if m.id == "hardened_rbac.W001"
    }
    assert listed
    assert checks.W001_MSG % "demo.Post" not in listed


def test_home_page_anonymous_shows_no_posts(client, capsys):
    _seed(capsys)
    response = client.get("/")
    assert response.status_code == 200
    assert "Welcome to Acme" not in response.content.decode()


def test_admin_lists_tenants_for_the_demo_superuser(client):
    call_command("sandbox_demo", skip_migrate=True, stdout=(out := io.StringIO()))
    printed = out.getvalue()
    password = seed_output.passwords(printed)["admin"]
    factor = seed_output.second_factors(printed)["admin"]
    assert client.login(username="admin", password=password)

    response = client.get("/admin/hardened_rbac/tenant/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/step-up/")

    client.post("/auth/step-up/", {"code": factor.code()})
    response = client.get("/admin/hardened_rbac/tenant/")
    assert response.status_code == 200
    assert "acme" in response.content.decode()


@pytest.mark.postgres
def test_postgres_run_uses_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (version,) = cursor.fetchone()
    assert int(version) >= 130000


@pytest.mark.redis
def test_redis_run_uses_redis_cache():
    key = f"probe-{uuid.uuid4()}"
    cache = caches["default"]
    cache.set(key, "value", 30)
    assert cache.get(key) == "value"
    assert type(cache).__name__ == "RedisCache"
    cache.delete(key)


def test_printed_accounts_sign_in_by_email_through_the_account_pages(client, capsys):
    printed = _run(capsys)
    password = seed_output.passwords(printed)["alice"]
    factor = seed_output.second_factors(printed)["alice"]
    response = client.post(
        "/accounts/login/", {"login": "alice@example.com", "password": password}
    )
    assert response.status_code == 302
    held = client.get("/")
    assert held.status_code == 302
    assert held["Location"].startswith("/auth/step-up/")

    assert client.post("/auth/step-up/", {"code": factor.code()}).status_code == 302
    assert client.get("/").context["user"].username == "alice"


def test_every_printed_user_gets_a_second_factor_that_verifies(capsys):
    printed = _run(capsys)
    factors = seed_output.second_factors(printed)
    assert set(factors) == DEMO_USERS
    for username, factor in factors.items():
        client = Client()
        assert client.login(
            username=username, password=seed_output.passwords(printed)[username]
        )
        assert (
            client.post(
                "/auth/step-up/", {"code": factor.recovery_codes[0]}
            ).status_code
            == 302
        )
        assert client.get("/").status_code == 200


def test_every_page_carries_a_policy_without_inline_script(client):
    for path in ("/", "/accounts/login/", "/accounts/signup/"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy


def test_scenario_seeders_run_after_the_core_data(settings, capsys):
    calls: list[tuple[dict, dict]] = []
    settings.SANDBOX_SEEDERS = ["tests.sandbox.test_demo.record_seed"]
    record_seed.calls = calls  # type: ignore[attr-defined]
    _seed(capsys)
    ((tenants, users),) = calls
    assert set(tenants) == {"acme", "globex"}
    assert set(users) >= {"alice", "bob"}


def record_seed(*, tenants, users, stdout) -> None:
    record_seed.calls.append((tenants, users))  # type: ignore[attr-defined]


def test_every_field_of_the_sandbox_is_classified():
    from django.apps import apps

    from hardened_privacy.classification import classified_fields
    from sandbox.settings import base

    def in_sandbox(config) -> bool:
        path = f"{type(config).__module__}.{type(config).__name__}"
        return config.name in base.INSTALLED_APPS or path in base.INSTALLED_APPS

    missing = [
        f"{model._meta.label}.{name}"
        for config in apps.get_app_configs()
        if in_sandbox(config)
        for model in config.get_models()
        for name, found in classified_fields(model).items()
        if found is None
    ]
    assert missing == []
