"""The dj-stripe mirror of verified, processed webhook events.

dj-stripe is installed only for this module: its app is added to
``INSTALLED_APPS`` and its tables are created from its models (without
running its migrations) for the module's tests, then dropped again.
"""

import json
import time
from typing import Any

import pytest
import stripe
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from hardened_payments import checks
from hardened_payments.internal import djstripe_mirror, flows
from hardened_payments.models import LedgerTransfer, Payment, WebhookEvent
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment
from tests.factories import UserFactory
from tests.hardened_payments.stripe_standin import StripeStandIn
from tests.hardened_payments.test_webhooks import (  # noqa: F401
    deliver,
    sign,
    stripe_event,
    webhook_settings,
)

API_KEY = "sk_test_" + "Standin0" * 4
PLATFORM = "acct_1StandinPlatform"


class DjstripeStandIn(StripeStandIn):
    """Stripe's stand-in, also answering the reads dj-stripe makes.

    dj-stripe looks up the account that owns an API key (``GET /v1/account``),
    connected accounts an event names (``GET /v1/accounts/<id>``) and objects
    an object only refers to by id (``GET /v1/payment_intents/<id>``).
    """

    def __init__(self) -> None:
        self.intents: dict[str, dict] = {}
        self.fail_reads: int | None = None
        super().__init__()

    def _handler(self):
        base: Any = super()._handler()
        standin = self

        class Handler(base):
            def do_GET(self):
                path = self.path.partition("?")[0]
                parts = path.split("/")
                if path == "/v1/account" or parts[1:3] == ["v1", "accounts"]:
                    self._record({})
                    if standin.fail_reads:
                        return self._answer(
                            standin.fail_reads, {"error": {"type": "api_error"}}
                        )
                    account = parts[3] if len(parts) == 4 else PLATFORM
                    return self._answer(200, _account(account))
                if parts[1:3] == ["v1", "payment_intents"] and len(parts) == 4:
                    self._record({})
                    intent = standin.intents.get(parts[3])
                    if intent is None:
                        return self._answer(
                            404, {"error": {"type": "invalid_request_error"}}
                        )
                    return self._answer(200, intent)
                return super().do_GET()

        return Handler


def _account(account_id: str) -> dict:
    return {
        "id": account_id,
        "object": "account",
        "type": "standard" if account_id == PLATFORM else "express",
        "country": "US",
        "default_currency": "usd",
        "email": None,
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "metadata": {},
        "settings": {"dashboard": {"display_name": "Stand-in"}},
        "business_profile": {"name": "Stand-in"},
        "created": 1700000000,
    }


@pytest.fixture(scope="module")
def djstripe_tables(django_db_setup, django_db_blocker):
    """Install dj-stripe and its tables for this module, then remove both.

    Installing an app runs the admin's autodiscovery again, which registers
    dj-stripe's models on the admin site; they are unregistered afterwards so
    that later tests see the site as it was.
    """
    registered = set(admin.site._registry)
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "djstripe"],
        DJSTRIPE_FOREIGN_KEY_TO_FIELD="id",
    ):
        models = list(apps.get_app_config("djstripe").get_models())
        with django_db_blocker.unblock(), connection.schema_editor() as editor:
            for model in models:
                editor.create_model(model)
        yield
        with django_db_blocker.unblock(), connection.schema_editor() as editor:
            for model in reversed(models):
                editor.delete_model(model)
    for model in set(admin.site._registry) - registered:
        admin.site.unregister(model)


@pytest.fixture
def standin(settings):
    """Stripe's stand-in (never the network) for the calls dj-stripe makes."""
    server = DjstripeStandIn().start()
    previous = stripe.api_base
    stripe.api_base = server.url
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = API_KEY
    yield server
    stripe.api_base = previous
    server.stop()


@pytest.fixture
def mirror_on(djstripe_tables, standin, settings, db):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = True
    return standin


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


def dj(name):
    return apps.get_model("djstripe", name)


def reads(standin):
    return [r["path"] for r in standin.requests if r["method"] == "GET"]


