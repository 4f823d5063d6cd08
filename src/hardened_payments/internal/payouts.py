"""Marketplace payouts: seller balances in the ledger, confirmed by events.

A payout first moves the amount from the seller's account to the tenant's
payouts-in-transit account. The provider pays out of the seller's connected
account, so the amount is then transferred there from the platform's balance
(the platform's clearing account gives it to the connected-accounts
account), and only then is the payout asked for. It becomes paid (or goes
back to the seller) only when a verified webhook says so and re-fetching the
payout from the provider agrees; a failed payout has its transfer reversed,
so the money is back on the platform before the seller can ask again.
"""

import hashlib
import logging

from django.db import transaction

from hardened_payments import ledger
from hardened_payments.exceptions import InvalidTransfer, ProviderError
from hardened_payments.internal import audit
from hardened_payments.internal.flows import accounts_for
from hardened_payments.ledger import Leg
from hardened_payments.models import LedgerAccount, Payout, PayoutDestination
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)

METADATA_KEY = "hardened_payout"
TRANSFER_PURPOSE = "transfer"
REVERSAL_PURPOSE = "transfer-reversal"


class PayoutNotConfirmed(Exception):
    """The provider does not (yet) agree with the event; retry later."""


def seller_account(tenant: Tenant, seller_pk: int, currency: str) -> LedgerAccount:
    return ledger.open_account(
        tenant, f"seller-{seller_pk}-{currency.lower()}", currency
    )


def in_transit_account(tenant: Tenant, currency: str) -> LedgerAccount:
    return ledger.open_account(
        tenant, f"payouts-in-transit-{currency.lower()}", currency
    )


def connected_account(tenant: Tenant, currency: str) -> LedgerAccount:
    """What the tenant's transfers put on its sellers' connected accounts.

    Like the clearing account it mirrors money held at the provider, so it is
    negative while connected accounts hold transferred money not yet paid out.
    """
    return ledger.open_account(
        tenant, f"connected-accounts-{currency.lower()}", currency, allow_negative=True
    )


def purpose_key(idempotency_key: str, purpose: str) -> str:
    """The provider key of one step of a payout, derived from the payout's.

    The provider refuses one key on two endpoints, so the transfer and its
    reversal each get their own, stable across retries of the same payout.
    """
    digest = hashlib.sha256(f"{purpose}\x00{idempotency_key}".encode()).hexdigest()
    return f"hp_{purpose}_{digest}"


def credit_seller(
    tenant: Tenant, seller_pk: int, amount: Money, transfer_id: str
) -> None:
    """Move a seller's share from the tenant's funds to the seller's balance."""
    _, funds = accounts_for(tenant, amount.currency)
    ledger.post_transfer(
        tenant,
        transfer_id,
        [
            Leg(funds, -amount),
            Leg(seller_account(tenant, seller_pk, amount.currency), amount),
        ],
        description="Seller share",
    )


def set_destination(
    tenant: Tenant, seller_pk: int, account: str, ip: str | None
) -> PayoutDestination:
    destination, _ = PayoutDestination.objects.update_or_create(
        tenant=tenant, user_id=seller_pk, defaults={"account": account}
    )
    audit.emit(
        "payout_destination_changed",
        outcome="success",
        actor=seller_pk,
        tenant=tenant.pk,
        target=str(destination.pk),
        ip=ip,
    )
    return destination


def request_payout(
    provider: PaymentProvider,
    tenant: Tenant,
    seller_pk: int,
    amount: Money,
    idempotency_key: str,
) -> Payout:
    """Reserve the amount in the ledger and ask the provider to pay it out."""
    with transaction.atomic():
        destination = PayoutDestination.objects.filter(
            tenant=tenant, user_id=seller_pk
        ).first()
        if destination is None:
            raise InvalidTransfer("Set a payout destination first.")
        payout = Payout.objects.create(
            tenant=tenant,
            seller_id=seller_pk,
            amount=amount.amount,
            currency=amount.currency,
            destination=destination.account,
            idempotency_key=idempotency_key,
        )
        ledger.post_transfer(
            tenant,
            f"payout:{payout.pk}:reserve",
            [
                Leg(seller_account(tenant, seller_pk, amount.currency), -amount),
                Leg(in_transit_account(tenant, amount.currency), amount),
            ],
            description="Payout requested",
        )
        metadata = {METADATA_KEY: str(payout.pk)}
        funded = provider.create_transfer(
            amount=amount,
            destination=destination.account,
            idempotency_key=purpose_key(idempotency_key, TRANSFER_PURPOSE),
            metadata=metadata,
        )
        if funded.amount != amount or funded.destination != destination.account:
            raise ProviderError("The provider's transfer differs from the payout.")
        clearing, _ = accounts_for(tenant, amount.currency)
        ledger.post_transfer(
            tenant,
            f"payout:{payout.pk}:transfer",
            [
                Leg(clearing, amount),
                Leg(connected_account(tenant, amount.currency), -amount),
            ],
            description="Payout funded on the connected account",
        )
        payout.transfer_id = funded.id
        try:
            result = provider.create_payout(
                amount=amount,
                destination=destination.account,
                idempotency_key=idempotency_key,
                metadata=metadata,
            )
        except ProviderError:
            _take_back(provider, payout, funded.id)
            raise
        payout.provider_id = result.id
        payout.save(update_fields=["provider_id", "transfer_id", "updated_at"])
    audit.emit(
        "payout_requested",
        outcome="success",
        actor=seller_pk,
        tenant=tenant.pk,
        target=result.id,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=idempotency_key,
        transfer=payout.transfer_id,
    )
    return payout


