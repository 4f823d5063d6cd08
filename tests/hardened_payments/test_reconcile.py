import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from hardened_payments import ledger
from hardened_payments.internal import flows, payouts
from hardened_payments.internal.stripe_provider import StripeProvider
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


@pytest.fixture
def connected(tenant, stripe_standin):
    """Two payouts to one connected account, each funded by a transfer."""
    user = UserFactory()
    flows.record_payment(
        tenant,
        user,
        ProviderPayment(id="pi_C", status="succeeded", amount=Money(9000, "USD")),
        idempotency_key="kc",
    )
    payouts.credit_seller(tenant, user.pk, Money(5000, "USD"), "share-c")
    payouts.set_destination(tenant, user.pk, "acct_1Seller", None)
    provider = StripeProvider()
    made = [
        payouts.request_payout(provider, tenant, user.pk, Money(amount, "USD"), key)
        for amount, key in ((1000, "hp_one"), (2000, "hp_two"))
    ]
    rows = [
        txn(
            1,
            "charge",
            9000,
            {"id": "ch_C", "object": "charge", "payment_intent": "pi_C"},
        )
    ]
    for n, payout in enumerate(made, start=2):
        rows.append(
            txn(
                n,
                "transfer",
                -payout.amount,
                {"id": payout.transfer_id, "object": "transfer"},
            )
        )
    stripe_standin.balance_transactions = rows
    return made


def settle(stripe_standin, payout, status):
    stripe_standin.payouts[payout.provider_id]["status"] = status
    payouts.settle(StripeProvider(), payout.provider_id, f"evt_{payout.pk}")
    payout.refresh_from_db()


def reconcile_lines(capsys, *extra):
    call_command(
        "hardened_payments_reconcile", "--since", SINCE, "--until", UNTIL, *extra
    )
    return capsys.readouterr().out


def test_funded_payouts_match_their_transfers_and_the_connected_payouts(
    connected, stripe_standin, capsys
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    settle(stripe_standin, connected[0], "paid")

    out = reconcile_lines(capsys, "--batch-size", "1")

    assert "The ledger matches the provider." in out
    assert "Compared 3 provider balance transactions." in out
    assert "Compared 2 connected-account payouts." in out
    pages = [r for r in stripe_standin.requests if r["path"] == "/v1/payouts"]
    pages = [r for r in pages if r["method"] == "GET"]
    assert [r["stripe_account"] for r in pages] == ["acct_1Seller"] * 2
    assert pages[0]["form"]["created[gte]"] == str(
        int(datetime.fromisoformat(SINCE).replace(tzinfo=UTC).timestamp())
    )
    assert pages[1]["form"]["starting_after"] == connected[0].provider_id


def test_a_failed_payout_matches_its_transfer_reversal(
    connected, stripe_standin, capsys
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    failed = connected[1]
    settle(stripe_standin, failed, "failed")
    reversal = {"id": failed.transfer_reversal_id, "object": "transfer_reversal"}
    stripe_standin.balance_transactions.append(
        txn(9, "transfer_refund", 2000, reversal)
    )

    assert "The ledger matches the provider." in reconcile_lines(capsys)

    stripe_standin.balance_transactions.pop()
    with pytest.raises(CommandError, match=r"^1 differences found\.$"):
        reconcile_lines(capsys)
    assert (
        f"transfer_reversal_missing_at_provider: {failed.transfer_reversal_id} "
        "ledger=20.00 USD provider=-"
    ) in capsys.readouterr().out


def test_every_transfer_and_connected_payout_difference_is_reported(
    connected, stripe_standin, capsys
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    first, second = connected
    stripe_standin.payouts[first.provider_id] |= {"amount": 999, "status": "paid"}
    del stripe_standin.payouts[second.provider_id]
    stripe_standin.payouts["po_foreign"] = {
        "id": "po_foreign",
        "object": "payout",
        "amount": 4200,
        "currency": "usd",
        "status": "paid",
        "created": int(time.time()),
        "metadata": {},
        "account": "acct_1Seller",
    }
    rows = stripe_standin.balance_transactions
    rows[1]["amount"] = -1001
    del rows[2]
    rows.append(txn(7, "transfer", -300, {"id": "tr_foreign", "object": "transfer"}))

    with pytest.raises(CommandError) as excinfo:
        reconcile_lines(capsys)

    assert str(excinfo.value) == "7 differences found."
    lines = [line for line in capsys.readouterr().out.splitlines() if ":" in line]
    assert lines == [
        f"transfer_amount_differs: {first.transfer_id} ledger=10.00 USD "
        "provider=10.01 USD",
        "transfer_missing_in_ledger: tr_foreign ledger=- provider=3.00 USD",
        f"transfer_missing_at_provider: {second.transfer_id} ledger=20.00 USD "
        "provider=-",
        f"payout_amount_differs: {first.provider_id} ledger=10.00 USD "
        "provider=9.99 USD",
        f"payout_status_differs: {first.provider_id} ledger=10.00 USD "
        "provider=9.99 USD (ledger pending, provider paid)",
        "payout_missing_in_ledger: po_foreign ledger=- provider=42.00 USD "
        "(on acct_1Seller)",
        f"payout_missing_at_provider: {second.provider_id} ledger=20.00 USD "
        "provider=- (on acct_1Seller)",
    ]
