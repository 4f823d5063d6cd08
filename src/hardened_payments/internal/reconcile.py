"""Comparing the ledger's records with the provider's balance transactions."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from hardened_payments.models import LedgerEntry, Payment, Payout, Refund
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider

CHARGE_TYPES = {"charge", "payment"}
REFUND_TYPES = {"refund", "payment_refund"}
PAYOUT_TYPES = {"payout"}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    reference: str
    ledger: Money | None
    provider: Money | None

    def __str__(self) -> str:
        return (
            f"{self.kind}: {self.reference} ledger={self.ledger or '-'} "
            f"provider={self.provider or '-'}"
        )


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


def _expected(start: datetime, end: datetime) -> dict[str, tuple[str, Money | None]]:
    """What the ledger says the provider should show, keyed by provider id."""
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
    payouts = Payout.objects.filter(
        status=Payout.Status.PAID, created_at__gte=start, created_at__lt=end
    ).exclude(provider_id="")
    for payout in payouts.iterator():
        amount = _ledger_amount(f"payout:{payout.pk}:paid", "provider-clearing")
        expected[payout.provider_id] = ("payout", amount)
    return expected


def _kind(provider_type: str) -> str | None:
    if provider_type in CHARGE_TYPES:
        return "charge"
    if provider_type in REFUND_TYPES:
        return "refund"
    if provider_type in PAYOUT_TYPES:
        return "payout"
    return None


def reconcile(
    provider: PaymentProvider,
    start: datetime,
    end: datetime,
    *,
    page_size: int = 100,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Difference]:
    """Yield every difference between the ledger and the provider."""
    expected = _expected(start, end)
    seen = 0
    for transaction in provider.balance_transactions(
        created_from=int(start.timestamp()),
        created_to=int(end.timestamp()),
        page_size=page_size,
    ):
        seen += 1
        if progress is not None and seen % page_size == 0:
            progress(seen)
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
        progress(seen)
    for reference, (kind, amount) in sorted(expected.items()):
        yield Difference(f"{kind}_missing_at_provider", reference, amount, None)
