"""The route inventory reads each view's marks and fails on unguarded routes.

This module is also the URL configuration the tests inventory.
"""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.management import CommandError, call_command
from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver, include, path
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from django_ratelimit.decorators import ratelimit

from hardened_auth.stepup import StepUpRequiredMixin, step_up_required
from hardened_auth.tokens import bearer_token_required
from hardened_payments.idempotency import idempotent
from hardened_rbac import checks
from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.internal.route_inventory import walk
from hardened_rbac.middleware import view_is_covered
from hardened_rbac.models import Tenant
from hardened_rbac.routes import inventory, public_route

URLCONF = "tests.hardened_rbac.test_routes"
GUARDED_URLCONF = "tests.hardened_rbac.guarded_urls"
SANDBOX = Path(__file__).resolve().parents[2] / "sandbox_project"


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


@step_up_required()
def fresh(request: HttpRequest) -> HttpResponse:
    return HttpResponse("fresh")


@idempotent
def pay(request: HttpRequest) -> HttpResponse:
    return HttpResponse("paid")


@bearer_token_required
def api(request: HttpRequest) -> HttpResponse:
    return HttpResponse("api")


class Settings(StepUpRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("settings")


class AdminLookAlike(RedirectView):
    """Names an admin site, but nothing puts the admin's staff check on it."""

    admin_site = admin.site


bare_admin = admin.ModelAdmin(Tenant, admin.site)


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
    path("fresh/", fresh, name="fresh"),
    path("pay/", pay, name="pay"),
    path("api/", api, name="api"),
    path("settings/", Settings.as_view(), name="settings"),
    path("bare-admin/", bare_admin.changelist_view, name="bare_admin"),
    path("look-alike/", AdminLookAlike.as_view(url="/"), name="look_alike"),
    path("admin/", admin.site.urls),
]


def _by_name(urlconf: str = URLCONF) -> dict[str, dict]:
    return {(r.name or r.pattern): r.as_dict() for r in inventory(urlconf)}


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


def test_this_distributions_decorators_count_as_authentication():
    routes = _by_name()
    assert routes["fresh"]["authentication"] == (
        "step-up (hardened_auth step_up_required)"
    )
    assert routes["settings"]["authentication"] == "mixin (StepUpRequiredMixin)"
    assert routes["pay"]["authentication"] == (
        "signed in (hardened_payments idempotent)"
    )
    assert routes["api"]["authentication"] == (
        "bearer token (hardened_auth bearer_token_required)"
    )
    for name in ("fresh", "settings", "pay", "api"):
        assert routes[name]["problems"] == ["no policy"]


def test_admin_views_need_staff_and_answer_to_the_admins_permissions():
    routes = _by_name()
    changelist = routes["admin:hardened_rbac_tenant_changelist"]
    assert changelist["view"] == (
        "django.contrib.admin.options.ModelAdmin.changelist_view"
    )
    assert (changelist["authentication"], changelist["policy"]) == (
        "staff (admin site)",
        "exempt module django.contrib.admin",
    )
    redirect = routes["/admin/hardened_rbac/tenant/<path:object_id>/"]
    assert redirect["view"] == "django.views.generic.base.RedirectView"
    assert redirect["authentication"] == "staff (admin site)"
    assert redirect["problems"] == []
    verify = routes["admin:hardened_privacy_auditrecord_verify"]
    assert verify["view"] == (
        "hardened_privacy.admin.AuditRecordAdmin.verify_chains_view"
    )
    assert (verify["authentication"], verify["policy"]) == (
        "staff (admin site)",
        "admin site permissions",
    )

    admin_routes = [r for r in routes.values() if r["pattern"].startswith("/admin/")]
    assert len(admin_routes) > 100
    assert [r["name"] for r in admin_routes if r["problems"]] == []
    assert {
        r["authentication"] for r in admin_routes if r["name"] != "admin:login"
    } == {"staff (admin site)"}


def test_admin_look_alikes_are_not_taken_for_the_admin():
    routes = _by_name()
    assert routes["bare_admin"]["problems"] == ["no authentication requirement"]
    assert routes["look_alike"]["problems"] == [
        "no policy",
        "no authentication requirement",
    ]
    for name in ("bare_admin", "look_alike"):
        assert routes[name]["authentication"] == "none"


def test_policy_middleware_lets_admin_views_through_and_refuses_look_alikes():
    views = {
        name or "/" + route: view
        for route, name, view in walk(get_resolver(URLCONF).url_patterns)
    }
    assert view_is_covered(views["admin:hardened_rbac_tenant_changelist"])
    assert view_is_covered(views["/admin/hardened_rbac/tenant/<path:object_id>/"])
    assert view_is_covered(views["admin:hardened_privacy_auditrecord_verify"])
    assert not view_is_covered(views["look_alike"])


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
    settings.HARDENED_RBAC_PUBLIC_ROUTES = ["/hook/"]
    out = StringIO()
    call_command("hardened_rbac_routes", f"--urlconf={GUARDED_URLCONF}", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "| pattern | name | view | authentication | policy | rate_limit | csrf "
        "| public | problems |"
    )
    assert any(line.startswith("| /ops/status\\|ok/ | ops:status |") for line in lines)
    assert all(line.count(" | ") == 8 for line in lines[2:] if "status" not in line)
    assert all(line.endswith(" |  |") for line in lines[2:])
    routes = _by_name(GUARDED_URLCONF)
    assert routes["hook"]["public"] == "setting /hook/"
    assert routes["landing"]["public"] == "login_not_required"
    assert {r["public"] for r in routes.values()} == {
        None,
        "setting /hook/",
        "login_not_required",
    }

    settings.HARDENED_RBAC_PUBLIC_ROUTES = []
    with pytest.raises(CommandError, match="lack a policy"):
        call_command(
            "hardened_rbac_routes", f"--urlconf={GUARDED_URLCONF}", stdout=StringIO()
        )


def test_the_sandbox_inventory_is_clean():
    routes = inventory()
    assert len(routes) > 250
    assert [(r.pattern, r.problems) for r in routes if r.problems] == []


def test_the_sandbox_refuses_views_without_a_policy_and_has_none(settings):
    assert checks.POLICY_MIDDLEWARE in settings.MIDDLEWARE
    assert checks.check_views_without_policy() == []


def test_the_sandbox_route_command_exits_zero():
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    finished = subprocess.run(
        [sys.executable, "manage.py", "hardened_rbac_routes", "--format=json"],
        cwd=SANDBOX,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    routes = json.loads(finished.stdout)
    assert len(routes) > 250
    assert not any(r["problems"] for r in routes)
