"""Hosted checkout sessions, paid only by verified provider events.

Opening a session asks the provider with the caller's idempotency key, so a
repeated request gets the same session. The ``checkout.session.completed``
event is the only thing that pays it: the event must name the session's
tenant, amount and currency, and it posts one transfer that takes the amount
from the provider clearing account and splits it between the seller's
balance and the platform's fee account.
"""

import logging
from fractions import Fraction
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.utils import timezone

from hardened_payments import ledger
from hardened_payments.exceptions import CheckoutMismatch, InvalidTransfer
from hardened_payments.internal import audit
from hardened_payments.internal.flows import accounts_for
from hardened_payments.internal.payouts import seller_account
from hardened_payments.ledger import Leg
from hardened_payments.models import CheckoutSession, LedgerAccount, Payment
from hardened_payments.money import Money, Rounding, round_fraction
from hardened_payments.providers import PaymentProvider
from hardened_payments.signals import checkout_completed, checkout_expired
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)

METADATA_TENANT = "hardened_tenant"
METADATA_REFERENCE = "hardened_checkout"
MAX_REFERENCE_LENGTH = 200
PAID = "paid"


def fees_account(tenant: Tenant, currency: str) -> LedgerAccount:
    """The tenant's account that collects the platform's fees."""
    return ledger.open_account(tenant, f"platform-fees-{currency.lower()}", currency)


def _check_amounts(amount: Money, fee: Money) -> None:
    if amount.amount <= 0:
        raise InvalidTransfer("A checkout is for a positive amount.")
    if fee.currency != amount.currency or not 0 <= fee.amount <= amount.amount:
        raise InvalidTransfer("The fee must be part of the amount, in its currency.")


