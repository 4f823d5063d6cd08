"""Hosted checkout: sessions through Stripe, paid only by verified events.

Stripe's API is out of reach from the test machines, so the session is
opened against the local stand-in (``stripe_standin``), which answers with
Stripe's object shapes; the webhooks are real signed deliveries to the
endpoint.
"""

import json
import time

import pytest
import stripe
from django.urls import reverse

from hardened_payments import ledger
from hardened_payments.checkout import fees_account, start_checkout
from hardened_payments.exceptions import (
    CheckoutMismatch,
    InsufficientFunds,
    InvalidTransfer,
    RefundExceedsCaptured,
)
from hardened_payments.internal import flows, payouts
from hardened_payments.models import (
    CheckoutSession,
    LedgerTransfer,
    Payment,
    WebhookEvent,
)
from hardened_payments.money import Money
from hardened_payments.providers import get_provider
from hardened_payments.signals import checkout_completed
from tests.factories import TenantFactory, UserFactory

SECRET = "whsec_" + "c" * 32
FORGED = "whsec_" + "f" * 32
STRIPE_IP = "3.18.12.63"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET]


@pytest.fixture
def people(db):
    return UserFactory(), UserFactory()


@pytest.fixture
def session(tenant, people, stripe_standin):
    buyer, seller = people
    return open_session(tenant, buyer, seller)


def open_session(tenant, buyer, seller, key="checkout-1", amount=10000, fee=1000):
    return start_checkout(
        tenant,
        buyer,
        seller,
        Money(amount, "USD"),
        fee=Money(fee, "USD"),
        reference="order:1",
        description="Hand-thrown teapot",
        success_url="https://shop.example/done",
        cancel_url="https://shop.example/cancelled",
        idempotency_key=key,
    )


def completed_event(session, event_id="evt_1Paid", **changes):
    """A checkout.session.completed event as Stripe sends it (2024-06-20)."""
    obj = {
        "id": session.provider_id,
        "object": "checkout.session",
        "amount_subtotal": session.amount,
        "amount_total": session.amount,
        "client_reference_id": session.reference,
        "currency": session.currency.lower(),
        "livemode": False,
        "metadata": {
            "hardened_tenant": str(session.tenant_id),
            "hardened_checkout": session.reference,
        },
        "mode": "payment",
        "payment_intent": "pi_3Checkout",
        "payment_status": "paid",
        "status": "complete",
    }
    obj.update(changes)
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": changes.pop("type", "checkout.session.completed"),
    }


def deliver(client, event, secret=SECRET, header=None, timestamp=None):
    payload = json.dumps(event)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp
        )
    return client.post(
        reverse("hardened_payments:stripe_webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
        REMOTE_ADDR=STRIPE_IP,
    )


def balances(session):
    tenant, currency = session.tenant, session.currency
    clearing, _ = flows.accounts_for(tenant, currency)
    return (
        ledger.balance(clearing).amount,
        ledger.balance(payouts.seller_account(tenant, session.seller_id, "USD")).amount,
        ledger.balance(fees_account(tenant, currency)).amount,
    )


def test_opening_a_session_forwards_the_key_to_stripe(session, stripe_standin):
    calls = stripe_standin.created("/v1/checkout/sessions")
    assert len(calls) == 1
    assert calls[0]["idempotency_key"] == "checkout-1"
    form = calls[0]["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "10000"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["metadata[hardened_tenant]"] == str(session.tenant_id)
    assert form["payment_intent_data[metadata][hardened_checkout]"] == "order:1"
    assert session.status == CheckoutSession.Status.OPEN
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.provider_id}"
    assert not LedgerTransfer.objects.exists()


def test_a_double_submit_opens_one_session(session, tenant, people, stripe_standin):
    again = open_session(tenant, *people)
    assert again.pk == session.pk
    assert CheckoutSession.objects.count() == 1
    assert len(stripe_standin.created("/v1/checkout/sessions")) == 1


def test_the_same_key_for_another_checkout_is_refused(session, tenant, people):
    buyer, seller = people
    with pytest.raises(CheckoutMismatch):
        open_session(tenant, buyer, seller, amount=5000)
    with pytest.raises(CheckoutMismatch):
        open_session(TenantFactory(), buyer, seller)
    assert CheckoutSession.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "fee", "same_person"),
    [(10000, 10001, False), (10000, -1, False), (10000, 100, True)],
)
def test_unsellable_checkouts_are_refused(
    tenant, people, stripe_standin, amount, fee, same_person
):
    buyer, seller = people
    with pytest.raises(InvalidTransfer):
        open_session(tenant, buyer, buyer if same_person else seller, "k", amount, fee)
    assert not stripe_standin.created("/v1/checkout/sessions")


