"""The double-entry ledger: post balanced, append-only transfers.

Every movement of money is one :class:`~hardened_payments.models.
LedgerTransfer` with two or more entries that sum to zero per currency.
Transfers are never changed or deleted; a mistake is corrected by posting
:func:`reverse_transfer`. See ``docs/hardened_payments.md`` for what the
database enforces on PostgreSQL.
"""

from collections.abc import Sequence

from django.db.models import Sum

from hardened_payments.internal import ledger as _ledger
from hardened_payments.internal.ledger import Leg
from hardened_payments.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from hardened_rbac.models import Tenant

__all__ = [
    "Leg",
    "balance",
    "open_account",
    "post_transfer",
    "reverse_transfer",
]


def open_account(
    tenant: Tenant,
    code: str,
    currency: str,
    *,
    allow_negative: bool = False,
    name: str = "",
) -> LedgerAccount:
    """Return the tenant's account ``code``, creating it if needed."""
    Money.zero(currency)
    account, _ = LedgerAccount.objects.get_or_create(
        tenant=tenant,
        code=code,
        defaults={"currency": currency, "allow_negative": allow_negative, "name": name},
    )
    return account


def post_transfer(
    tenant: Tenant,
    transfer_id: str,
    legs: Sequence[Leg],
    *,
    description: str = "",
) -> LedgerTransfer:
    """Post a balanced transfer once; the same id and content returns it again.

    Raises :class:`~hardened_payments.exceptions.UnbalancedTransfer`,
    :class:`~hardened_payments.exceptions.InsufficientFunds`,
    :class:`~hardened_payments.exceptions.InvalidTransfer` or
    :class:`~hardened_payments.exceptions.TransferConflict`, leaving the
    ledger as it was.
    """
    return _ledger.post(tenant, transfer_id, legs, description=description)


def reverse_transfer(transfer: LedgerTransfer, transfer_id: str) -> LedgerTransfer:
    """Post the opposite of ``transfer`` under a new id."""
    legs = [
        Leg(entry.account, Money(-entry.amount, entry.currency))
        for entry in transfer.entries.select_related("account")
    ]
    return _ledger.post(
        transfer.tenant,
        transfer_id,
        legs,
        description=f"Reversal of {transfer.transfer_id}",
        reverses=transfer,
    )


def balance(account: LedgerAccount) -> Money:
    """Return the account's balance as the database holds it now."""
    account.refresh_from_db(fields=["balance"])
    return account.balance_money


def entries_total(account: LedgerAccount) -> Money:
    """Sum the account's entries; always equal to :func:`balance`."""
    total = LedgerEntry.objects.filter(account=account).aggregate(t=Sum("amount"))
    return Money(total["t"] or 0, account.currency)
