"""The route inventory reads each view's marks and fails on unguarded routes.

This module is also the URL configuration the tests inventory.
"""

import json
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.management import CommandError, call_command
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit

from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.models import Tenant
from hardened_rbac.routes import inventory, public_route

URLCONF = "tests.hardened_rbac.test_routes"


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain")


@login_required
@policy_required("view", Tenant)
def guarded(request: HttpRequest) -> HttpResponse:
    return HttpResponse("guarded")


@login_required
def signed_in_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse("signed in")


@public_route(reason="The landing page shows no data.")
def landing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("landing")


@login_not_required
def no_login_no_policy(request: HttpRequest) -> HttpResponse:
    return HttpResponse("open")


@csrf_exempt
@policy_exempt(reason="Signed webhook.")
def hook(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hook")


@ratelimit(key="ip", rate="5/m")
@login_required
@policy_exempt(reason="Search over public data.")
def search(request: HttpRequest) -> HttpResponse:
    return HttpResponse("search")


class Dashboard(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("dashboard")


nested = (
    [path("status|ok/", plain, name="status")],
    "ops",
)

urlpatterns = [
    path("plain/", plain, name="plain"),
    path("guarded/", guarded, name="guarded"),
    path("signed-in/", signed_in_only, name="signed_in"),
    path("", landing, name="landing"),
    path("open/", no_login_no_policy, name="open"),
    path("hook/", hook, name="hook"),
    path("search/", search, name="search"),
    path("dashboard/", policy_exempt("Own data.")(Dashboard.as_view()), name="dash"),
    path("ops/", include(nested)),
    path("admin/", admin.site.urls),
]


def _by_name() -> dict[str, dict]:
    return {
        (r.name or r.pattern): r.as_dict()
        for r in inventory(URLCONF)
        if not r.pattern.startswith("/admin/")
        or r.name == "admin:login"
        or r.name == "admin:index"
    }


def test_each_column_reads_the_existing_marks():
    routes = _by_name()
    assert routes["guarded"] == {
        "pattern": "/guarded/",
        "name": "guarded",
        "view": "tests.hardened_rbac.test_routes.guarded",
        "authentication": "decorator (login_required / user_passes_test)",
        "policy": "view hardened_rbac.Tenant",
        "rate_limit": "none",
        "csrf": "protected",
        "public": None,
        "problems": [],
    }
    assert routes["plain"]["problems"] == [
        "no policy",
        "no authentication requirement",
    ]
    assert routes["signed_in"]["problems"] == ["no policy"]
    assert routes["open"]["public"] == "login_not_required"
    assert routes["open"]["problems"] == ["no policy"]
    assert routes["hook"]["csrf"] == "exempt"
    assert routes["hook"]["policy"] == "exempt: Signed webhook."
    assert routes["hook"]["problems"] == ["no authentication requirement"]
    assert routes["search"]["rate_limit"] == "django-ratelimit 5/m by ip"
    assert routes["search"]["problems"] == []
    assert routes["dash"]["authentication"] == "mixin (LoginRequiredMixin, AccessMixin)"
    assert routes["dash"]["view"] == "tests.hardened_rbac.test_routes.Dashboard"
    assert routes["ops:status"]["pattern"] == "/ops/status|ok/"
    assert routes["admin:index"]["authentication"] == "staff (admin site)"
    assert routes["admin:login"]["authentication"] == (
        "not required (login_not_required)"
    )


def test_public_route_decorator_uses_djangos_and_the_policy_marks():
    assert getattr(landing, "login_required", None) is False
    reason = getattr(landing, "hardened_rbac_policy_exempt", None)
    assert reason == "The landing page shows no data."
    route = _by_name()["landing"]
    assert route["public"] == "login_not_required"
    assert route["policy"] == "exempt: The landing page shows no data."
    assert route["problems"] == []


def test_public_setting_matches_names_and_paths(settings):
    settings.HARDENED_RBAC_PUBLIC_ROUTES = ["pla*", "/hook/", "/ops/*"]
    routes = _by_name()
    assert routes["plain"]["public"] == "setting pla*"
    assert routes["hook"]["public"] == "setting /hook/"
    assert routes["ops:status"]["public"] == "setting /ops/*"
    for name in ("plain", "hook", "ops:status"):
        assert routes[name]["problems"] == []
    assert routes["signed_in"]["problems"] == ["no policy"]


def test_hardened_auth_rate_limits_are_read_from_its_settings(settings):
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {"plain": "login"}
    settings.HARDENED_AUTH_RATE_LIMITS = {"login": {"ip": "3/m", "identifier": "2/m"}}
    assert _by_name()["plain"]["rate_limit"] == (
        "hardened_auth login (identifier 2/m, ip 3/m)"
    )
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "hardened_auth.middleware.RateLimitMiddleware"
    ]
    assert _by_name()["plain"]["rate_limit"] == "none"


def test_site_wide_login_and_missing_csrf_middleware(settings):
    settings.MIDDLEWARE = [
        *[m for m in settings.MIDDLEWARE if "csrf" not in m.lower()],
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    routes = _by_name()
    assert routes["plain"]["authentication"] == "middleware (LoginRequiredMiddleware)"
    assert routes["plain"]["problems"] == ["no policy"]
    assert routes["open"]["authentication"] == "not required (login_not_required)"
    assert routes["plain"]["csrf"] == "unprotected (no CsrfViewMiddleware)"


def test_command_prints_json_and_fails_on_unguarded_routes():
    out = StringIO()
    with pytest.raises(CommandError, match="lack a policy") as failed:
        call_command(
            "hardened_rbac_routes", "--format=json", f"--urlconf={URLCONF}", stdout=out
        )
    assert failed.value.returncode == 1
    routes = {r["name"]: r for r in json.loads(out.getvalue())}
    assert routes["plain"]["problems"] == ["no policy", "no authentication requirement"]
    assert routes["guarded"]["problems"] == []


def test_command_prints_markdown_and_passes_when_every_route_is_guarded(settings):
    settings.HARDENED_RBAC_PUBLIC_ROUTES = ["*", "/*"]
    out = StringIO()
    call_command("hardened_rbac_routes", f"--urlconf={URLCONF}", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "| pattern | name | view | authentication | policy | rate_limit | csrf "
        "| public | problems |"
    )
    assert any(line.startswith("| /ops/status\\|ok/ | ops:status |") for line in lines)
    assert all(line.count(" | ") == 8 for line in lines[2:] if "status" not in line)