def start(
    provider: PaymentProvider,
    *,
    tenant: Tenant,
    buyer_pk: int,
    seller_pk: int,
    amount: Money,
    fee: Money,
    reference: str,
    description: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> CheckoutSession:
    """Open a session once per buyer and key; a repeat returns the first."""
    _check_amounts(amount, fee)
    if buyer_pk == seller_pk:
        raise InvalidTransfer("A seller cannot check out their own sale.")
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        raise InvalidTransfer("A checkout needs a reference of 1 to 200 characters.")

    existing = CheckoutSession.objects.filter(
        buyer_id=buyer_pk, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        _same_request(existing, tenant, reference, amount)
        return existing

    metadata = {METADATA_TENANT: str(tenant.pk), METADATA_REFERENCE: reference}
    result = provider.create_checkout_session(
        amount=amount,
        description=description,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=idempotency_key,
        client_reference_id=reference,
        metadata=metadata,
    )
    if result.amount != amount:
        raise CheckoutMismatch("The provider opened a session for another amount.")
    try:
        with transaction.atomic():
            session = CheckoutSession.objects.create(
                tenant=tenant,
                buyer_id=buyer_pk,
                seller_id=seller_pk,
                reference=reference,
                provider_id=result.id,
                url=result.url,
                amount=amount.amount,
                fee=fee.amount,
                currency=amount.currency,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        session = CheckoutSession.objects.get(
            buyer_id=buyer_pk, idempotency_key=idempotency_key
        )
        _same_request(session, tenant, reference, amount)
        return session
    audit.emit(
        "checkout_started",
        outcome="success",
        actor=buyer_pk,
        tenant=tenant.pk,
        target=result.id,
        amount=amount.amount,
        currency=amount.currency,
        fee=fee.amount,
        idempotency_key=idempotency_key,
    )
    return session


def _same_request(
    session: CheckoutSession, tenant: Tenant, reference: str, amount: Money
) -> None:
    if (
        session.tenant_id != tenant.pk
        or session.reference != reference
        or session.money != amount
    ):
        raise CheckoutMismatch("The key was already used for another checkout.")


def _refuse(session: CheckoutSession | None, event_id: str, why: str) -> NoReturn:
    audit.emit(
        "checkout_event_refused",
        outcome="failure",
        tenant=session.tenant_id if session is not None else None,
        target=session.provider_id if session is not None else None,
        provider_event_id=event_id,
        reason=why,
    )
    raise CheckoutMismatch(f"The checkout event was refused: {why}.")


def _event_amount(obj: dict[str, Any]) -> Money | None:
    amount, currency = obj.get("amount_total"), obj.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return Money(amount, currency.upper())
    except ValueError:
        return None


def complete(obj: dict[str, Any], event_id: str) -> None:
    """Pay the session a verified completion event names, exactly once."""
    session = (
        CheckoutSession.objects.select_for_update()
        .filter(provider_id=str(obj.get("id") or ""))
        .first()
    )
    if session is None:
        _refuse(None, event_id, "unknown session")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or metadata.get(METADATA_TENANT) != str(
        session.tenant_id
    ):
        _refuse(session, event_id, "tenant differs")
    if _event_amount(obj) != session.money:
        _refuse(session, event_id, "amount differs")
    if session.status == CheckoutSession.Status.EXPIRED:
        _refuse(session, event_id, "session expired")
    if obj.get("payment_status") != PAID or session.status != session.Status.OPEN:
        return
    intent = obj.get("payment_intent")
    if not isinstance(intent, str) or not intent.startswith("pi_"):
        _refuse(session, event_id, "no payment intent")

    payment, _ = Payment.objects.get_or_create(
        provider_id=intent,
        defaults={
            "tenant": session.tenant,
            "user_id": session.buyer_id,
            "amount": session.amount,
            "currency": session.currency,
            "status": Payment.Status.SUCCEEDED,
            "idempotency_key": session.idempotency_key,
        },
    )
    if payment.tenant_id != session.tenant_id or payment.money != session.money:
        _refuse(session, event_id, "payment intent belongs elsewhere")
    _post_sale(session, payment)
    session.status = CheckoutSession.Status.COMPLETE
    session.payment = payment
    session.completed_at = timezone.now()
    session.save(update_fields=["status", "payment", "completed_at"])
    checkout_completed.send(sender=CheckoutSession, session=session, event_id=event_id)
    audit.emit(
        "checkout_completed",
        outcome="success",
        actor=session.buyer_id,
        tenant=session.tenant_id,
        target=session.provider_id,
        amount=session.amount,
        currency=session.currency,
        fee=session.fee,
        provider_event_id=event_id,
    )


def _post_sale(session: CheckoutSession, payment: Payment) -> None:
    tenant, currency = session.tenant, session.currency
    clearing, _ = accounts_for(tenant, currency)
    fee = session.fee_money
    legs = [
        Leg(clearing, -session.money),
        Leg(seller_account(tenant, session.seller_id, currency), session.money - fee),
    ]
    if fee.amount:
        legs.append(Leg(fees_account(tenant, currency), fee))
    ledger.post_transfer(
        tenant,
        f"payment:{payment.provider_id}",
        [leg for leg in legs if leg.amount.amount],
        description="Checkout paid",
    )


def expire(obj: dict[str, Any], event_id: str) -> None:
    """Close an open session the provider reports as expired unpaid."""
    session = (
        CheckoutSession.objects.select_for_update()
        .filter(provider_id=str(obj.get("id") or ""), status="open")
        .first()
    )
    if session is None:
        return
    session.status = CheckoutSession.Status.EXPIRED
    session.save(update_fields=["status"])
    checkout_expired.send(sender=CheckoutSession, session=session, event_id=event_id)
    audit.emit(
        "checkout_expired",
        outcome="failure",
        tenant=session.tenant_id,
        target=session.provider_id,
        provider_event_id=event_id,
    )


def _fee_share(session: CheckoutSession, refunded: int) -> int:
    return round_fraction(
        Fraction(session.fee * refunded, session.amount), Rounding.HALF_EVEN
    )


def refund_legs(session: CheckoutSession, payment: Payment, amount: Money) -> list[Leg]:
    """Legs that return ``amount`` to the buyer from the seller and the fee.

    The fee goes back in proportion to what has been refunded in total, so a
    full refund, in any number of parts, returns the whole fee.
    """
    tenant, currency = session.tenant, session.currency
    before = payment.amount_refunded
    fee_part = Money(
        _fee_share(session, before + amount.amount) - _fee_share(session, before),
        currency,
    )
    clearing, _ = accounts_for(tenant, currency)
    legs = [
        Leg(clearing, amount),
        Leg(seller_account(tenant, session.seller_id, currency), fee_part - amount),
        Leg(fees_account(tenant, currency), -fee_part),
    ]
    return [leg for leg in legs if leg.amount.amount]
