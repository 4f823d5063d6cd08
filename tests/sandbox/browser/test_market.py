"""The marketplace in Chromium, with the sandbox's local provider as Stripe.

Alice buys Carol's teapot on the stand-in checkout page, which delivers a
signed ``checkout.session.completed`` event to the webhook endpoint; Carol
sees the sale in her ledger balance, refunds part of it, and pays out after
a step-up with her authenticator app.
"""

import time

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.backends.db import SessionStore
from market.models import Listing, Order
from market.provider import LOCAL_PROVIDER

from hardened_auth import stepup
from hardened_auth.models import TOTP_STEP_SECONDS, TOTPDevice
from hardened_payments.conf import STRIPE_WEBHOOK_IPS
from hardened_payments.internal import payouts
from hardened_payments.models import Payout, WebhookEvent
from hardened_rbac.tenancy import use_tenant
from tests.factories import (
    DEFAULT_PASSWORD,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)
from tests.hardened_payments.conftest import purge_ledger_after

__all__ = ["purge_ledger_after"]

# The ledger refuses the TRUNCATE that empties the database after a
# transactional test on PostgreSQL; purge_ledger_after empties it first.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("purge_ledger_after"),
]


class Codes:
    """Codes of one TOTP device, each from a later time step than the last.

    The first is the current step's, not the previous one's: under load the
    page may submit it a step later, and the device accepts one step either
    side of its own clock.
    """

    def __init__(self, device: TOTPDevice) -> None:
        self.device = device
        self.last = -1

    def next(self) -> str:
        now = int(time.time()) // TOTP_STEP_SECONDS
        step = max(self.last + 1, now)
        assert step <= now + 1, "ran out of TOTP steps; the test took too long"
        self.last = step
        return self.device.code_at(step)


@pytest.fixture(autouse=True)
def local_provider(settings):
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = ""
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = ["whsec_" + "b" * 32]
    settings.HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = [*STRIPE_WEBHOOK_IPS, "127.0.0.1"]


def member(username, tenant):
    user = UserFactory(username=username)
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    MembershipFactory(tenant=tenant, user=user)
    return user


def sign_in(page, base, email):
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def step_up(page, code):
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def age_step_up(page):
    """Make the browser's last second-factor proof an hour old."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[stepup.SESSION_KEY] = int(time.time()) - 3600
    session.save()


def test_buy_refund_and_pay_out(live_server, page, screenshot):
    base = live_server.url
    acme = TenantFactory(slug="acme", name="Acme Cooperative")
    carol = member("carol", acme)
    alice = member("alice", acme)
    codes = Codes(TOTPDevice.objects.create(user=carol, name="phone", confirmed=True))
    with use_tenant(acme):
        teapot = Listing.objects.create(
            seller=carol, title="Hand-thrown teapot", price=4500, currency="USD"
        )
    payouts.set_destination(acme, carol.pk, "acct_sandboxcarol", None)

    sign_in(page, base, alice.email)
    page.goto(base + "/t/acme/market/")
    screenshot("market-index")
    page.click("text=Hand-thrown teapot")
    assert page.url == f"{base}/t/acme/market/listings/{teapot.pk}/"
    assert page.locator("#price").inner_text() == "45.00 USD"
    screenshot("market-listing")
    with page.expect_navigation():
        page.click("#checkout button[type=submit]")
    assert "/t/acme/market/provider/checkout/cs_local" in page.url
    assert page.locator("#total").inner_text() == "45.00 USD"
    screenshot("market-local-checkout")
    with page.expect_navigation():
        page.click("button[value=pay]")
    with use_tenant(acme):
        order = Order.objects.get()
    assert page.url == f"{base}/t/acme/market/orders/{order.pk}/"
    assert page.locator("#order-status").inner_text() == "paid"
    assert WebhookEvent.objects.get().type == "checkout.session.completed"
    screenshot("market-order-paid")

    sign_in(page, base, carol.email)
    assert page.url.startswith(base + "/auth/step-up/")
    step_up(page, codes.next())
    page.goto(base + "/t/acme/market/balance/")
    assert page.locator("#balance").inner_text() == "40.50 USD"
    assert "Checkout paid" in page.locator("#ledger").inner_text()
    screenshot("market-balance")

    page.goto(f"{base}/t/acme/market/orders/{order.pk}/")
    page.fill("input[name=amount]", "10.00")
    with page.expect_navigation():
        page.click("#refund button[type=submit]")
    assert page.locator("#refunded").inner_text() == "10.00 USD"
    screenshot("market-order-refunded")
    page.goto(base + "/t/acme/market/balance/")
    assert page.locator("#balance").inner_text() == "31.50 USD"

    age_step_up(page)
    page.fill("#payout input[name=amount]", "30.00")
    with page.expect_navigation():
        page.click("#payout button[type=submit]")
    assert page.url.startswith(base + "/t/acme/auth/step-up/")
    screenshot("market-payout-step-up")
    assert not Payout.objects.exists()
    step_up(page, codes.next())
    assert page.url == base + "/t/acme/market/balance/"
    page.fill("#payout input[name=amount]", "30.00")
    with page.expect_navigation():
        page.click("#payout button[type=submit]")
    assert page.locator("#balance").inner_text() == "1.50 USD"
    assert page.locator("#in-transit").inner_text() == "30.00 USD"
    assert page.locator(".payout-status").inner_text() == "pending"
    screenshot("market-payout-pending")

    with page.expect_navigation():
        page.click("text=Have the sandbox bank pay it")
    assert page.locator(".payout-status").inner_text() == "paid"
    assert page.locator("#in-transit").inner_text() == "0.00 USD"
    assert Payout.objects.get().status == Payout.Status.PAID
    screenshot("market-payout-paid")
