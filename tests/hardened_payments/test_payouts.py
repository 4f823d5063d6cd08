import json
import time

import pytest
import stripe
from django.core.management import call_command
from django.urls import reverse

from hardened_payments import ledger
from hardened_payments.exceptions import ProviderError
from hardened_payments.internal import flows, payouts
from hardened_payments.internal.stripe_provider import StripeProvider
from hardened_payments.models import (
    IdempotencyKey,
    LedgerAccount,
    LedgerTransfer,
    Payout,
    PayoutDestination,
    WebhookEvent,
)
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment
from tests.factories import MembershipFactory, UserFactory
from tests.hardened_payments.test_flows import _verify_second_factor
from tests.hardened_payments.test_idempotency import forwarded_key

SECRET = "whsec_" + "p" * 32


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET]


@pytest.fixture
def seller(tenant):
    membership = MembershipFactory(tenant=tenant)
    flows.record_payment(
        tenant,
        UserFactory(),
        ProviderPayment(id="pi_sale", status="succeeded", amount=Money(10000, "USD")),
        idempotency_key="sale",
    )
    payouts.credit_seller(tenant, membership.user.pk, Money(5000, "USD"), "share-1")
    return membership.user


@pytest.fixture
def seller_client(client, seller):
    client.force_login(seller)
    return client


def balances(tenant, seller):
    return (
        ledger.balance(payouts.seller_account(tenant, seller.pk, "USD")).amount,
        ledger.balance(payouts.in_transit_account(tenant, "USD")).amount,
    )


def platform_balances(tenant):
    """The clearing and connected-accounts balances: money at the provider."""
    clearing, _ = flows.accounts_for(tenant, "USD")
    return (
        ledger.balance(clearing).amount,
        ledger.balance(payouts.connected_account(tenant, "USD")).amount,
    )


def assert_ledger_balanced():
    assert sum(LedgerAccount.objects.values_list("balance", flat=True)) == 0


