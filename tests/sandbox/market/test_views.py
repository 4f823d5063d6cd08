"""The marketplace pages, with the sandbox's local provider playing Stripe.

No Stripe keys are set here, so the market's stand-in answers the provider
calls and its pages deliver signed events to the real webhook endpoint.
"""

import io
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import stripe
from django.core.management import call_command
from django.urls import reverse
from market import local
from market.models import Listing, LocalProviderObject, Order
from market.provider import LOCAL_PROVIDER, LocalProvider, connected_balance
from market.seed import seed

from hardened_auth import stepup
from hardened_payments import ledger
from hardened_payments.checkout import fees_account
from hardened_payments.conf import STRIPE_WEBHOOK_IPS
from hardened_payments.exceptions import ProviderError
from hardened_payments.internal import payouts
from hardened_payments.models import (
    CheckoutSession,
    LedgerTransfer,
    Payout,
    PayoutDestination,
    Refund,
    WebhookEvent,
)
from hardened_payments.money import Money
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "m" * 32
KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture(autouse=True)
def local_provider(settings):
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = ""
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET]
    settings.HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = [*STRIPE_WEBHOOK_IPS, "127.0.0.1"]
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {}


@pytest.fixture
def world():
    tenant = TenantFactory(slug="acme")
    other = TenantFactory(slug="globex")
    seller = MembershipFactory(tenant=tenant).user
    buyer = MembershipFactory(tenant=tenant).user
    MembershipFactory(tenant=other, user=seller)
    with use_tenant(tenant):
        listing = Listing.objects.create(
            seller=seller, title="Teapot", price=4500, currency="USD"
        )
    with use_tenant(other):
        lamp = Listing.objects.create(
            seller=seller, title="Lamp", price=12000, currency="USD"
        )
    payouts.set_destination(tenant, seller.pk, "acct_sandbox1", None)
    return {
        "tenant": tenant,
        "other": other,
        "seller": seller,
        "buyer": buyer,
        "listing": listing,
        "lamp": lamp,
    }


def url(tenant, name, *args):
    return f"/t/{tenant.slug}" + reverse(f"market:{name}", args=args)


def signed_in(client, user, verified=False):
    client.force_login(user)
    if verified:
        session = client.session
        session[stepup.SESSION_KEY] = int(time.time())
        session.save()
    return client


def submit(client, path, data=None):
    """Post as a browser posts a form: URL-encoded."""
    return client.post(
        path, urlencode(data or {}), content_type="application/x-www-form-urlencoded"
    )


def form_key(response):
    found = KEY_FIELD.search(response.content.decode())
    assert found is not None, "the page has no idempotency key field"
    return found.group(1)


def start_checkout(client, world):
    page = client.get(url(world["tenant"], "listing", world["listing"].pk))
    key = form_key(page)
    return key, submit(
        client,
        url(world["tenant"], "checkout", world["listing"].pk),
        {"idempotency_key": key},
    )


def paid_order(client, world):
    signed_in(client, world["buyer"])
    _, response = start_checkout(client, world)
    submit(client, response["Location"], {"action": "pay"})
    with use_tenant(world["tenant"]):
        return Order.objects.get()


def seller_balance(world):
    account = payouts.seller_account(world["tenant"], world["seller"].pk, "USD")
    return ledger.balance(account).amount


def test_the_market_lists_only_the_tenants_listings(client, world):
    signed_in(client, world["seller"])
    body = client.get(url(world["tenant"], "index")).content.decode()
    assert "Teapot" in body
    assert "Lamp" not in body


def test_a_member_lists_an_item_as_themselves(client, world):
    signed_in(client, world["buyer"])
    response = submit(
        client,
        url(world["tenant"], "create_listing"),
        {"title": "Kettle", "description": "", "price": "12.50", "seller": "1"},
    )
    assert response.status_code == 302
    with use_tenant(world["tenant"]):
        kettle = Listing.objects.get(title="Kettle")
    assert (kettle.seller, kettle.price, kettle.currency) == (
        world["buyer"],
        1250,
        "USD",
    )


@pytest.mark.parametrize("price", ["0", "-1", "1.005", "abc", "1000000"])
def test_a_bad_price_is_refused(client, world, price):
    signed_in(client, world["buyer"])
    response = submit(
        client, url(world["tenant"], "create_listing"), {"title": "X", "price": price}
    )
    assert response.status_code == 400
    with use_tenant(world["tenant"]):
        assert not Listing.objects.filter(title="X").exists()


