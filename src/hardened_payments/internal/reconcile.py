"""Comparing the ledger's records with the provider's.

The platform's balance transactions are matched against charges, refunds,
payouts made from the platform and the transfers (and their reversals) that
fund sellers' payouts. The payouts themselves leave the sellers' connected
accounts, so each account's payouts are listed and matched by id, amount and
status.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from hardened_payments.models import (
    LedgerEntry,
    Payment,
    Payout,
    PayoutDestination,
    Refund,
)
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider, ProviderPayout

CHARGE_TYPES = {"charge", "payment"}
REFUND_TYPES = {"refund", "payment_refund"}
PAYOUT_TYPES = {"payout"}
TRANSFER_TYPES = {"transfer"}
TRANSFER_REVERSAL_TYPES = {"transfer_refund"}
BALANCE_TRANSACTIONS = "provider balance transactions"
CONNECTED_PAYOUTS = "connected-account payouts"
PROVIDER_STATUSES = {
    "pending": Payout.Status.PENDING,
    "in_transit": Payout.Status.PENDING,
    "paid": Payout.Status.PAID,
    "failed": Payout.Status.FAILED,
    "canceled": Payout.Status.FAILED,
}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    reference: str
    ledger: Money | None
    provider: Money | None
    detail: str = ""

    def __str__(self) -> str:
        line = (
            f"{self.kind}: {self.reference} ledger={self.ledger or '-'} "
            f"provider={self.provider or '-'}"
        )
        return f"{line} ({self.detail})" if self.detail else line


Progress = Callable[[str, int], None]


def _ledger_amount(transfer_id: str, account_prefix: str) -> Money | None:
    entry = (
        LedgerEntry.objects.filter(
            transfer__transfer_id=transfer_id,
            account__code__startswith=account_prefix,
        )
        .only("amount", "currency")
        .first()
    )
    return None if entry is None else Money(abs(entry.amount), entry.currency)


def _payouts(start: datetime, end: datetime) -> QuerySet[Payout]:
    return Payout.objects.filter(created_at__gte=start, created_at__lt=end)


def _expected(start: datetime, end: datetime) -> dict[str, tuple[str, Money | None]]:
    """What the ledger says the platform's balance shows, keyed by source id."""
    expected: dict[str, tuple[str, Money | None]] = {}
    payments = Payment.objects.filter(
        status=Payment.Status.SUCCEEDED, created_at__gte=start, created_at__lt=end
    )
    for payment in payments.iterator():
        amount = _ledger_amount(f"payment:{payment.provider_id}", "provider-clearing")
        expected[payment.provider_id] = ("charge", amount)
    refunds = Refund.objects.filter(
        created_at__gte=start, created_at__lt=end
    ).select_related("payment")
    for refund in refunds.iterator():
        transfer = f"refund:{refund.payment.provider_id}:{refund.idempotency_key}"
        amount = _ledger_amount(transfer, "provider-clearing")
        expected[refund.provider_id] = ("refund", amount)
    from_platform = _payouts(start, end).filter(
        status=Payout.Status.PAID, transfer_id=""
    )
    for payout in from_platform.exclude(provider_id="").iterator():
        amount = _ledger_amount(f"payout:{payout.pk}:paid", "provider-clearing")
        expected[payout.provider_id] = ("payout", amount)
    for payout in _payouts(start, end).exclude(transfer_id="").iterator():
        amount = _ledger_amount(f"payout:{payout.pk}:transfer", "provider-clearing")
        expected[payout.transfer_id] = ("transfer", amount)
        if payout.transfer_reversal_id:
            amount = _ledger_amount(
                f"payout:{payout.pk}:transfer-reversed", "provider-clearing"
            )
            expected[payout.transfer_reversal_id] = ("transfer_reversal", amount)
    return expected


def _kind(provider_type: str) -> str | None:
    for kind, types in (
        ("charge", CHARGE_TYPES),
        ("refund", REFUND_TYPES),
        ("payout", PAYOUT_TYPES),
        ("transfer", TRANSFER_TYPES),
        ("transfer_reversal", TRANSFER_REVERSAL_TYPES),
    ):
        if provider_type in types:
            return kind
    return None