def test_a_verified_completion_pays_the_seller_and_the_fee_once(client, session):
    received = []
    checkout_completed.connect(
        lambda **kw: received.append(kw["session"].pk), weak=False, dispatch_uid="t"
    )
    try:
        response = deliver(client, completed_event(session))
        # Stripe redelivers the same event under a new signature timestamp.
        redelivered = deliver(
            client, completed_event(session), timestamp=int(time.time()) - 1
        )
        async_event = completed_event(
            session, "evt_2Async", type="checkout.session.async_payment_succeeded"
        )
        second = deliver(client, async_event)
    finally:
        checkout_completed.disconnect(dispatch_uid="t")

    assert response.json() == {"status": "processed"}
    assert redelivered.json() == {"status": "duplicate"}
    assert second.json() == {"status": "processed"}
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.COMPLETE
    payment = Payment.objects.get()
    assert session.payment == payment
    assert (payment.provider_id, payment.amount, payment.user_id) == (
        "pi_3Checkout",
        10000,
        session.buyer_id,
    )
    assert payment.status == Payment.Status.SUCCEEDED
    assert LedgerTransfer.objects.filter(transfer_id="payment:pi_3Checkout").count()
    assert LedgerTransfer.objects.count() == 1
    assert balances(session) == (-10000, 9000, 1000)
    assert received == [session.pk]


def test_a_forged_signature_pays_nothing(client, session):
    response = deliver(client, completed_event(session), secret=FORGED)
    assert response.status_code == 400
    assert response.json() == {"error": "bad_signature"}
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.OPEN
    assert not WebhookEvent.objects.exists()
    assert not LedgerTransfer.objects.exists()


def test_a_stale_signature_pays_nothing(client, session):
    payload = json.dumps(completed_event(session))
    header = stripe.WebhookSignature.generate_signature_header(
        payload, SECRET, timestamp=int(time.time()) - 3600
    )
    response = deliver(client, completed_event(session), header=header)
    assert response.json() == {"error": "timestamp_out_of_tolerance"}
    assert not LedgerTransfer.objects.exists()


def test_a_replayed_delivery_is_refused_and_pays_once(client, session):
    event = completed_event(session)
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    first = deliver(client, event, header=header)
    replay = deliver(client, event, header=header)
    assert first.status_code == 200
    assert replay.status_code == 409
    assert replay.json() == {"error": "replayed_signature"}
    assert LedgerTransfer.objects.count() == 1
    assert balances(session) == (-10000, 9000, 1000)


def test_an_event_naming_another_tenant_pays_nothing(client, session):
    other = TenantFactory()
    event = completed_event(
        session,
        metadata={"hardened_tenant": str(other.pk), "hardened_checkout": "order:1"},
    )
    response = deliver(client, event)
    assert response.json() == {"status": "queued"}
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.last_error) == ("failed", "CheckoutMismatch")
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.OPEN
    assert not Payment.objects.exists()
    assert not LedgerTransfer.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_total": 1},
        {"amount_total": "10000"},
        {"currency": "eur"},
        {"currency": "xx"},
        {"payment_intent": None},
        {"id": "cs_test_unknown"},
    ],
)
def test_an_event_that_disagrees_with_the_session_pays_nothing(
    client, session, changes
):
    deliver(client, completed_event(session, **changes))
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.FAILED
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.OPEN
    assert not LedgerTransfer.objects.exists()


