import json
import time

import pytest
import stripe
from django.core.management import call_command
from django.urls import reverse

from hardened_payments.internal import flows
from hardened_payments.models import LedgerTransfer, Payment, WebhookEvent
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment
from tests.factories import UserFactory

SECRET = "whsec_" + "s" * 32
OLD_SECRET = "whsec_" + "o" * 32
STRIPE_IP = "3.18.12.63"


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]
    settings.HARDENED_AUTH_TRUSTED_PROXIES = ["10.0.0.0/8"]


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


def stripe_event(event_type="payment_intent.succeeded", event_id="evt_1Abc", **obj):
    """An event shaped like the ones Stripe delivers (API version 2024-06-20)."""
    data = {
        "id": "pi_3Mtw",
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000,
        "currency": "usd",
        "status": "succeeded",
        "livemode": False,
        "metadata": {},
    }
    data.update(obj)
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": data},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(payload, secret=SECRET, timestamp=None):
    return stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )


def deliver(client, event=None, payload=None, header=None, ip=STRIPE_IP, **extra):
    if payload is None:
        payload = json.dumps(event or stripe_event())
    if header is None:
        header = sign(payload)
    return client.post(
        reverse("hardened_payments:stripe_webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
        REMOTE_ADDR=ip,
        **extra,
    )


def untouched():
    return (
        WebhookEvent.objects.count(),
        LedgerTransfer.objects.count(),
        list(Payment.objects.values_list("status", flat=True)),
    )


def test_a_signed_event_is_processed_and_posts_the_ledger(client, payment):
    response = deliver(client)

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert LedgerTransfer.objects.get().transfer_id == "payment:pi_3Mtw"


def test_an_event_signed_with_the_previous_secret_is_accepted(client, payment):
    payload = json.dumps(stripe_event())
    response = deliver(client, payload=payload, header=sign(payload, OLD_SECRET))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("make_header", "code"),
    [
        (lambda p: sign(p, "whsec_" + "x" * 32), "bad_signature"),
        (lambda p: sign(p + " "), "bad_signature"),
        (lambda p: sign(p).replace("v1=", "v0="), "bad_signature"),
        (lambda p: "v1=" + "0" * 64, "bad_signature_header"),
        (lambda p: "t=abc,v1=00", "bad_signature_header"),
        (
            lambda p: sign(p, timestamp=int(time.time()) - 301),
            "timestamp_out_of_tolerance",
        ),
        (
            lambda p: sign(p, timestamp=int(time.time()) + 301),
            "timestamp_out_of_tolerance",
        ),
        (lambda p: "", "missing_signature"),
    ],
)
def test_forged_stale_and_future_events_are_refused(client, payment, make_header, code):
    before = untouched()
    payload = json.dumps(stripe_event())

    response = deliver(client, payload=payload, header=make_header(payload))

    assert response.status_code == 400
    assert response.json() == {"error": code}
    assert untouched() == before


def test_a_replayed_request_is_refused(client, payment):
    payload = json.dumps(stripe_event())
    header = sign(payload)
    assert deliver(client, payload=payload, header=header).status_code == 200
    before = untouched()

    replay = deliver(client, payload=payload, header=header)

    assert replay.status_code == 409
    assert replay.json() == {"error": "replayed_signature"}
    assert untouched() == before


@pytest.mark.parametrize(
    "junk",
    [",x=1", ",v1=" + "0" * 64, ",v0=" + "f" * 64, ", v1=ab", ",t2=7"],
)
def test_a_replay_with_junk_appended_to_the_header_is_refused(client, payment, junk):
    payload = json.dumps(stripe_event())
    header = sign(payload)
    assert deliver(client, payload=payload, header=header).status_code == 200
    before = untouched()

    replay = deliver(client, payload=payload, header=header + junk)

    assert replay.status_code == 409
    assert replay.json() == {"error": "replayed_signature"}
    assert untouched() == before
    assert WebhookEvent.objects.get().attempts == 1


def test_a_replay_with_the_entries_reordered_is_refused(client, payment):
    payload = json.dumps(stripe_event())
    header = sign(payload)
    assert deliver(client, payload=payload, header=header).status_code == 200
    stamp, signature = header.split(",")

    replay = deliver(client, payload=payload, header=f"{signature},{stamp}")

    assert replay.status_code == 409
    assert replay.json() == {"error": "replayed_signature"}


def test_a_redelivered_event_id_is_acknowledged_but_not_processed_again(
    client, payment
):
    event = stripe_event()
    assert deliver(client, event).status_code == 200
    before = untouched()
    event["created"] += 1
    payload = json.dumps(event)
    again = deliver(
        client, payload=payload, header=sign(payload, timestamp=int(time.time()) + 1)
    )

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert untouched() == before
    assert WebhookEvent.objects.get().attempts == 1


@pytest.mark.parametrize(
    ("remote", "forwarded"),
    [
        ("203.0.113.9", None),
        ("203.0.113.9", STRIPE_IP),
        ("10.0.0.2", "203.0.113.9"),
        ("10.0.0.2", f"{STRIPE_IP}, 203.0.113.9"),
        ("", None),
    ],
)
def test_only_listed_sources_are_believed(client, payment, remote, forwarded):
    before = untouched()
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}

    response = deliver(client, ip=remote, **extra)

    assert response.status_code == 403
    assert untouched() == before


