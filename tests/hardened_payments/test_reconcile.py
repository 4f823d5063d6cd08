import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from hardened_payments import ledger
from hardened_payments.internal import flows, payouts
from hardened_payments.ledger import Leg
from hardened_payments.models import Payout
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment
from tests.factories import UserFactory
from tests.hardened_payments.test_flows import RecordingProvider

TODAY = datetime.now(UTC).date()
SINCE = TODAY.isoformat()
UNTIL = (TODAY + timedelta(days=1)).isoformat()


def txn(n, kind, amount, source):
    return {
        "id": f"txn_{n:04d}",
        "object": "balance_transaction",
        "type": kind,
        "amount": amount,
        "currency": "usd",
        "created": int(time.time()),
        "source": source,
    }


@pytest.fixture
def records(tenant):
    """One payment, one partial refund and one paid payout, all in the ledger."""
    user = UserFactory()
    payment = flows.record_payment(
        tenant,
        user,
        ProviderPayment(id="pi_A", status="succeeded", amount=Money(1000, "USD")),
        idempotency_key="k",
    )
    refund = flows.refund(RecordingProvider(), payment, Money(300, "USD"), "r", None)
    payouts.credit_seller(tenant, user.pk, Money(500, "USD"), "share")
    payout = Payout.objects.create(
        tenant=tenant,
        seller=user,
        amount=500,
        currency="USD",
        destination="acct_1",
        provider_id="po_A",
        status=Payout.Status.PAID,
        idempotency_key="p",
    )
    seller = payouts.seller_account(tenant, user.pk, "USD")
    in_transit = payouts.in_transit_account(tenant, "USD")
    clearing, _ = flows.accounts_for(tenant, "USD")
    five = Money(500, "USD")
    ledger.post_transfer(
        tenant,
        f"payout:{payout.pk}:reserve",
        [Leg(seller, -five), Leg(in_transit, five)],
    )
    ledger.post_transfer(
        tenant,
        f"payout:{payout.pk}:paid",
        [Leg(in_transit, -five), Leg(clearing, five)],
    )
    return [
        txn(
            1,
            "charge",
            1000,
            {"id": "ch_A", "object": "charge", "payment_intent": "pi_A"},
        ),
        txn(2, "refund", -300, {"id": refund.provider_id, "object": "refund"}),
        txn(3, "payout", -500, {"id": "po_A", "object": "payout"}),
        txn(4, "stripe_fee", -30, None),
    ]


def test_a_matching_period_reports_no_difference(records, stripe_standin, capsys):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    stripe_standin.balance_transactions = records

    call_command(
        "hardened_payments_reconcile",
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--batch-size",
        "2",
    )

    out = capsys.readouterr().out
    assert "The ledger matches the provider." in out
    assert "Compared 4 provider balance transactions." in out
    pages = [
        r for r in stripe_standin.requests if r["path"] == "/v1/balance_transactions"
    ]
    assert len(pages) == 2
    assert pages[1]["form"]["starting_after"] == "txn_0002"


def test_every_difference_is_reported(records, stripe_standin, tenant, capsys):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    flows.record_payment(
        tenant,
        UserFactory(),
        ProviderPayment(id="pi_B", status="succeeded", amount=Money(70, "USD")),
        idempotency_key="k2",
    )
    records[1]["amount"] = -301
    records.append(
        txn(
            5,
            "charge",
            999,
            {"id": "ch_X", "object": "charge", "payment_intent": "pi_X"},
        )
    )
    stripe_standin.balance_transactions = records

    with pytest.raises(CommandError) as excinfo:
        call_command("hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL)

    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == "3 differences found."
    lines = [line for line in capsys.readouterr().out.splitlines() if ":" in line]
    refund_id = records[1]["source"]["id"]
    assert lines == [
        f"refund_amount_differs: {refund_id} ledger=3.00 USD provider=3.01 USD",
        "charge_missing_in_ledger: pi_X ledger=- provider=9.99 USD",
        "charge_missing_at_provider: pi_B ledger=0.70 USD provider=-",
    ]


def test_transactions_outside_the_period_are_ignored(records, stripe_standin, capsys):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    records[0]["created"] -= 10 * 86400
    stripe_standin.balance_transactions = records
    with pytest.raises(CommandError):
        call_command("hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL)
    assert "charge_missing_at_provider: pi_A" in capsys.readouterr().out


def test_a_provider_outage_is_an_error(records, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    stripe_standin.fail_with = 503
    stripe_standin.stop()
    with pytest.raises(CommandError, match="balance transactions failed"):
        call_command("hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL)


@pytest.mark.parametrize(
    "argv",
    [
        ["--since", UNTIL, "--until", SINCE],
        ["--since", "yesterday", "--until", UNTIL],
        ["--since", SINCE, "--until", UNTIL, "--batch-size", "0"],
        ["--since", SINCE, "--until", UNTIL, "--batch-size", "101"],
    ],
)
def test_bad_arguments_are_refused(db, argv):
    with pytest.raises(CommandError):
        call_command("hardened_payments_reconcile", *argv)


def test_reconciliation_is_audited_with_its_period_and_count(
    records, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    stripe_standin.balance_transactions = records
    call_command("hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL)
    records[0]["amount"] = 999
    with pytest.raises(CommandError):
        call_command("hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL)

    clean, differing = audit_log("reconciliation_completed")
    assert clean["outcome"] == "success"
    assert clean["differences"] == 0
    assert clean["target"] == f"{SINCE}..{UNTIL}"
    assert differing["outcome"] == "failure"
    assert differing["differences"] == 1
