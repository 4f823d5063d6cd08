"""Marketplace payouts: seller balances in the ledger, confirmed by events.

A payout first moves the amount from the seller's account to the tenant's
payouts-in-transit account, then asks the provider. It becomes paid (or goes
back to the seller) only when a verified webhook says so and re-fetching the
payout from the provider agrees.
"""

import logging

from django.db import transaction

from hardened_payments import ledger
from hardened_payments.exceptions import InvalidTransfer
from hardened_payments.internal import audit
from hardened_payments.internal.flows import accounts_for
from hardened_payments.ledger import Leg
from hardened_payments.models import LedgerAccount, Payout, PayoutDestination
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)

METADATA_KEY = "hardened_payout"


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
        result = provider.create_payout(
            amount=amount,
            destination=destination.account,
            idempotency_key=idempotency_key,
            metadata={METADATA_KEY: str(payout.pk)},
        )
        payout.provider_id = result.id
        payout.save(update_fields=["provider_id", "updated_at"])
    audit.emit(
        "payout_requested",
        outcome="success",
        actor=seller_pk,
        tenant=tenant.pk,
        target=result.id,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=idempotency_key,
    )
    return payout


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
        clearing, _ = accounts_for(tenant, payout.currency)
        counterpart = clearing
    else:
        counterpart = seller_account(tenant, payout.seller_id, payout.currency)
    ledger.post_transfer(
        tenant,
        f"payout:{payout.pk}:{fetched.status}",
        [Leg(in_transit, -payout.money), Leg(counterpart, payout.money)],
        description=f"Payout {fetched.status}",
    )
    payout.status = fetched.status
    payout.save(update_fields=["status", "updated_at"])
    audit.emit(
        f"payout_{fetched.status}",
        outcome="success" if fetched.status == Payout.Status.PAID else "failure",
        actor=None,
        tenant=tenant.pk,
        target=provider_id,
        amount=payout.amount,
        currency=payout.currency,
        provider_event_id=event_id,
    )