def test_checkout_leads_to_the_provider_page_and_pays_only_on_the_event(client, world):
    signed_in(client, world["buyer"])
    key, response = start_checkout(client, world)

    assert response.status_code == 303
    session = CheckoutSession.objects.get()
    assert session.idempotency_key.startswith("hp_")
    assert session.idempotency_key != key
    assert response["Location"] == session.url
    assert session.url == url(world["tenant"], "local_checkout", session.provider_id)
    with use_tenant(world["tenant"]):
        order = Order.objects.get()
    assert (order.status, order.amount, order.fee) == ("pending", 4500, 450)
    assert not LedgerTransfer.objects.exists()

    page = client.get(session.url)
    assert "45.00 USD" in page.content.decode()
    paid = submit(client, session.url, {"action": "pay"})

    assert paid.status_code == 302
    assert paid["Location"] == "http://testserver" + url(
        world["tenant"], "order", order.pk
    )
    event = WebhookEvent.objects.get()
    assert (event.type, event.status) == ("checkout.session.completed", "processed")
    with use_tenant(world["tenant"]):
        order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert seller_balance(world) == 4050
    assert ledger.balance(fees_account(world["tenant"], "USD")).amount == 450
    body = client.get(url(world["tenant"], "order", order.pk)).content.decode()
    assert 'id="order-status">paid<' in body


def test_a_double_submit_is_one_order_and_one_session(client, world):
    signed_in(client, world["buyer"])
    key, first = start_checkout(client, world)
    second = submit(
        client,
        url(world["tenant"], "checkout", world["listing"].pk),
        {"idempotency_key": key},
    )
    assert second.status_code == 303
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    with use_tenant(world["tenant"]):
        assert Order.objects.count() == 1
    assert CheckoutSession.objects.count() == 1
    assert LocalProviderObject.objects.filter(kind="checkout.session").count() == 1


def test_a_checkout_without_the_forms_key_is_refused(client, world):
    signed_in(client, world["buyer"])
    response = submit(client, url(world["tenant"], "checkout", world["listing"].pk))
    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_required"
    assert not CheckoutSession.objects.exists()


def test_confirming_twice_sends_one_event(client, world):
    signed_in(client, world["buyer"])
    _, response = start_checkout(client, world)
    submit(client, response["Location"], {"action": "pay"})
    submit(client, response["Location"], {"action": "pay"})
    assert WebhookEvent.objects.count() == 1
    assert LedgerTransfer.objects.count() == 1


def test_cancelling_on_the_provider_page_pays_nothing(client, world):
    signed_in(client, world["buyer"])
    _, response = start_checkout(client, world)
    cancelled = submit(client, response["Location"], {"action": "cancel"})
    assert cancelled["Location"].endswith(
        url(world["tenant"], "listing", world["listing"].pk)
    )
    assert not WebhookEvent.objects.exists()
    with use_tenant(world["tenant"]):
        assert Order.objects.get().status == Order.Status.PENDING


def test_only_the_buyer_opens_the_provider_page(client, world):
    signed_in(client, world["buyer"])
    _, response = start_checkout(client, world)
    page = response["Location"]
    signed_in(client, world["seller"])
    assert client.get(page).status_code == 404
    assert submit(client, page, {"action": "pay"}).status_code == 404
    in_other_tenant = page.replace("/t/acme/", "/t/globex/")
    assert client.get(in_other_tenant).status_code == 404
    assert not WebhookEvent.objects.exists()


def test_the_provider_pages_are_gone_when_stripe_is_configured(client, world, settings):
    signed_in(client, world["buyer"])
    _, response = start_checkout(client, world)
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = "sk_test_configured"
    assert client.get(response["Location"]).status_code == 404


def test_a_member_of_another_tenant_cannot_buy_its_listing(client, world):
    outsider = MembershipFactory(tenant=world["other"]).user
    signed_in(client, outsider)
    listing = world["listing"].pk
    assert client.get(url(world["tenant"], "listing", listing)).status_code == 404
    through_own = submit(
        client, url(world["other"], "checkout", listing), {"idempotency_key": "k1"}
    )
    assert through_own.status_code == 404
    assert not CheckoutSession.objects.exists()


def test_a_seller_cannot_buy_their_own_listing(client, world):
    signed_in(client, world["seller"])
    page = client.get(url(world["tenant"], "listing", world["listing"].pk))
    assert "This is your listing." in page.content.decode()
    response = submit(
        client,
        url(world["tenant"], "checkout", world["listing"].pk),
        {"idempotency_key": "own-1"},
    )
    assert response.status_code == 409
    assert not CheckoutSession.objects.exists()