def ours():
    return (
        list(WebhookEvent.objects.values_list("event_id", "status", "attempts")),
        list(LedgerTransfer.objects.values_list("transfer_id", flat=True)),
        list(Payment.objects.values_list("status", flat=True)),
    )


def test_a_verified_event_is_mirrored_with_its_ids_and_amounts(
    client, payment, mirror_on
):
    verified = stripe_event(amount=2000, currency="usd")
    response = deliver(client, verified)

    assert response.json() == {"status": "processed"}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert LedgerTransfer.objects.get().transfer_id == "payment:pi_3Mtw"
    event = dj("Event").objects.get()
    assert (event.id, event.type) == ("evt_1Abc", "payment_intent.succeeded")
    assert event.data["object"]["id"] == "pi_3Mtw"
    assert event.djstripe_owner_account.id == PLATFORM
    intent = dj("PaymentIntent").objects.get()
    assert intent.id == "pi_3Mtw"
    assert (intent.stripe_data["amount"], intent.stripe_data["currency"]) == (
        2000,
        "usd",
    )
    assert intent.stripe_data == verified["data"]["object"]
    assert set(reads(mirror_on)) == {"/v1/account"}
    assert {r["authorization"] for r in mirror_on.requests} == {f"Bearer {API_KEY}"}


def test_the_owner_account_is_fetched_for_the_first_event_only(
    client, payment, mirror_on
):
    deliver(client, stripe_event(event_id="evt_1First"))
    fetched = len(mirror_on.requests)

    deliver(
        client,
        stripe_event("payment_intent.payment_failed", "evt_2Other", id="pi_Other"),
    )

    assert fetched >= 1
    assert len(mirror_on.requests) == fetched
    assert set(dj("Event").objects.values_list("id", flat=True)) == {
        "evt_1First",
        "evt_2Other",
    }
    assert dj("PaymentIntent").objects.count() == 2


def test_a_forged_event_is_not_mirrored(client, payment, mirror_on):
    payload = json.dumps(stripe_event())
    forged = sign(payload, "whsec_" + "x" * 32)

    response = deliver(client, payload=payload, header=forged)

    assert response.status_code == 400
    assert dj("Event").objects.count() == 0
    assert dj("PaymentIntent").objects.count() == 0
    assert mirror_on.requests == []


def test_an_unprocessed_event_is_mirrored_once_it_is_processed(
    client, tenant, mirror_on
):
    response = deliver(client, stripe_event(id="pi_NotYetKnown"))

    assert response.json() == {"status": "queued"}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.FAILED
    assert dj("Event").objects.count() == 0
    assert dj("PaymentIntent").objects.count() == 0

    flows.record_payment(
        tenant,
        UserFactory(),
        ProviderPayment(
            id="pi_NotYetKnown", status="processing", amount=Money(2000, "USD")
        ),
        idempotency_key="k2",
    )
    WebhookEvent.objects.update(next_attempt_at=WebhookEvent.objects.get().received_at)
    call_command("hardened_payments_process_webhooks")

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert dj("Event").objects.get().id == "evt_1Abc"
    assert dj("PaymentIntent").objects.get().id == "pi_NotYetKnown"


def test_a_redelivered_event_is_not_mirrored_again(client, payment, mirror_on):
    event = stripe_event()
    deliver(client, event)
    before = dj("Event").objects.get().djstripe_updated
    payload = json.dumps(event)

    again = deliver(
        client, payload=payload, header=sign(payload, timestamp=int(time.time()) + 1)
    )

    assert again.json() == {"status": "duplicate"}
    assert dj("Event").objects.get().djstripe_updated == before


def test_with_the_setting_off_nothing_is_mirrored(
    client, payment, djstripe_tables, standin
):
    response = deliver(client)

    assert response.json() == {"status": "processed"}
    assert dj("Event").objects.count() == 0
    assert dj("PaymentIntent").objects.count() == 0
    assert standin.requests == []