def test_an_unpaid_completion_waits_for_the_async_payment(client, session):
    deliver(client, completed_event(session, payment_status="unpaid"))
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.OPEN
    assert not LedgerTransfer.objects.exists()

    paid = completed_event(
        session, "evt_3Later", type="checkout.session.async_payment_succeeded"
    )
    deliver(client, paid)
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.COMPLETE
    assert balances(session) == (-10000, 9000, 1000)


def test_the_intent_event_of_a_checkout_does_not_post_again(client, session):
    deliver(client, completed_event(session))
    intent = {
        "id": "evt_4Intent",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "pi_3Checkout",
                "object": "payment_intent",
                "amount": 10000,
                "currency": "usd",
                "status": "succeeded",
                "metadata": {
                    "hardened_tenant": str(session.tenant_id),
                    "hardened_checkout": "order:1",
                },
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }
    assert deliver(client, intent).json() == {"status": "processed"}
    assert LedgerTransfer.objects.count() == 1
    assert balances(session) == (-10000, 9000, 1000)


def test_an_expired_session_is_closed_unpaid(client, session):
    expired = completed_event(
        session,
        "evt_5Expired",
        type="checkout.session.expired",
        status="expired",
        payment_status="unpaid",
        payment_intent=None,
    )
    assert deliver(client, expired).json() == {"status": "processed"}
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.EXPIRED
    deliver(client, completed_event(session))
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.EXPIRED
    late = WebhookEvent.objects.get(event_id="evt_1Paid")
    assert (late.status, late.last_error) == ("failed", "CheckoutMismatch")
    assert not LedgerTransfer.objects.exists()


def test_partial_refunds_come_from_the_seller_and_the_fee(client, session):
    deliver(client, completed_event(session))
    payment = Payment.objects.get()
    provider = get_provider()

    flows.refund(provider, payment, Money(3333, "USD"), "refund-1", actor=None)
    assert balances(session) == (-6667, 6000, 667)
    flows.refund(provider, payment, Money(6667, "USD"), "refund-2", actor=None)
    assert balances(session) == (0, 0, 0)
    with pytest.raises(RefundExceedsCaptured):
        flows.refund(provider, payment, Money(1, "USD"), "refund-3", actor=None)
    payment.refresh_from_db()
    assert payment.amount_refunded == 10000


def test_a_refund_the_seller_already_paid_out_is_refused(client, session):
    deliver(client, completed_event(session))
    seller = payouts.seller_account(session.tenant, session.seller_id, "USD")
    elsewhere = ledger.open_account(session.tenant, "elsewhere", "USD")
    ledger.post_transfer(
        session.tenant,
        "moved",
        [
            ledger.Leg(seller, Money(-9000, "USD")),
            ledger.Leg(elsewhere, Money(9000, "USD")),
        ],
    )
    with pytest.raises(InsufficientFunds):
        flows.refund(
            get_provider(), Payment.objects.get(), Money(500, "USD"), "r", actor=None
        )
    assert Payment.objects.get().amount_refunded == 0


def test_a_paid_checkout_is_audited_with_its_event_id(
    client, tenant, people, stripe_standin, audit_log
):
    session = open_session(tenant, *people)
    deliver(client, completed_event(session))

    [started] = audit_log("checkout_started")
    assert started["idempotency_key"] == "checkout-1"
    assert (started["amount"], started["fee"]) == (10000, 1000)
    [completed] = audit_log("checkout_completed")
    assert completed == {
        "event": "checkout_completed",
        "actor": session.buyer_id,
        "tenant": session.tenant_id,
        "target": session.provider_id,
        "outcome": "success",
        "ip": None,
        "amount": 10000,
        "currency": "USD",
        "fee": 1000,
        "provider_event_id": "evt_1Paid",
    }