def _take_back(provider: PaymentProvider, payout: Payout, transfer_id: str) -> None:
    """Reverse the transfer of a payout the provider refused to create.

    The payout's rows roll back with the refusal, so a reversal that fails
    too is logged for reconciliation, which reports the orphaned transfer.
    """
    try:
        provider.reverse_transfer(
            transfer_id,
            amount=payout.money,
            idempotency_key=purpose_key(payout.idempotency_key, REVERSAL_PURPOSE),
            metadata={METADATA_KEY: str(payout.pk)},
        )
    except ProviderError:
        logger.error(
            "Transfer %s funds a payout the provider refused and was not reversed",
            transfer_id,
        )


def _reverse_funding(
    provider: PaymentProvider, payout: Payout, timeout: float | None
) -> None:
    """Bring a failed payout's money back from the connected account."""
    reversal = provider.reverse_transfer(
        payout.transfer_id,
        amount=payout.money,
        idempotency_key=purpose_key(payout.idempotency_key, REVERSAL_PURPOSE),
        metadata={METADATA_KEY: str(payout.pk)},
        timeout=timeout,
    )
    if reversal.amount != payout.money or reversal.transfer_id != payout.transfer_id:
        raise PayoutNotConfirmed("The provider's reversal differs from the payout.")
    clearing, _ = accounts_for(payout.tenant, payout.currency)
    ledger.post_transfer(
        payout.tenant,
        f"payout:{payout.pk}:transfer-reversed",
        [
            Leg(connected_account(payout.tenant, payout.currency), payout.money),
            Leg(clearing, -payout.money),
        ],
        description="Failed payout's transfer reversed",
    )
    payout.transfer_reversal_id = reversal.id


def settle(
    provider: PaymentProvider,
    provider_id: str,
    event_id: str,
    *,
    timeout: float | None = None,
) -> None:
    """Apply a payout event once the provider's own record confirms it.

    ``timeout`` bounds the re-fetch (one attempt, no retries) so that a slow
    provider cannot hold the webhook and the payout's row lock for long.
    """
    payout = Payout.objects.select_for_update().get(provider_id=provider_id)
    if payout.status != Payout.Status.PENDING:
        return
    fetched = provider.retrieve_payout(provider_id, payout.destination, timeout=timeout)
    if fetched.amount != payout.money or fetched.metadata.get(METADATA_KEY) != str(
        payout.pk
    ):
        raise PayoutNotConfirmed("The provider's payout differs from ours.")
    if fetched.status not in (Payout.Status.PAID, Payout.Status.FAILED):
        raise PayoutNotConfirmed("The provider has not settled the payout yet.")

    tenant = payout.tenant
    in_transit = in_transit_account(tenant, payout.currency)
    if fetched.status == Payout.Status.PAID:
        if payout.transfer_id:
            counterpart = connected_account(tenant, payout.currency)
        else:
            counterpart, _ = accounts_for(tenant, payout.currency)
    else:
        if payout.transfer_id:
            _reverse_funding(provider, payout, timeout)
        counterpart = seller_account(tenant, payout.seller_id, payout.currency)
    ledger.post_transfer(
        tenant,
        f"payout:{payout.pk}:{fetched.status}",
        [Leg(in_transit, -payout.money), Leg(counterpart, payout.money)],
        description=f"Payout {fetched.status}",
    )
    payout.status = fetched.status
    payout.save(update_fields=["status", "transfer_reversal_id", "updated_at"])
    audit.emit(
        f"payout_{fetched.status}",
        outcome="success" if fetched.status == Payout.Status.PAID else "failure",
        actor=None,
        tenant=tenant.pk,
        target=provider_id,
        amount=payout.amount,
        currency=payout.currency,
        provider_event_id=event_id,
        transfer_reversal=payout.transfer_reversal_id or None,
    )
