"""hardened_rbac.E014: features that lean on hardened_auth need it installed."""

import sys

from django.conf import settings
from django.test import override_settings

import hardened_rbac.friend_requests  # noqa: F401
from hardened_rbac import checks

WITHOUT_AUTH = [app for app in settings.INSTALLED_APPS if app != "hardened_auth"]
FEATURES = [
    "TenantMiddleware (client addresses from hardened_auth.client_ip)",
    "SCIM provisioning (ending sessions with hardened_auth.sessions)",
    "The friend-request limits (client addresses from hardened_auth.client_ip)",
]


def _found():
    return [(m.id, m.msg) for m in checks.check_auth_dependency()]


def test_installed_hardened_auth_passes():
    assert "hardened_auth" in settings.INSTALLED_APPS
    assert _found() == []


@override_settings(INSTALLED_APPS=WITHOUT_AUTH, ROOT_URLCONF="sandbox.urls")
def test_each_feature_without_hardened_auth_is_an_error():
    assert "hardened_rbac.middleware.TenantMiddleware" in settings.MIDDLEWARE
    assert _found() == [
        ("hardened_rbac.E014", checks.E014_MSG % feature) for feature in FEATURES
    ]
    assert all(
        (m.hint or "").startswith("Add 'hardened_auth' to INSTALLED_APPS")
        for m in checks.check_auth_dependency()
    )


@override_settings(
    INSTALLED_APPS=WITHOUT_AUTH,
    ROOT_URLCONF="tests.hardened_rbac.test_checks_auth_dependency",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
)
def test_nothing_that_needs_hardened_auth_is_silent(monkeypatch):
    monkeypatch.delitem(sys.modules, "hardened_rbac.friend_requests")
    assert _found() == []


urlpatterns: list = []
