"""Hostile webhook deliveries and idempotent requests, as one matrix each.

Every row says what the attacker sends, the status and error it must get,
and that nothing a handler could change has changed. The signing and
delivery helpers are the payments tests' own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from hardened_payments.internal import flows
from hardened_payments.models import (
    IdempotencyKey,
    LedgerEntry,
    LedgerTransfer,
    Payment,
    WebhookEvent,
)
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment
from tests.factories import MembershipFactory, UserFactory
from tests.hardened_payments.test_idempotency import charge
from tests.hardened_payments.test_webhooks import (
    OLD_SECRET,
    SECRET,
    STRIPE_IP,
    deliver,
    sign,
    stripe_event,
)


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]
    settings.HARDENED_AUTH_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.HARDENED_PAYMENTS_WEBHOOK_MAX_BODY_BYTES = 64 * 1024


@pytest.fixture
def payment(tenant):
    return flows.record_payment(
        tenant,
        UserFactory(),
        ProviderPayment(
            id="pi_3Mtw", status="requires_action", amount=Money(2000, "USD")
        ),
        idempotency_key="k",
    )


def everything() -> tuple[Any, ...]:
    """Every row a webhook handler or an idempotent view could write."""
    return (
        list(WebhookEvent.objects.order_by("pk").values()),
        list(LedgerTransfer.objects.order_by("pk").values()),
        list(LedgerEntry.objects.order_by("pk").values()),
        list(Payment.objects.order_by("pk").values()),
        list(IdempotencyKey.objects.order_by("pk").values()),
    )


def _payload(**obj: Any) -> str:
    return json.dumps(stripe_event(**obj))


def _signed(payload: str, **kwargs: Any) -> dict[str, Any]:
    return {"payload": payload, "header": sign(payload, **kwargs)}


Delivery = Callable[[], dict[str, Any]]

WEBHOOK_ABUSE: list[tuple[str, Delivery, int, str | None]] = [
    (
        "forged with an unknown secret",
        lambda: {
            "payload": (p := _payload()),
            "header": sign(p, "whsec_" + "f" * 32),
        },
        400,
        "bad_signature",
    ),
    (
        "amount changed after signing",
        lambda: {
            "payload": _payload(amount=1, amount_received=1),
            "header": sign(_payload()),
        },
        400,
        "bad_signature",
    ),
    (
        "another payload's signature beside a junk one",
        lambda: {
            "payload": _payload(),
            "header": sign(_payload(amount=5)) + ",v1=" + "0" * 64,
        },
        400,
        "bad_signature",
    ),
    (
        "no timestamp",
        lambda: {"payload": (p := _payload()), "header": sign(p).split(",", 1)[1]},
        400,
        "bad_signature_header",
    ),
    (
        "stale by an hour",
        lambda: _signed(_payload(), timestamp=int(time.time()) - 3600),
        400,
        "timestamp_out_of_tolerance",
    ),
    (
        "from the future",
        lambda: _signed(_payload(), timestamp=int(time.time()) + 3600),
        400,
        "timestamp_out_of_tolerance",
    ),
    (
        "oversized",
        lambda: _signed(_payload(metadata={"pad": "x" * 70_000})),
        413,
        None,
    ),
    ("malformed JSON", lambda: _signed("{not json"), 400, "malformed_json"),
    ("a JSON list", lambda: _signed("[1, 2]"), 400, "malformed_event"),
    (
        "event id of another object",
        lambda: _signed(json.dumps({**stripe_event(), "id": "pi_3Mtw"})),
        400,
        "malformed_event",
    ),
    (
        "unhandled type",
        lambda: _signed(json.dumps(stripe_event("account.updated"))),
        400,
        "unhandled_event_type",
    ),
    (
        "from an unlisted address",
        lambda: {**_signed(_payload()), "ip": "198.51.100.7"},
        403,
        None,
    ),
    (
        "a forwarded Stripe address from an untrusted peer",
        lambda: {
            **_signed(_payload()),
            "ip": "198.51.100.7",
            "HTTP_X_FORWARDED_FOR": STRIPE_IP,
        },
        403,
        None,
    ),
    (
        "no signature",
        lambda: {"payload": _payload(), "header": ""},
        400,
        "missing_signature",
    ),
]


@pytest.mark.parametrize(
    ("delivery", "status", "code"),
    [pytest.param(d, s, c, id=name) for name, d, s, c in WEBHOOK_ABUSE],
)
def test_hostile_webhooks_are_refused_and_change_nothing(
    client, payment, delivery, status, code
):
    before = everything()
    response = deliver(client, **delivery())
    assert response.status_code == status
    if code is not None:
        assert response.json() == {"error": code}
    assert everything() == before
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_ACTION


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h: h, id="as sent"),
        pytest.param(lambda h: h + ",x=1", id="junk appended"),
        pytest.param(lambda h: h + ",v1=" + "0" * 64, id="extra v1"),
        pytest.param(lambda h: ",".join(reversed(h.split(","))), id="reordered"),
    ],
)
def test_a_replayed_delivery_is_refused_and_changes_nothing(client, payment, tamper):
    payload = _payload()
    header = sign(payload)
    assert deliver(client, payload=payload, header=header).status_code == 200
    before = everything()
    replay = deliver(client, payload=payload, header=tamper(header))
    assert (replay.status_code, replay.json()) == (409, {"error": "replayed_signature"})
    assert everything() == before


def test_a_resigned_event_with_a_seen_id_posts_nothing_twice(client, payment):
    """An attacker holding the secret still cannot make one event pay twice."""
    assert deliver(client, payload=_payload()).status_code == 200
    before = everything()
    payload = _payload(amount=4000, amount_received=4000)
    again = deliver(
        client, payload=payload, header=sign(payload, timestamp=int(time.time()) + 2)
    )
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert everything() == before


@pytest.fixture
def member(tenant):
    return MembershipFactory(tenant=tenant)


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


IDEMPOTENCY_CONFLICTS = [
    ("another amount", {"amount": 2000}, 422),
    ("another currency", {"currency": "EUR"}, 422),
    ("another card", {"payment_method": "pm_card_mastercard"}, 422),
    ("an extra field", {"note": "x"}, 422),
]


@pytest.mark.parametrize(
    ("change", "status"),
    [pytest.param(c, s, id=name) for name, c, s in IDEMPOTENCY_CONFLICTS],
)
def test_a_reused_key_with_another_body_is_refused_and_changes_nothing(
    member_client, tenant, stripe_standin, change, status
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    body = {"amount": 1999, "currency": "USD", "payment_method": "pm_card_visa"}
    assert charge(member_client, tenant, body=body).status_code == 201
    before = everything()
    response = charge(member_client, tenant, body=body | change)
    assert response.status_code == status
    assert response.json()["error"] == "idempotency_key_mismatch"
    assert everything() == before
    assert len(stripe_standin.created("/v1/payment_intents")) == 1


def test_a_reused_key_on_another_tenant_is_refused(
    member, member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    other = MembershipFactory(user=member.user).tenant
    assert charge(member_client, tenant).status_code == 201
    before = everything()
    response = charge(member_client, other)
    assert response.status_code == 422
    assert everything() == before


@pytest.mark.postgres
def test_concurrent_conflicting_requests_with_one_key_charge_once(
    transactional_db, tenant, member, purge_ledger_after
):
    """Twelve threads send one key with two different bodies at once.

    Uses the local Stripe stand-in server in place of Stripe's API; it counts
    every charge request that reaches it.
    """
    import stripe
    from django.test import override_settings

    from tests.hardened_payments.stripe_standin import StripeStandIn

    server = StripeStandIn(delay=0.2).start()
    previous = stripe.api_base
    stripe.api_base = server.url
    login = Client()
    login.force_login(member.user)
    barrier = threading.Barrier(12)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def worker(amount: int) -> None:
        client = Client()
        client.cookies = login.cookies
        try:
            barrier.wait(timeout=30)
            body = {
                "amount": amount,
                "currency": "USD",
                "payment_method": "pm_card_visa",
            }
            response = charge(client, tenant, key="race", body=body)
            with lock:
                results.append((amount, response.status_code))
        finally:
            connection.close()

    try:
        with override_settings(HARDENED_PAYMENTS_STRIPE_API_KEY="sk_test_standin"):
            threads = [
                threading.Thread(target=worker, args=(1000 + 500 * (i % 2),))
                for i in range(12)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
    finally:
        stripe.api_base = previous
        server.stop()

    assert len(results) == 12
    assert {status for _, status in results} <= {201, 409, 422}
    winners = {amount for amount, status in results if status == 201}
    assert len(winners) == 1
    assert len(server.created("/v1/payment_intents")) == 1
    assert Payment.objects.count() == 1
    assert Payment.objects.get().amount in winners
    assert LedgerTransfer.objects.count() <= 1
