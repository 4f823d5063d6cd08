"""The enterprise SSO scenario in Chromium, seeded as ``sandbox_demo`` seeds it.

Initech's people sign in through the sandbox's demo identity provider at
``/idp/`` on the live server: the site's "Initech SSO" button sends the
browser to the provider with a PKCE challenge, the provider's sign-in page
takes the printed password, and the callback lands them signed in with the
role their provider group maps to. The seed registers the sandbox with the
provider as a trusted client, so no consent page comes between. Peter, an
Engineer, sees no Delete button on Milton's post; Bill, a Manager, deletes
it. The printed SCIM token then deprovisions Bill from outside the browser,
his next page load is signed out, and the provider can no longer sign him
in. Last, the seeded superuser changes Initech in the admin and verifies
the audit chains there.
"""

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.handlers.base import BaseHandler
from django.core.management import call_command
from enterprise.seed import POST_AUTHOR, POST_BODY, TENANT_NAME
from market.provider import LOCAL_PROVIDER

from hardened_auth.models import UserSession
from hardened_payments.conf import STRIPE_WEBHOOK_IPS
from hardened_privacy.models import AuditRecord
from hardened_rbac.models import ScimUser, Tenant
from tests.hardened_payments.conftest import purge_ledger_after
from tests.sandbox import seed_output
from tests.sandbox.enterprise.demo_idp import (
    demo_provider,
    printed_password,
    printed_scim_id,
    printed_scim_token,
)

__all__ = ["purge_ledger_after"]

# The ledger refuses the TRUNCATE that empties the database after a
# transactional test on PostgreSQL; purge_ledger_after empties it first.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("purge_ledger_after"),
]

FEED = "/t/initech/social/feed/"


def _load_middleware(live_server: Any) -> None:
    """Build the live server's middleware again from ``settings.MIDDLEWARE``.

    The server's handlers build their chains once, when the server starts;
    the demo provider needs its own session middleware, which the test
    settings leave out.
    """
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        if isinstance(handler, BaseHandler) and getattr(
            handler, "_middleware_chain", None
        ):
            handler.load_middleware()
        handler = getattr(handler, "application", None)


@pytest.fixture
def printed(live_server: Any, settings: Any) -> Iterator[str]:
    """What ``sandbox_demo`` prints, with the demo provider on the live server."""
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = ""
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = ["whsec_" + "e" * 32]
    settings.HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = [*STRIPE_WEBHOOK_IPS, "127.0.0.1"]
    middleware = settings.MIDDLEWARE
    with demo_provider(live_server, settings):
        _load_middleware(live_server)
        out = io.StringIO()
        call_command("sandbox_demo", skip_migrate=True, stdout=out)
        try:
            yield out.getvalue()
        finally:
            settings.MIDDLEWARE = middleware
            _load_middleware(live_server)


def _shot(screenshot: Any, name: str) -> None:
    assert screenshot(f"enterprise-{name}").stat().st_size > 0


def _submit(page: Any, selector: str) -> Any:
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def _site_session(page: Any) -> str | None:
    """The site's own session cookie, not the provider's under ``/idp/``."""
    for cookie in page.context.cookies():
        if cookie["name"] == "sessionid" and cookie["path"] == "/":
            return str(cookie["value"])
    return None


def _signed_in_as(page: Any) -> str | None:
    nav = page.locator("#nav strong")
    return str(nav.inner_text()) if nav.count() else None


def _sso_sign_in(
    page: Any, base: str, printed: str, email: str, screenshot: Any = None
) -> list[str]:
    """Sign in as ``email`` through the provider; return the pages visited.

    The browser starts with no cookies, so the provider asks for the
    password too.
    """
    page.context.clear_cookies()
    visited: list[str] = []

    def record(request: Any) -> None:
        if request.is_navigation_request():
            visited.append(request.url)

    page.on("request", record)
    page.goto(base + "/accounts/login/")
    if screenshot:
        _shot(screenshot, "login")
    _submit(page, "a[title='Initech SSO']")
    assert page.url == base + "/accounts/oidc/initech/login/?process=login"
    if screenshot:
        _shot(screenshot, "sso-confirm")
    _submit(page, "form[method=post] button[type=submit]")
    assert page.url.startswith(base + "/idp/login/?next=/idp/authorize/")
    assert _signed_in_as(page) is None
    if screenshot:
        _shot(screenshot, "idp-login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", printed_password(printed, email))
    answer = _submit(page, "main form button[type=submit]")
    page.remove_listener("request", record)
    assert answer.status == 200
    return visited


def _authorize_query(visited: list[str], base: str) -> dict[str, str]:
    """The query of the first request to the provider's authorization page."""
    authorize = next(u for u in visited if u.startswith(base + "/idp/authorize/?"))
    return {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}


def _callback_query(visited: list[str], base: str) -> dict[str, str]:
    callback = base + "/accounts/oidc/initech/login/callback/?"
    [url] = [u for u in visited if u.startswith(callback)]
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _open_miltons_post(page: Any, base: str, printed: str) -> None:
    milton = ScimUser.objects.get(pk=printed_scim_id(printed, POST_AUTHOR))
    page.goto(base + FEED)
    post = page.locator("#posts li", has_text=POST_BODY)
    assert post.count() == 1
    assert post.locator("strong").inner_text() == milton.membership.user.username
    with page.expect_navigation():
        post.locator("a", has_text="open").click()


