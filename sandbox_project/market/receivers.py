"""Orders follow their checkout sessions, in the transaction that pays them."""

from typing import Any

from django.utils import timezone

from hardened_payments.models import CheckoutSession
from hardened_payments.signals import checkout_completed, checkout_expired
from hardened_rbac.tenancy import use_tenant
from market.models import Order


def order_paid(sender: Any, session: CheckoutSession, **kwargs: Any) -> None:
    with use_tenant(session.tenant):
        Order.objects.filter(checkout=session, status=Order.Status.PENDING).update(
            status=Order.Status.PAID, paid_at=timezone.now()
        )


def order_cancelled(sender: Any, session: CheckoutSession, **kwargs: Any) -> None:
    with use_tenant(session.tenant):
        Order.objects.filter(checkout=session, status=Order.Status.PENDING).update(
            status=Order.Status.CANCELLED
        )


def connect() -> None:
    checkout_completed.connect(order_paid, dispatch_uid="market.order_paid")
    checkout_expired.connect(order_cancelled, dispatch_uid="market.order_cancelled")
