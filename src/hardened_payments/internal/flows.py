"""Charges and refunds, each posting its ledger transfer."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from hardened_payments import ledger
from hardened_payments.exceptions import (
    InvalidTransfer,
    RefundExceedsCaptured,
    TransferConflict,
)
from hardened_payments.internal import audit
from hardened_payments.ledger import Leg
from hardened_payments.models import CheckoutSession, LedgerAccount, Payment, Refund
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider, ProviderPayment
from hardened_rbac.models import Tenant

logger = logging.getLogger(__name__)


def accounts_for(tenant: Tenant, currency: str) -> tuple[LedgerAccount, LedgerAccount]:
    """The tenant's provider clearing account and its funds account."""
    clearing = ledger.open_account(
        tenant, f"provider-clearing-{currency.lower()}", currency, allow_negative=True
    )
    funds = ledger.open_account(tenant, f"funds-{currency.lower()}", currency)
    return clearing, funds


def post_payment_transfer(payment: Payment) -> None:
    clearing, funds = accounts_for(payment.tenant, payment.currency)
    ledger.post_transfer(
        payment.tenant,
        f"payment:{payment.provider_id}",
        [Leg(clearing, -payment.money), Leg(funds, payment.money)],
        description="Payment captured",
    )


def record_payment(
    tenant: Tenant,
    user: AbstractBaseUser,
    result: ProviderPayment,
    idempotency_key: str,
) -> Payment:
    """Store the provider's answer; a succeeded payment reaches the ledger."""
    status = result.status if result.status in Payment.Status.values else "failed"
    with transaction.atomic():
        payment, _ = Payment.objects.get_or_create(
            provider_id=result.id,
            defaults={
                "tenant": tenant,
                "user_id": user.pk,
                "amount": result.amount.amount,
                "currency": result.amount.currency,
                "status": status,
                "idempotency_key": idempotency_key,
            },
        )
        if payment.tenant_id != tenant.pk:
            raise InvalidTransfer("The provider returned another tenant's payment.")
        if payment.status == Payment.Status.SUCCEEDED:
            post_payment_transfer(payment)
    audit.emit(
        "payment_created",
        outcome="success",
        actor=user.pk,
        tenant=tenant.pk,
        target=payment.provider_id,
        amount=payment.amount,
        currency=payment.currency,
        status=payment.status,
        idempotency_key=idempotency_key,
    )
    return payment


def mark_payment_succeeded(provider_id: str, amount: Money, event_id: str) -> None:
    """Confirm a payment from a verified event and post its transfer."""
    payment = Payment.objects.select_for_update().get(provider_id=provider_id)
    if payment.money != amount:
        raise InvalidTransfer("The event's amount differs from the payment's.")
    if payment.status != Payment.Status.SUCCEEDED:
        payment.status = Payment.Status.SUCCEEDED
        payment.save(update_fields=["status", "updated_at"])
    post_payment_transfer(payment)
    audit.emit(
        "payment_succeeded",
        outcome="success",
        tenant=payment.tenant_id,
        target=provider_id,
        amount=payment.amount,
        currency=payment.currency,
        provider_event_id=event_id,
    )


def mark_payment_failed(provider_id: str, event_id: str) -> None:
    updated = Payment.objects.filter(
        provider_id=provider_id,
        status__in=[Payment.Status.REQUIRES_ACTION, Payment.Status.PROCESSING],
    ).update(status=Payment.Status.FAILED)
    audit.emit(
        "payment_failed",
        outcome="failure",
        target=provider_id,
        provider_event_id=event_id,
        changed=bool(updated),
    )


def _refund_legs(payment: Payment, amount: Money) -> list[Leg]:
    """A checkout's refund comes from its seller and fee; others from funds."""
    from hardened_payments.internal import checkout

    session = CheckoutSession.objects.filter(payment=payment).first()
    if session is not None:
        return checkout.refund_legs(session, payment, amount)
    clearing, funds = accounts_for(payment.tenant, payment.currency)
    return [Leg(funds, -amount), Leg(clearing, amount)]


def _refund_again(done: Refund, amount: Money) -> Refund:
    """The refund a key already made, if the request asks for the same."""
    if done.amount != amount.amount:
        raise TransferConflict(
            "The key already made a refund of another amount.", code="conflict"
        )
    return done


def refund(
    provider: PaymentProvider,
    payment: Payment,
    amount: Money,
    idempotency_key: str,
    actor: object,
) -> Refund:
    """Refund part or all of a payment; refunds never exceed the capture.

    The payment row and the funds account stay locked while the provider is
    called, so two refunds of one payment cannot both pass the check; the
    ledger transfer is rolled back if the provider refuses. A key that already
    refunded this payment returns that refund without calling the provider;
    with another amount it raises :class:`TransferConflict`.
    """
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        done = Refund.objects.filter(
            payment=locked, idempotency_key=idempotency_key
        ).first()
        if done is not None:
            return _refund_again(done, amount)
        if locked.status != Payment.Status.SUCCEEDED:
            raise RefundExceedsCaptured("Only a captured payment can be refunded.")
        if amount.currency != locked.currency or amount.amount <= 0:
            raise RefundExceedsCaptured("A refund is a positive amount in kind.")
        if locked.amount_refunded + amount.amount > locked.amount:
            audit.emit(
                "refund_refused",
                outcome="denied",
                actor=actor,
                tenant=locked.tenant_id,
                target=locked.provider_id,
                amount=amount.amount,
                currency=amount.currency,
                idempotency_key=idempotency_key,
            )
            raise RefundExceedsCaptured(
                "Refunds would exceed the captured amount.", code="exceeds_captured"
            )

        ledger.post_transfer(
            locked.tenant,
            f"refund:{locked.provider_id}:{idempotency_key}",
            _refund_legs(locked, amount),
            description="Refund",
        )
        result = provider.create_refund(
            payment_id=locked.provider_id,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        created = Refund.objects.create(
            payment=locked,
            provider_id=result.id,
            amount=amount.amount,
            status=result.status,
            idempotency_key=idempotency_key,
        )
        Payment.objects.filter(pk=locked.pk).update(
            amount_refunded=F("amount_refunded") + amount.amount
        )
    audit.emit(
        "refund_created",
        outcome="success",
        actor=actor,
        tenant=locked.tenant_id,
        target=locked.provider_id,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=idempotency_key,
        provider_refund_id=result.id,
    )
    return created