def set_destination(client, tenant, account="acct_1Seller"):
    return client.post(
        reverse("hardened_payments:payout_destination", args=[tenant.slug]),
        data=json.dumps({"account": account}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )


def request_payout(client, tenant, amount=3000, key="payout-1"):
    return client.post(
        reverse("hardened_payments:payout", args=[tenant.slug]),
        data=json.dumps({"amount": amount, "currency": "USD"}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def deliver(client, event_type, payout_id, amount=3000):
    payload = json.dumps(
        {
            "id": f"evt_{event_type}_{payout_id}",
            "object": "event",
            "api_version": "2024-06-20",
            "account": "acct_1Seller",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": payout_id,
                    "object": "payout",
                    "amount": amount,
                    "currency": "usd",
                    "status": event_type.split(".")[1],
                }
            },
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    )
    return client.post(
        reverse("hardened_payments:stripe_webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe.WebhookSignature.generate_signature_header(
            payload, SECRET
        ),
        REMOTE_ADDR="3.18.12.63",
    )


def test_destination_changes_need_step_up(seller_client, tenant, seller, caplog):
    caplog.set_level("INFO", logger="hardened_payments.audit")
    refused = set_destination(seller_client, tenant)
    assert refused.status_code == 401
    assert not PayoutDestination.objects.exists()

    _verify_second_factor(seller_client, seller)
    assert set_destination(seller_client, tenant).status_code == 200
    assert PayoutDestination.objects.get().account == "acct_1Seller"
    record = next(
        r for r in caplog.records if r.getMessage() == "payout_destination_changed"
    )
    assert record.hardened_audit["actor"] == seller.pk
    assert record.hardened_audit["tenant"] == tenant.pk


@pytest.mark.parametrize("account", ["ba_123", "acct_", "acct_1 2", 7, None])
def test_malformed_destinations_are_refused(seller_client, tenant, seller, account):
    _verify_second_factor(seller_client, seller)
    assert set_destination(seller_client, tenant, account).status_code == 400
    assert not PayoutDestination.objects.exists()


def test_payouts_need_step_up(seller_client, tenant, seller, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    response = request_payout(seller_client, tenant)
    assert response.status_code == 401
    assert stripe_standin.requests == []
    assert balances(tenant, seller) == (5000, 0)


def test_a_payout_is_paid_only_after_a_verified_event_and_a_refetch(
    seller_client, client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)

    response = request_payout(seller_client, tenant)

    assert response.status_code == 201
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.PENDING
    assert balances(tenant, seller) == (2000, 3000)
    call = stripe_standin.created("/v1/payouts")[0]
    assert call["idempotency_key"] == forwarded_key(
        seller,
        "payout-1",
        reverse("hardened_payments:payout", args=[tenant.slug]),
        {"amount": 3000, "currency": "USD"},
    )
    assert payout.idempotency_key == call["idempotency_key"]
    assert call["stripe_account"] == "acct_1Seller"

    early = deliver(client, "payout.paid", payout.provider_id)
    assert early.json() == {"status": "queued"}
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PENDING
    assert WebhookEvent.objects.get().last_error == "PayoutNotConfirmed"
    assert balances(tenant, seller) == (2000, 3000)

    stripe_standin.payouts[payout.provider_id]["status"] = "paid"
    WebhookEvent.objects.update(next_attempt_at=WebhookEvent.objects.get().received_at)
    call_command("hardened_payments_process_webhooks")

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert balances(tenant, seller) == (2000, 0)
    clearing, _ = flows.accounts_for(tenant, "USD")
    assert ledger.balance(clearing) == Money(-10000 + 3000, "USD")


def test_a_failed_payout_returns_the_money_to_the_seller(
    seller_client, client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "failed"

    assert deliver(client, "payout.failed", payout.provider_id).json() == {
        "status": "processed"
    }
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    assert balances(tenant, seller) == (5000, 0)


def test_a_payout_the_provider_does_not_know_is_not_settled(
    seller_client, client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "paid"
    stripe_standin.payouts[payout.provider_id]["amount"] = 3001

    deliver(client, "payout.paid", payout.provider_id)

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PENDING
    assert balances(tenant, seller) == (2000, 3000)


def test_a_payout_beyond_the_balance_is_refused(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)

    keys_before = list(IdempotencyKey.objects.values())

    response = request_payout(seller_client, tenant, amount=5001)

    assert response.status_code == 422
    assert response.json()["error"] == "insufficient_funds"
    assert stripe_standin.requests == []
    assert not Payout.objects.exists()
    assert balances(tenant, seller) == (5000, 0)
    assert list(IdempotencyKey.objects.values()) == keys_before

    corrected = request_payout(seller_client, tenant, amount=5000)
    assert corrected.status_code == 201
    assert balances(tenant, seller) == (0, 5000)


def test_a_payout_without_destination_is_refused(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    response = request_payout(seller_client, tenant)
    assert response.status_code == 422
    assert response.json()["error"] == "no_destination"
    assert stripe_standin.requests == []
    assert not IdempotencyKey.objects.exists()


def test_another_member_reaches_only_their_own_balance_and_destination(
    client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    member = MembershipFactory(tenant=tenant).user
    client.force_login(member)
    _verify_second_factor(client, member)

    assert set_destination(client, tenant, "acct_1Member").status_code == 200
    response = request_payout(client, tenant, amount=3000)

    assert response.status_code == 422
    assert response.json()["error"] == "insufficient_funds"
    assert list(PayoutDestination.objects.values_list("user_id", "account")) == [
        (member.pk, "acct_1Member")
    ]
    assert not Payout.objects.exists()
    assert balances(tenant, seller) == (5000, 0)
    assert stripe_standin.requests == []


def test_a_provider_outage_leaves_the_balance_untouched(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    stripe_standin.fail_with = 500
    assert request_payout(seller_client, tenant).status_code == 502
    assert not Payout.objects.exists()
    assert balances(tenant, seller) == (5000, 0)


@pytest.mark.parametrize("outcome", ["paid", "failed"])
def test_payouts_are_audited_with_their_key_and_event_id(
    seller_client, client, tenant, seller, stripe_standin, audit_log, outcome
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = outcome
    deliver(client, f"payout.{outcome}", payout.provider_id)

    [requested] = audit_log("payout_requested")
    assert requested["outcome"] == "success"
    assert requested["actor"] == seller.pk
    assert requested["tenant"] == tenant.pk
    assert requested["target"] == payout.provider_id
    assert (requested["amount"], requested["currency"]) == (3000, "USD")
    assert requested["idempotency_key"] == payout.idempotency_key
    [settled] = audit_log(f"payout_{outcome}")
    assert settled["outcome"] == ("success" if outcome == "paid" else "failure")
    assert settled["tenant"] == tenant.pk
    assert settled["target"] == payout.provider_id
    assert (settled["amount"], settled["currency"]) == (3000, "USD")
    assert settled["provider_event_id"] == f"evt_payout.{outcome}_{payout.provider_id}"


def test_a_slow_provider_does_not_hold_the_webhook_beyond_the_cap(
    seller_client, client, tenant, seller, stripe_standin, settings
):
    """Uses the local Stripe stand-in server, made to answer re-fetches late."""
    settings.HARDENED_PAYMENTS_WEBHOOK_PROVIDER_TIMEOUT = 0.5
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "paid"
    stripe_standin.delay = 5

    started = time.monotonic()
    response = deliver(client, "payout.paid", payout.provider_id)
    elapsed = time.monotonic() - started

    assert response.json() == {"status": "queued"}
    assert elapsed < 2.5
    fetches = [r for r in stripe_standin.requests if r["method"] == "GET"]
    assert len(fetches) == 1
    event = WebhookEvent.objects.get()
    assert (event.status, event.last_error) == ("failed", "ProviderError")
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PENDING
    assert balances(tenant, seller) == (2000, 3000)

    stripe_standin.delay = 0
    WebhookEvent.objects.update(next_attempt_at=event.received_at)
    call_command("hardened_payments_process_webhooks")
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID


def test_a_payout_is_funded_by_a_transfer_to_the_connected_account_first(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)

    assert request_payout(seller_client, tenant).status_code == 201

    payout = Payout.objects.get()
    posts = [r["path"] for r in stripe_standin.requests if r["method"] == "POST"]
    assert posts == ["/v1/transfers", "/v1/payouts"]
    [transfer] = stripe_standin.created("/v1/transfers")
    assert transfer["form"] == {
        "amount": "3000",
        "currency": "usd",
        "destination": "acct_1Seller",
        "metadata[hardened_payout]": str(payout.pk),
    }
    assert transfer["stripe_account"] is None
    assert transfer["idempotency_key"] == payouts.purpose_key(
        payout.idempotency_key, "transfer"
    )
    assert transfer["idempotency_key"] != payout.idempotency_key
    assert payout.transfer_id in stripe_standin.transfers
    assert stripe_standin.balance("acct_1Seller") == 0
    assert platform_balances(tenant) == (-10000 + 3000, -3000)
    assert LedgerTransfer.objects.filter(
        transfer_id=f"payout:{payout.pk}:transfer"
    ).exists()
    assert_ledger_balanced()


def test_the_connected_account_cannot_pay_out_money_never_transferred(
    tenant, stripe_standin
):
    """Uses the local Stripe stand-in, which keeps connected balances."""
    with pytest.raises(ProviderError):
        StripeProvider().create_payout(
            amount=Money(3000, "USD"),
            destination="acct_1Seller",
            idempotency_key="hp_unfunded",
            metadata={},
        )
    assert stripe_standin.payouts == {}


def test_a_paid_payout_leaves_the_connected_account(
    seller_client, client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "paid"

    assert deliver(client, "payout.paid", payout.provider_id).json() == {
        "status": "processed"
    }

    assert platform_balances(tenant) == (-10000 + 3000, 0)
    assert balances(tenant, seller) == (2000, 0)
    assert stripe_standin.reversals == {}
    assert_ledger_balanced()


def test_a_failed_payout_has_its_transfer_reversed_so_the_next_is_funded_once(
    seller_client, client, tenant, seller, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "failed"
    assert stripe_standin.balance("acct_1Seller") == 3000

    deliver(client, "payout.failed", payout.provider_id)

    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    [reversal] = stripe_standin.created(f"/v1/transfers/{payout.transfer_id}/reversals")
    assert reversal["form"] == {
        "amount": "3000",
        "metadata[hardened_payout]": str(payout.pk),
    }
    assert reversal["idempotency_key"] == payouts.purpose_key(
        payout.idempotency_key, "transfer-reversal"
    )
    assert payout.transfer_reversal_id in stripe_standin.reversals
    assert stripe_standin.balance("acct_1Seller") == 0
    assert platform_balances(tenant) == (-10000, 0)
    assert balances(tenant, seller) == (5000, 0)
    [failed] = audit_log("payout_failed")
    assert failed["transfer_reversal"] == payout.transfer_reversal_id

    assert request_payout(seller_client, tenant, 5000, "payout-2").status_code == 201
    assert stripe_standin.balance("acct_1Seller") == 0
    assert platform_balances(tenant) == (-10000 + 5000, -5000)
    assert balances(tenant, seller) == (0, 5000)
    assert_ledger_balanced()


def test_a_refused_reversal_leaves_the_failed_payout_to_be_retried(
    seller_client, client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in, made to refuse the reversal once."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    request_payout(seller_client, tenant)
    payout = Payout.objects.get()
    stripe_standin.payouts[payout.provider_id]["status"] = "failed"
    path = f"/v1/transfers/{payout.transfer_id}/reversals"
    stripe_standin.fail_on[path] = 500

    assert deliver(client, "payout.failed", payout.provider_id).json() == {
        "status": "queued"
    }
    payout.refresh_from_db()
    assert (payout.status, payout.transfer_reversal_id) == ("pending", "")
    assert balances(tenant, seller) == (2000, 3000)
    assert platform_balances(tenant) == (-10000 + 3000, -3000)

    stripe_standin.fail_on.clear()
    WebhookEvent.objects.update(next_attempt_at=WebhookEvent.objects.get().received_at)
    call_command("hardened_payments_process_webhooks")

    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    assert len(stripe_standin.reversals) == 1
    assert balances(tenant, seller) == (5000, 0)
    assert platform_balances(tenant) == (-10000, 0)
    assert_ledger_balanced()


def test_a_payout_the_provider_refuses_has_its_transfer_reversed(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in, made to refuse the payout itself."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    stripe_standin.fail_on["/v1/payouts"] = 500

    assert request_payout(seller_client, tenant).status_code == 502

    [transfer] = stripe_standin.transfers.values()
    assert transfer["amount_reversed"] == 3000
    assert stripe_standin.balance("acct_1Seller") == 0
    assert not Payout.objects.exists()
    assert balances(tenant, seller) == (5000, 0)
    assert platform_balances(tenant) == (-10000, 0)


def test_a_transfer_to_another_account_is_not_trusted(
    seller_client, tenant, seller, stripe_standin
):
    """Uses the local Stripe stand-in, made to misdirect the transfer."""
    _verify_second_factor(seller_client, seller)
    set_destination(seller_client, tenant)
    original = stripe_standin._transfer

    def misdirected(form):
        return original({**form, "destination": "acct_1Elsewhere"})

    stripe_standin._transfer = misdirected

    assert request_payout(seller_client, tenant).status_code == 502
    assert stripe_standin.created("/v1/payouts") == []
    assert not Payout.objects.exists()
    assert balances(tenant, seller) == (5000, 0)