def test_with_djstripe_not_installed_nothing_is_mirrored(client, payment, settings):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = True
    without = [app for app in settings.INSTALLED_APPS if app != "djstripe"]

    with override_settings(INSTALLED_APPS=without):
        response = deliver(client)

    assert response.json() == {"status": "processed"}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_failed_mirror_leaves_the_processing_and_nothing_in_djstripe(
    client, payment, mirror_on, audit_log, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("dj-stripe failed")

    monkeypatch.setattr(dj("Event"), "sync_from_stripe_data", broken)

    response = deliver(client)

    assert response.json() == {"status": "processed"}
    assert ours() == (
        [("evt_1Abc", WebhookEvent.Status.PROCESSED, 1)],
        ["payment:pi_3Mtw"],
        [Payment.Status.SUCCEEDED],
    )
    assert dj("PaymentIntent").objects.count() == 0
    assert dj("Event").objects.count() == 0
    [failed] = audit_log("webhook_mirror_failed")
    assert failed["outcome"] == "failure"
    assert failed["provider_event_id"] == "evt_1Abc"
    assert failed["error"] == "RuntimeError"


def test_the_command_mirrors_what_failed_and_changes_nothing_of_ours(
    client, payment, mirror_on, capsys
):
    mirror_on.fail_reads = 503
    deliver(client)
    assert dj("Event").objects.count() == 0
    before = ours()

    with pytest.raises(CommandError, match="1 events could not be mirrored"):
        call_command("hardened_payments_mirror_djstripe")
    mirror_on.fail_reads = None
    call_command("hardened_payments_mirror_djstripe", "--dry-run")
    call_command("hardened_payments_mirror_djstripe")
    call_command("hardened_payments_mirror_djstripe")

    assert dj("Event").objects.get().id == "evt_1Abc"
    assert dj("PaymentIntent").objects.get().stripe_data["amount"] == 2000
    assert ours() == before
    out = capsys.readouterr().out
    assert "1 events are missing (dry run)." in out
    assert "Done: 1 of 1 events mirrored." in out
    assert "Done: 0 of 0 events mirrored." in out


def test_the_command_refuses_to_run_with_the_mirror_off(djstripe_tables):
    with pytest.raises(CommandError, match="HARDENED_PAYMENTS_DJSTRIPE_MIRROR is off"):
        call_command("hardened_payments_mirror_djstripe")


def test_the_mirror_writes_only_djstripe_tables(payment, mirror_on):
    with CaptureQueriesContext(connection) as queries:
        assert djstripe_mirror.mirror(stripe_event()) is True

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert writes
    assert all('"djstripe_' in sql for sql in writes)
    assert LedgerTransfer.objects.count() == 0


def test_an_older_event_does_not_overwrite_a_newer_snapshot(mirror_on):
    now = int(time.time())
    newer = stripe_event(event_id="evt_2Newer", status="succeeded")
    newer["created"] = now
    older = stripe_event(event_id="evt_1Older", status="processing")
    older["created"] = now - 60

    assert djstripe_mirror.mirror(newer) is True
    assert djstripe_mirror.mirror(older) is True

    assert dj("PaymentIntent").objects.get().stripe_data["status"] == "succeeded"
    assert dj("Event").objects.count() == 2


def test_an_object_of_another_kind_is_kept_only_in_the_event(mirror_on):
    event = stripe_event(object="charge", id="ch_1Other")

    assert djstripe_mirror.mirror(event) is True

    assert dj("Event").objects.get().data["object"]["id"] == "ch_1Other"
    assert dj("PaymentIntent").objects.count() == 0
    assert dj("Charge").objects.count() == 0


def test_a_checkout_session_is_mirrored_with_its_payment_intent(mirror_on):
    mirror_on.intents["pi_Checkout"] = {
        "id": "pi_Checkout",
        "object": "payment_intent",
        "amount": 4500,
        "currency": "eur",
        "status": "succeeded",
        "livemode": False,
        "metadata": {},
        "created": 1700000000,
    }
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 4500,
        "currency": "eur",
        "mode": "payment",
        "payment_intent": "pi_Checkout",
        "payment_status": "paid",
        "status": "complete",
        "livemode": False,
        "metadata": {},
        "created": 1700000000,
    }
    event = stripe_event("checkout.session.completed", "evt_1Checkout")
    event["data"]["object"] = session

    assert djstripe_mirror.mirror(event) is True

    mirrored = dj("Session").objects.get()
    assert (mirrored.id, mirrored.amount_total) == ("cs_test_1", 4500)
    assert mirrored.payment_intent.id == "pi_Checkout"
    assert mirrored.payment_intent.stripe_data["amount"] == 4500
    assert "/v1/payment_intents/pi_Checkout" in reads(mirror_on)