def test_a_forged_event_does_not_pay_the_order(client, world):
    signed_in(client, world["buyer"])
    start_checkout(client, world)
    session = CheckoutSession.objects.get()
    stored = LocalProviderObject.objects.get(kind="checkout.session")
    forged = local.event(
        "checkout.session.completed",
        stored.data | {"payment_status": "paid", "payment_intent": "pi_forged"},
    )
    payload = json.dumps(forged)
    answer = client.post(
        reverse("hardened_payments:stripe_webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe.WebhookSignature.generate_signature_header(
            payload, "whsec_" + "x" * 32
        ),
    )
    assert answer.status_code == 400
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.OPEN
    with use_tenant(world["tenant"]):
        assert Order.objects.get().status == Order.Status.PENDING


def test_the_seller_refunds_part_of_an_order_once(client, world):
    order = paid_order(client, world)
    signed_in(client, world["seller"])
    page = client.get(url(world["tenant"], "order", order.pk))
    key = form_key(page)
    form = {"idempotency_key": key, "amount": "10.00"}
    first = submit(client, url(world["tenant"], "refund", order.pk), form)
    again = submit(client, url(world["tenant"], "refund", order.pk), form)

    assert first.status_code == again.status_code == 302
    assert again["Idempotent-Replayed"] == "true"
    refund = Refund.objects.get()
    assert refund.amount == 1000
    assert seller_balance(world) == 4050 - 900
    assert ledger.balance(fees_account(world["tenant"], "USD")).amount == 450 - 100
    body = client.get(url(world["tenant"], "order", order.pk)).content.decode()
    assert 'id="refunded">10.00 USD<' in body


def test_a_refund_beyond_the_order_is_refused(client, world):
    order = paid_order(client, world)
    signed_in(client, world["seller"], verified=True)
    response = submit(
        client,
        url(world["tenant"], "refund", order.pk),
        {"idempotency_key": "r1", "amount": "45.01"},
    )
    assert response.status_code == 422
    assert not Refund.objects.exists()


def test_the_buyer_cannot_refund(client, world):
    order = paid_order(client, world)
    response = submit(
        client,
        url(world["tenant"], "refund", order.pk),
        {"idempotency_key": "r1", "amount": "1.00"},
    )
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_a_large_refund_asks_for_step_up_first(client, world, settings):
    settings.HARDENED_PAYMENTS_REFUND_STEP_UP_ABOVE = {"USD": 1000}
    order = paid_order(client, world)
    signed_in(client, world["seller"])
    response = submit(
        client,
        url(world["tenant"], "refund", order.pk),
        {"idempotency_key": "r1", "amount": "20.00"},
    )
    assert response.status_code == 302
    assert "/auth/step-up/?next=" in response["Location"]
    assert not Refund.objects.exists()


def test_a_payout_needs_step_up_and_is_paid_only_by_the_event(client, world):
    paid_order(client, world)
    signed_in(client, world["seller"])
    form = {"idempotency_key": "p1", "amount": "30.00"}
    refused = submit(client, url(world["tenant"], "payout"), form)
    assert refused.status_code == 302
    assert "/auth/step-up/" in refused["Location"]
    assert not Payout.objects.exists()

    signed_in(client, world["seller"], verified=True)
    requested = submit(client, url(world["tenant"], "payout"), form)
    repeated = submit(client, url(world["tenant"], "payout"), form)
    assert requested.status_code == repeated.status_code == 302
    payout = Payout.objects.get()
    assert (payout.status, payout.amount) == ("pending", 3000)
    assert seller_balance(world) == 1050
    body = client.get(url(world["tenant"], "balance")).content.decode()
    assert 'id="balance">10.50 USD<' in body
    assert 'id="in-transit">30.00 USD<' in body

    submit(client, url(world["tenant"], "local_settle_payout", payout.pk))
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert WebhookEvent.objects.filter(type="payout.paid").count() == 1
    in_transit = payouts.in_transit_account(world["tenant"], "USD")
    assert ledger.balance(in_transit).amount == 0


def test_each_local_payout_is_funded_by_a_transfer_and_reconciles(
    client, world, capsys
):
    paid_order(client, world)
    signed_in(client, world["seller"], verified=True)
    submit(
        client,
        url(world["tenant"], "payout"),
        {"idempotency_key": "p1", "amount": "30.00"},
    )
    payout = Payout.objects.get()
    transfer = LocalProviderObject.objects.get(kind="transfer")
    assert transfer.object_id == payout.transfer_id
    assert (transfer.data["destination"], transfer.data["amount"]) == (
        "acct_sandbox1",
        3000,
    )
    assert connected_balance("acct_sandbox1", "USD") == 0
    with pytest.raises(ProviderError):
        LocalProvider().create_payout(
            amount=Money(1, "USD"),
            destination="acct_sandbox1",
            idempotency_key="unfunded",
            metadata={},
        )

    submit(client, url(world["tenant"], "local_settle_payout", payout.pk))
    today = datetime.now(UTC).date()
    call_command(
        "hardened_payments_reconcile",
        "--since",
        today.isoformat(),
        "--until",
        (today + timedelta(days=1)).isoformat(),
    )
    out = capsys.readouterr().out
    assert "Compared 1 connected-account payouts." in out
    assert "The ledger matches the provider." in out


