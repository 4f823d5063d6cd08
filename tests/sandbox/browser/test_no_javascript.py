"""The seeded sandbox in Chromium with JavaScript turned off.

The accounts are the ones ``manage.py sandbox_demo`` prints, and each signs
in with its printed password and second factor. Every step is a plain form:
signing in, posting to a feed, asking for and accepting a friend request,
and, with the local stand-in for Stripe, buying, paying, refunding and paying
out after a step-up. Passkeys are the one part that needs JavaScript, so
their button never appears.
"""

import io
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from market.models import Order
from market.provider import LOCAL_PROVIDER

from hardened_auth import stepup
from hardened_payments.conf import STRIPE_WEBHOOK_IPS
from hardened_payments.models import Payout, WebhookEvent
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import use_tenant
from tests.hardened_payments.conftest import purge_ledger_after
from tests.sandbox import seed_output
from tests.sandbox.browser.conftest import SCREENSHOTS

__all__ = ["purge_ledger_after"]

# The ledger refuses the TRUNCATE that empties the database after a
# transactional test on PostgreSQL; purge_ledger_after empties it first.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("purge_ledger_after"),
]


@pytest.fixture(autouse=True)
def local_provider(settings: Any) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = ""
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = ["whsec_" + "c" * 32]
    settings.HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = [*STRIPE_WEBHOOK_IPS, "127.0.0.1"]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def printed(local_provider: None) -> str:
    out = io.StringIO()
    call_command("sandbox_demo", skip_migrate=True, stdout=out)
    return out.getvalue()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"no-javascript-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def _submit(page: Any, selector: str) -> Any:
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def _age_step_up(page: Any) -> None:
    """Make the browser's last second-factor proof an hour old."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[stepup.SESSION_KEY] = int(time.time()) - 3600
    session.save()


def _sign_in(page: Any, base: str, printed: str, username: str, code: str) -> None:
    """Sign in by email and the printed password, then give ``code``."""
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    assert page.locator("#passkey-verification-button").count() == 0
    page.fill("input[name=login]", f"{username}@example.com")
    page.fill("input[name=password]", seed_output.passwords(printed)[username])
    _submit(page, "#login-form button[type=submit]")
    assert page.url.startswith(base + "/auth/step-up/")
    page.fill("input[name=code]", code)
    answer = _submit(page, "main form button[type=submit]")
    assert answer.status == 200
    assert page.url == base + "/"


def test_social_pages_work_as_plain_forms(
    live_server: Any, page: Any, printed: str, mailoutbox: list[Any]
) -> None:
    base = live_server.url
    factors = seed_output.second_factors(printed)
    mailoutbox.clear()

    _sign_in(page, base, printed, "carol", factors["carol"].code())
    _shot(page, "home")
    page.goto(base + "/t/acme/social/feed/")
    page.fill("textarea[name=body]", "Cuttings on the bench, take what you like.")
    page.select_option("select[name=visibility]", "tenant")
    _submit(page, "#new-post button[type=submit]")
    assert page.url == base + "/t/acme/social/feed/"
    assert page.locator("#posts li", has_text="Cuttings on the bench").count() == 1
    _shot(page, "social-feed")

    page.goto(base + "/t/acme/social/friends/")
    page.fill("input[name=email]", "admin@example.com")
    _submit(page, "#friend-request button[type=submit]")
    assert page.locator("#request-answer").is_visible()
    _shot(page, "social-friend-request-sent")
    assert [m.to for m in mailoutbox] == [["admin@example.com"]]
    found = re.search(r"(http://\S+/accept/\?token=\S+)", mailoutbox[0].body)
    assert found is not None

    _sign_in(page, base, printed, "admin", factors["admin"].code())
    page.goto(found[1])
    assert "carol would like to be your friend" in page.inner_text("main")
    _submit(page, "#accept button[type=submit]")
    assert page.url == base + "/t/acme/social/friends/"
    assert page.locator("#friends li").all_inner_texts() == ["carol"]
    _shot(page, "social-friend-accepted")

    _sign_in(page, base, printed, "alice", factors["alice"].code())
    page.goto(base + "/t/acme/social/friends/")
    incoming = page.locator("#incoming li", has_text="carol would like")
    with page.expect_navigation():
        incoming.locator("button[type=submit]").click()
    assert page.url == base + "/t/acme/social/friends/"
    assert page.locator("#friends li").all_inner_texts() == ["carol"]
    _shot(page, "social-seeded-request-accepted")
    page.goto(base + "/t/acme/social/feed/")
    assert page.locator("#posts li", has_text="Cuttings on the bench").count() == 1


def test_market_checkout_refund_and_payout_work_as_plain_forms(
    live_server: Any, page: Any, printed: str
) -> None:
    base = live_server.url
    factors = seed_output.second_factors(printed)
    acme = Tenant.objects.get(slug="acme")

    _sign_in(page, base, printed, "alice", factors["alice"].code())
    page.goto(base + "/t/acme/market/")
    _shot(page, "market-index")
    _submit(page, "text=Hand-thrown teapot")
    assert page.locator("#price").inner_text() == "45.00 USD"
    answer = _submit(page, "#checkout button[type=submit]")
    assert answer.status == 200
    assert "/t/acme/market/provider/checkout/cs_local" in page.url
    assert page.locator("#total").inner_text() == "45.00 USD"
    _shot(page, "market-local-checkout")
    _submit(page, "button[value=pay]")
    with use_tenant(acme):
        order = Order.objects.get()
    assert page.url == f"{base}/t/acme/market/orders/{order.pk}/"
    assert page.locator("#order-status").inner_text() == "paid"
    assert WebhookEvent.objects.get().type == "checkout.session.completed"
    _shot(page, "market-order-paid")

    _sign_in(page, base, printed, "carol", factors["carol"].recovery_codes[0])
    page.goto(base + "/t/acme/market/balance/")
    assert page.locator("#balance").inner_text() == "40.50 USD"
    page.goto(base + "/t/acme/market/orders/")
    _shot(page, "market-orders")
    _submit(page, f"#sales a[href$='/orders/{order.pk}/']")
    page.fill("#refund input[name=amount]", "10.00")
    _submit(page, "#refund button[type=submit]")
    assert page.url == f"{base}/t/acme/market/orders/{order.pk}/"
    assert page.locator("#refunded").inner_text() == "10.00 USD"
    _shot(page, "market-order-refunded")

    page.goto(base + "/t/acme/market/balance/")
    assert page.locator("#balance").inner_text() == "31.50 USD"
    _age_step_up(page)
    page.fill("#payout input[name=amount]", "30.00")
    _submit(page, "#payout button[type=submit]")
    assert page.url.startswith(base + "/t/acme/auth/step-up/")
    assert not Payout.objects.exists()
    _shot(page, "market-payout-step-up")
    page.fill("input[name=code]", factors["carol"].code())
    _submit(page, "main form button[type=submit]")
    assert page.url == base + "/t/acme/market/balance/"
    page.fill("#payout input[name=amount]", "30.00")
    _submit(page, "#payout button[type=submit]")
    assert page.url == base + "/t/acme/market/balance/"
    assert page.locator("#balance").inner_text() == "1.50 USD"
    assert page.locator("#in-transit").inner_text() == "30.00 USD"
    assert page.locator(".payout-status").inner_text() == "pending"
    _shot(page, "market-payout-pending")
    _submit(page, "text=Have the sandbox bank pay it")
    assert page.locator(".payout-status").inner_text() == "paid"
    assert page.locator("#in-transit").inner_text() == "0.00 USD"
    assert Payout.objects.get().status == Payout.Status.PAID
    _shot(page, "market-payout-paid")