def test_a_connected_accounts_payout_is_mirrored(mirror_on):
    payout = {
        "id": "po_1Seller",
        "object": "payout",
        "amount": 1500,
        "currency": "usd",
        "status": "paid",
        "livemode": False,
        "metadata": {},
        "created": 1700000000,
    }
    event = stripe_event("payout.paid", "evt_1Payout")
    event["data"]["object"] = payout
    event["account"] = "acct_1Seller"

    assert djstripe_mirror.mirror(event) is True

    mirrored = dj("Payout").objects.get()
    assert (mirrored.id, mirrored.amount) == ("po_1Seller", 1500)
    assert dj("Event").objects.get().djstripe_owner_account.id == "acct_1Seller"
    assert "/v1/accounts/acct_1Seller" in reads(mirror_on)


def found(check):
    return [(m.id, m.msg) for m in check()]


@pytest.mark.parametrize("value", [1, 0, "True", "false", None, [True]])
def test_a_mirror_setting_that_is_not_a_boolean_is_an_error(settings, value):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = value
    assert found(checks.check_djstripe_mirror) == [
        ("hardened_payments.E016", checks.E016_MSG)
    ]


def test_the_mirror_off_or_absent_passes(settings):
    assert found(checks.check_djstripe_mirror) == []
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = False
    assert found(checks.check_djstripe_mirror) == []


def test_the_mirror_on_without_djstripe_is_an_error(settings):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = True
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = API_KEY
    without = [app for app in settings.INSTALLED_APPS if app != "djstripe"]

    with override_settings(INSTALLED_APPS=without):
        messages = checks.check_djstripe_mirror()

    assert [(m.id, m.msg) for m in messages] == [
        ("hardened_payments.E017", checks.E017_MSG)
    ]
    assert "INSTALLED_APPS" in str(messages[0].hint)


@pytest.mark.parametrize(
    "key", ["", "sk_test_short", "pk_test_" + "a" * 24, "sk_test_" + "a" * 23 + "-"]
)
def test_the_mirror_on_without_a_full_api_key_is_an_error(
    djstripe_tables, settings, key
):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = True
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = key
    assert found(checks.check_djstripe_mirror) == [
        ("hardened_payments.E018", checks.E018_MSG)
    ]


@pytest.mark.parametrize("key", [API_KEY, "rk_live_" + "a" * 24])
def test_the_mirror_on_with_djstripe_and_a_key_passes(djstripe_tables, settings, key):
    settings.HARDENED_PAYMENTS_DJSTRIPE_MIRROR = True
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = key
    assert found(checks.check_djstripe_mirror) == []


@override_settings(ROOT_URLCONF="tests.hardened_payments.djstripe_urls")
def test_a_routed_djstripe_webhook_endpoint_is_an_error(djstripe_tables):
    assert found(checks.check_djstripe_webhook_not_routed) == [
        (
            "hardened_payments.E019",
            checks.E019_MSG % "stripe/webhook/<uuid:uuid>/",
        )
    ]


def test_djstripe_models_hold_no_card_data_fields(djstripe_tables):
    assert found(checks.check_no_card_data_fields) == []


def test_an_unrouted_djstripe_webhook_endpoint_passes(djstripe_tables):
    assert found(checks.check_djstripe_webhook_not_routed) == []


@override_settings(ROOT_URLCONF="tests.hardened_payments.djstripe_urls")
def test_the_route_check_is_silent_without_djstripe(settings):
    without = [app for app in settings.INSTALLED_APPS if app != "djstripe"]
    with override_settings(INSTALLED_APPS=without):
        assert found(checks.check_djstripe_webhook_not_routed) == []