def _admin_sign_in(page: Any, base: str, printed: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.fill("input[name=login]", "admin@example.com")
    page.fill("input[name=password]", seed_output.passwords(printed)["admin"])
    _submit(page, "#login-form button[type=submit]")
    assert page.url.startswith(base + "/auth/step-up/")
    page.fill("input[name=code]", seed_output.second_factors(printed)["admin"].code())
    _submit(page, "main form button[type=submit]")
    assert page.url == base + "/"


def test_sso_sign_in_maps_roles_and_scim_deprovisioning_signs_out(
    live_server: Any, page: Any, screenshot: Any, printed: str
) -> None:
    base = live_server.url
    peter = "peter@initech.example"
    bill = "bill@initech.example"

    visited = _sso_sign_in(page, base, printed, peter, screenshot)
    assert [urlsplit(url).path for url in visited] == [
        "/accounts/login/",
        "/accounts/oidc/initech/login/",
        "/accounts/oidc/initech/login/",
        "/idp/authorize/",
        "/idp/login/",
        "/idp/login/",
        "/idp/authorize/",
        "/accounts/oidc/initech/login/callback/",
        "/",
    ]
    authorize = _authorize_query(visited, base)
    assert authorize["client_id"] == "initech-sandbox"
    assert authorize["redirect_uri"] == base + "/accounts/oidc/initech/login/callback/"
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["code_challenge"]) == 43
    assert set(authorize["scope"].split()) == {"openid", "email", "profile", "groups"}
    assert _callback_query(visited, base)["state"] == authorize["state"]
    assert "code" in _callback_query(visited, base)
    assert page.url == base + "/"
    assert _signed_in_as(page) == peter
    cookies = {c["name"]: c["path"] for c in page.context.cookies()}
    assert cookies["sessionid"] == "/"
    assert cookies["sandbox_idp_sessionid"] == "/idp/"
    _shot(screenshot, "signed-in-engineer")
    _open_miltons_post(page, base, printed)
    assert page.locator("button", has_text="Delete this post").count() == 0
    _shot(screenshot, "engineer-post")

    _sso_sign_in(page, base, printed, bill)
    assert page.url == base + "/"
    assert _signed_in_as(page) == bill
    _open_miltons_post(page, base, printed)
    post_url = page.url
    delete = page.locator("button", has_text="Delete this post")
    assert delete.count() == 1
    _shot(screenshot, "manager-post")
    with page.expect_navigation():
        delete.click()
    assert page.locator("#posts li", has_text=POST_BODY).count() == 0
    _shot(screenshot, "manager-deleted-post")
    assert page.goto(post_url).status == 404
    page.goto(base + "/")
    assert _signed_in_as(page) == bill
    account = ScimUser.objects.get(pk=printed_scim_id(printed, bill)).membership.user
    assert UserSession.objects.filter(user_id=account.pk).exists()

    deleted = requests.delete(
        f"{base}/scim/v2/Users/{printed_scim_id(printed, bill)}",
        headers={"Authorization": f"Bearer {printed_scim_token(printed)}"},
        timeout=10,
    )
    assert deleted.status_code == 204
    assert not UserSession.objects.filter(user_id=account.pk).exists()
    signed_in_cookie = _site_session(page)
    assert page.goto(base + FEED).status == 404
    assert _site_session(page) != signed_in_cookie
    page.goto(base + "/")
    assert _signed_in_as(page) is None
    assert page.locator("#nav a", has_text="Sign in").count() == 1
    _shot(screenshot, "deprovisioned-signed-out")

    page.goto(base + "/accounts/login/")
    _submit(page, "a[title='Initech SSO']")
    refused = _submit(page, "form[method=post] button[type=submit]")
    assert refused.url.startswith(base + "/accounts/oidc/initech/login/callback/")
    assert refused.status == 401
    _shot(screenshot, "deprovisioned-sso-refused")
    page.goto(base + "/")
    assert _signed_in_as(page) is None


def test_superuser_changes_initech_in_the_admin_and_verifies_the_audit_chains(
    live_server: Any, page: Any, screenshot: Any, printed: str
) -> None:
    base = live_server.url
    initech = Tenant.objects.get(slug="initech")

    _admin_sign_in(page, base, printed)
    page.goto(base + "/admin/")
    assert page.url == base + "/admin/"
    _shot(screenshot, "admin-index")
    page.goto(base + "/admin/hardened_rbac/tenant/")
    _submit(page, f"#result_list a[href$='/tenant/{initech.pk}/change/']")
    assert page.locator("input[name=name]").input_value() == TENANT_NAME
    page.fill("input[name=name]", "Initech Corporation")
    _submit(page, "input[name=_save]")
    assert page.url == base + "/admin/hardened_rbac/tenant/"
    assert "was changed successfully" in page.inner_text("ul.messagelist")
    _shot(screenshot, "admin-tenant-changed")
    initech.refresh_from_db()
    assert initech.name == "Initech Corporation"
    changed = AuditRecord.objects.get(event="admin_object_changed")
    assert changed.target == f"hardened_rbac.tenant:{initech.pk}"

    page.goto(base + "/admin/")
    _submit(page, "a[href='/admin/hardened_privacy/auditrecord/']")
    assert page.locator("#result_list").is_visible()
    _shot(screenshot, "admin-audit-records")
    _submit(page, "text=Verify chains")
    assert page.locator("#chain-reports").count() == 0
    answer = _submit(page, "input[type=submit][value='Verify chains']")
    assert answer.status == 200
    chains = page.locator("#chain-reports tbody tr")
    assert chains.count() == AuditRecord.objects.values("chain").distinct().count()
    assert f"All {chains.count()} chains intact." in page.inner_text("#content-main")
    assert page.locator("td.chain-intact").count() == chains.count()
    assert page.locator("td.chain-broken").count() == 0
    _shot(screenshot, "admin-chains-verified")