def test_a_failed_local_payout_has_its_transfer_reversed(client, world):
    paid_order(client, world)
    signed_in(client, world["seller"], verified=True)
    form = {"idempotency_key": "p1", "amount": "30.00"}
    submit(client, url(world["tenant"], "payout"), form)
    payout = Payout.objects.get()

    failed = local.fail_payout(payout.provider_id)
    assert failed is not None
    assert local.deliver(failed) == {"status": "processed"}

    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    reversal = LocalProviderObject.objects.get(kind="transfer_reversal")
    assert reversal.object_id == payout.transfer_reversal_id
    assert reversal.data["transfer"] == payout.transfer_id
    assert connected_balance("acct_sandbox1", "USD") == 0
    assert seller_balance(world) == 4050

    again = {"idempotency_key": "p2", "amount": "40.50"}
    assert submit(client, url(world["tenant"], "payout"), again).status_code == 302
    assert connected_balance("acct_sandbox1", "USD") == 0
    assert seller_balance(world) == 0


def test_a_payout_beyond_the_balance_is_refused(client, world):
    paid_order(client, world)
    signed_in(client, world["seller"], verified=True)
    response = submit(
        client,
        url(world["tenant"], "payout"),
        {"idempotency_key": "p1", "amount": "40.51"},
    )
    assert response.status_code == 422
    assert not Payout.objects.exists()
    assert seller_balance(world) == 4050


def test_another_member_cannot_settle_a_payout(client, world):
    paid_order(client, world)
    signed_in(client, world["seller"], verified=True)
    submit(
        client,
        url(world["tenant"], "payout"),
        {"idempotency_key": "p1", "amount": "5.00"},
    )
    payout = Payout.objects.get()
    signed_in(client, world["buyer"])
    response = submit(client, url(world["tenant"], "local_settle_payout", payout.pk))
    assert response.status_code == 404
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PENDING


def test_the_payout_account_needs_step_up(client, world):
    signed_in(client, world["buyer"])
    target = url(world["tenant"], "payout_account")
    assert (
        "/auth/step-up/" in submit(client, target, {"account": "acct_1X"})["Location"]
    )
    signed_in(client, world["buyer"], verified=True)
    submit(client, target, {"account": "not an account"})
    submit(client, target, {"account": "acct_1Buyer"})
    destination = PayoutDestination.objects.get(user=world["buyer"])
    assert destination.account == "acct_1Buyer"


def test_the_seed_lists_two_items_in_acme_and_one_in_globex():
    tenants = {
        "acme": Tenant.objects.create(slug="acme", name="Acme"),
        "globex": Tenant.objects.create(slug="globex", name="Globex"),
    }
    carol = UserFactory(username="carol")
    out = io.StringIO()
    seed(tenants=tenants, users={"carol": carol}, stdout=out)
    seed(tenants=tenants, users={"carol": carol}, stdout=out)
    with unscoped(reason="the test counts every tenant's listings"):
        titles = sorted(
            Listing.objects.values_list("tenant__slug", "title", "seller__username")
        )
    assert titles == [
        ("acme", "Hand-thrown teapot", "carol"),
        ("acme", "Linen tea towels", "carol"),
        ("globex", "Brass desk lamp", "carol"),
    ]
    assert "/t/acme/market/" in out.getvalue()
    assert PayoutDestination.objects.filter(user=carol).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submits_of_one_form_open_one_session(world):
    from django.db import connection
    from django.test import Client

    path = url(world["tenant"], "checkout", world["listing"].pk)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def worker():
        try:
            client = signed_in(Client(), world["buyer"])
            barrier.wait(timeout=30)
            response = submit(client, path, {"idempotency_key": "same-form"})
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(statuses) == 8
    assert set(statuses) <= {303, 409}
    assert 303 in statuses
    assert CheckoutSession.objects.count() == 1
    assert LocalProviderObject.objects.filter(kind="checkout.session").count() == 1
    with use_tenant(world["tenant"]):
        assert Order.objects.count() == 1