def test_a_listed_source_behind_a_trusted_proxy_is_believed(client, payment):
    response = deliver(client, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=STRIPE_IP)
    assert response.status_code == 200


def test_the_source_list_is_configurable(client, payment, settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = ["192.0.2.0/24"]
    assert deliver(client).status_code == 403
    assert deliver(client, ip="192.0.2.77").status_code == 200


def test_an_oversized_body_is_refused_unread(client, payment, settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_MAX_BODY_BYTES = 1024
    event = stripe_event(metadata={"pad": "x" * 2000})
    before = untouched()
    response = deliver(client, event)
    assert response.status_code == 413
    assert untouched() == before


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("{not json", "malformed_json"),
        ("[]", "malformed_event"),
        (json.dumps({**stripe_event(), "id": "ch_123"}), "malformed_event"),
        (json.dumps({**stripe_event(), "object": "charge"}), "malformed_event"),
        (json.dumps({**stripe_event(), "data": {"object": []}}), "malformed_event"),
        (json.dumps(stripe_event("customer.created")), "unhandled_event_type"),
    ],
)
def test_signed_but_malformed_or_unknown_events_are_refused(
    client, payment, payload, code
):
    before = untouched()
    response = deliver(client, payload=payload)
    assert response.status_code == 400
    assert response.json() == {"error": code}
    assert untouched() == before


def test_non_utf8_body_is_refused(client, payment):
    payload = b'{"id": "evt_\xff"}'
    header = stripe.WebhookSignature.generate_signature_header("x", SECRET)
    response = client.post(
        reverse("hardened_payments:stripe_webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
        REMOTE_ADDR=STRIPE_IP,
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_debug_never_switches_verification_off(client, payment, settings):
    settings.DEBUG = True
    payload = json.dumps(stripe_event())
    assert deliver(client, payload=payload, header="t=1,v1=00").status_code == 400
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = []
    response = deliver(client, payload=payload)
    assert response.status_code == 503
    assert response.json() == {"error": "webhooks_not_configured"}
    assert untouched()[0] == 0


def test_only_post_is_accepted(client):
    response = client.get(reverse("hardened_payments:stripe_webhook"))
    assert response.status_code == 405


def test_an_amount_that_differs_from_the_payment_is_not_posted(client, payment):
    response = deliver(client, stripe_event(amount=1))
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.last_error == "InvalidTransfer"
    assert LedgerTransfer.objects.count() == 0


def test_a_failed_handler_is_retried_until_it_succeeds(client, tenant, capsys):
    response = deliver(client, stripe_event(id="pi_later"))
    assert response.json() == {"status": "queued"}
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.last_error == "DoesNotExist"

    flows.record_payment(
        tenant,
        UserFactory(),
        ProviderPayment(id="pi_later", status="processing", amount=Money(2000, "USD")),
        idempotency_key="k2",
    )
    call_command("hardened_payments_process_webhooks", "--dry-run")
    assert "0 events are due" in capsys.readouterr().out
    WebhookEvent.objects.update(next_attempt_at=event.received_at)
    call_command("hardened_payments_process_webhooks", "--dry-run")
    assert "1 events are due" in capsys.readouterr().out
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED

    call_command("hardened_payments_process_webhooks")
    assert "1 of 1 events processed" in capsys.readouterr().out
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 2
    assert LedgerTransfer.objects.count() == 1

    call_command("hardened_payments_process_webhooks")
    assert LedgerTransfer.objects.count() == 1


def test_a_handler_that_keeps_failing_is_given_up(client, settings, db):
    settings.HARDENED_PAYMENTS_WEBHOOK_MAX_ATTEMPTS = 2
    deliver(client, stripe_event(id="pi_never"))
    WebhookEvent.objects.update(next_attempt_at=WebhookEvent.objects.get().received_at)
    call_command("hardened_payments_process_webhooks")
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.DEAD
    assert event.attempts == 2
    assert event.next_attempt_at is None


def test_payment_failed_marks_the_payment(client, payment):
    deliver(client, stripe_event("payment_intent.payment_failed", status="canceled"))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert LedgerTransfer.objects.count() == 0


def test_refusals_and_receipts_are_audited(client, payment, caplog):
    caplog.set_level("INFO", logger="hardened_payments.audit")
    deliver(client, ip="203.0.113.9")
    deliver(client)
    events = [
        (r.getMessage(), r.hardened_audit["outcome"])
        for r in caplog.records
        if r.name == "hardened_payments.audit"
    ]
    assert ("webhook_refused", "denied") in events
    assert ("webhook_received", "success") in events
    assert ("payment_succeeded", "success") in events
    refused = next(r for r in caplog.records if r.getMessage() == "webhook_refused")
    assert refused.hardened_audit["ip"] == "203.0.113.9"
    assert refused.hardened_audit["refusal"] == "source_not_allowed"
    received = next(r for r in caplog.records if r.getMessage() == "payment_succeeded")
    assert received.hardened_audit["provider_event_id"] == "evt_1Abc"
    assert received.hardened_audit["amount"] == 2000
