import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from hardened_payments import ledger
from hardened_payments.exceptions import InsufficientFunds
from hardened_payments.ledger import Leg
from hardened_payments.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from tests.factories import TenantFactory

THREADS = 8
TRANSFERS_PER_THREAD = 40


def _plan(accounts, seed):
    """Transfers between a few accounts; half the ids every thread posts."""
    rng = random.Random(seed)
    plan = []
    for n in range(TRANSFERS_PER_THREAD):
        shared = n % 2 == 0
        key = f"{accounts[0].currency}-shared-{n}" if shared else f"t{seed}-{n}"
        pick = random.Random(key) if shared else rng
        source, target = pick.sample(accounts, 2)
        amount = pick.randint(1, 60)
        plan.append((key, source, target, amount))
    return plan


@pytest.mark.postgres
def test_concurrent_transfers_neither_lose_nor_double_nor_overdraw(
    purge_ledger_after,
):
    """Threads post at once; totals stay zero, nothing is lost or doubled."""
    tenant = TenantFactory()
    bank = ledger.open_account(tenant, "bank", "USD", allow_negative=True)
    eur_bank = ledger.open_account(tenant, "bank-eur", "EUR", allow_negative=True)
    wallets = [ledger.open_account(tenant, f"w{i}", "USD") for i in range(4)]
    eur_wallets = [ledger.open_account(tenant, f"e{i}", "EUR") for i in range(2)]
    for wallet in wallets:
        ledger.post_transfer(
            tenant,
            f"fund-{wallet.code}",
            [Leg(bank, Money(-100, "USD")), Leg(wallet, Money(100, "USD"))],
        )
    for wallet in eur_wallets:
        ledger.post_transfer(
            tenant,
            f"fund-{wallet.code}",
            [Leg(eur_bank, Money(-50, "EUR")), Leg(wallet, Money(50, "EUR"))],
        )

    barrier = threading.Barrier(THREADS)
    posted: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed):
        group = wallets if seed % 2 else eur_wallets
        currency = group[0].currency
        try:
            barrier.wait()
            for key, source, target, amount in _plan(group, seed):
                legs = [
                    Leg(source, Money(-amount, currency)),
                    Leg(target, Money(amount, currency)),
                ]
                try:
                    transfer = ledger.post_transfer(tenant, key, legs)
                except InsufficientFunds:
                    with lock:
                        refused.append(key)
                else:
                    with lock:
                        posted.append(transfer.transfer_id)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert len(posted) + len(refused) == THREADS * TRANSFERS_PER_THREAD
    assert refused, "the plan should have driven some wallet to its limit"

    totals = dict(
        LedgerAccount.objects.values("currency")
        .annotate(total=Sum("balance"))
        .values_list("currency", "total")
    )
    assert totals == {"USD": 0, "EUR": 0}
    assert not LedgerAccount.objects.filter(
        allow_negative=False, balance__lt=0
    ).exists()
    for account in LedgerAccount.objects.all():
        summed = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))
        assert account.balance == summed["s"]

    stored = Counter(
        LedgerTransfer.objects.exclude(transfer_id__startswith="fund-").values_list(
            "transfer_id", flat=True
        )
    )
    assert set(stored) == set(posted)
    assert len(posted) > len(stored), "shared ids should have been posted twice"
    assert all(count == 1 for count in stored.values())
    assert LedgerEntry.objects.exclude(
        transfer__transfer_id__startswith="fund-"
    ).count() == 2 * len(stored)
