"""Hosted checkout: the buyer pays on the provider's page.

:func:`start_checkout` opens a Checkout Session through the configured
provider with the caller's idempotency key forwarded, and returns the
:class:`~hardened_payments.models.CheckoutSession` whose ``url`` the buyer is
sent to. Nothing is paid until a verified ``checkout.session.completed``
event, delivered to the webhook endpoint, names the session with the same
tenant, amount and currency; that event posts the sale to the ledger once and
sends :data:`hardened_payments.signals.checkout_completed`. See
``docs/hardened_payments.md``.
"""

from django.contrib.auth.models import AbstractBaseUser

from hardened_payments.internal import checkout as _checkout
from hardened_payments.models import CheckoutSession
from hardened_payments.money import Money
from hardened_payments.providers import PaymentProvider, get_provider
from hardened_rbac.models import Tenant

__all__ = ["fees_account", "start_checkout"]

fees_account = _checkout.fees_account


def start_checkout(
    tenant: Tenant,
    buyer: AbstractBaseUser,
    seller: AbstractBaseUser,
    amount: Money,
    *,
    fee: Money,
    reference: str,
    description: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
    provider: PaymentProvider | None = None,
) -> CheckoutSession:
    """Open (or, for a repeated key, return) the buyer's checkout session.

    ``fee`` is the platform's part of ``amount``; the rest goes to the
    seller's balance when the session is paid. Raises
    :class:`~hardened_payments.exceptions.InvalidTransfer` for amounts that
    cannot be sold, :class:`~hardened_payments.exceptions.CheckoutMismatch`
    when the key was used for another checkout, and
    :class:`~hardened_payments.exceptions.ProviderError` when the provider
    does not answer.
    """
    return _checkout.start(
        provider or get_provider(),
        tenant=tenant,
        buyer_pk=int(str(buyer.pk)),
        seller_pk=int(str(seller.pk)),
        amount=amount,
        fee=fee,
        reference=reference,
        description=description,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=idempotency_key,
    )