def _platform(
    provider: PaymentProvider,
    start: datetime,
    end: datetime,
    page_size: int,
    progress: Progress | None,
) -> Iterator[Difference]:
    expected = _expected(start, end)
    seen = 0
    for transaction in provider.balance_transactions(
        created_from=int(start.timestamp()),
        created_to=int(end.timestamp()),
        page_size=page_size,
    ):
        seen += 1
        if progress is not None and seen % page_size == 0:
            progress(BALANCE_TRANSACTIONS, seen)
        kind = _kind(transaction.type)
        if kind is None:
            continue
        provider_amount = Money(
            abs(transaction.amount.amount), transaction.amount.currency
        )
        record = expected.pop(transaction.source_id, None)
        if record is None:
            yield Difference(
                f"{kind}_missing_in_ledger",
                transaction.source_id,
                None,
                provider_amount,
            )
        elif record[1] is None:
            yield Difference(
                f"{kind}_without_transfer", transaction.source_id, None, provider_amount
            )
        elif record[1] != provider_amount:
            yield Difference(
                f"{kind}_amount_differs",
                transaction.source_id,
                record[1],
                provider_amount,
            )
    if progress is not None:
        progress(BALANCE_TRANSACTIONS, seen)
    for reference, (kind, amount) in sorted(expected.items()):
        yield Difference(f"{kind}_missing_at_provider", reference, amount, None)


def _compare_payout(payout: Payout, found: ProviderPayout) -> Iterator[Difference]:
    stage = "reserve" if payout.status == Payout.Status.PENDING else payout.status
    amount = _ledger_amount(f"payout:{payout.pk}:{stage}", "payouts-in-transit")
    if amount is None:
        yield Difference("payout_without_transfer", found.id, None, found.amount)
    elif amount != found.amount:
        yield Difference("payout_amount_differs", found.id, amount, found.amount)
    if PROVIDER_STATUSES.get(found.status) != payout.status:
        yield Difference(
            "payout_status_differs",
            found.id,
            amount,
            found.amount,
            f"ledger {payout.status}, provider {found.status}",
        )


def _connected(
    provider: PaymentProvider,
    start: datetime,
    end: datetime,
    page_size: int,
    progress: Progress | None,
) -> Iterator[Difference]:
    funded = _payouts(start, end).exclude(transfer_id="").exclude(provider_id="")
    expected = {(p.destination, p.provider_id): p for p in funded.iterator()}
    destinations = {destination for destination, _ in expected}
    destinations.update(PayoutDestination.objects.values_list("account", flat=True))
    seen = 0
    for destination in sorted(destinations):
        for found in provider.payouts(
            destination=destination,
            created_from=int(start.timestamp()),
            created_to=int(end.timestamp()),
            page_size=page_size,
        ):
            seen += 1
            if progress is not None and seen % page_size == 0:
                progress(CONNECTED_PAYOUTS, seen)
            payout = expected.pop((destination, found.id), None)
            if payout is None:
                yield Difference(
                    "payout_missing_in_ledger",
                    found.id,
                    None,
                    found.amount,
                    f"on {destination}",
                )
            else:
                yield from _compare_payout(payout, found)
    if progress is not None:
        progress(CONNECTED_PAYOUTS, seen)
    for (destination, reference), payout in sorted(expected.items()):
        yield Difference(
            "payout_missing_at_provider",
            reference,
            payout.money,
            None,
            f"on {destination}",
        )


def reconcile(
    provider: PaymentProvider,
    start: datetime,
    end: datetime,
    *,
    page_size: int = 100,
    progress: Progress | None = None,
) -> Iterator[Difference]:
    """Yield every difference between the ledger and the provider."""
    yield from _platform(provider, start, end, page_size, progress)
    yield from _connected(provider, start, end, page_size, progress)
