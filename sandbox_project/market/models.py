"""Listings sellers offer and the orders buyers pay through hosted checkout.

Money lives in hardened_payments: an order points at its checkout session,
and the seller's balance is read from the ledger, never stored here.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from hardened_payments.models import CheckoutSession
from hardened_payments.money import Money
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import TenantScopedModel


class Listing(TenantScopedModel):
    """Something a member sells to the other members of their tenant."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, editable=False, related_name="listings"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listings"
    )
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    price = models.BigIntegerField(help_text="In minor units of the currency.")
    currency = models.CharField(max_length=3)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0), name="market_listing_price_positive"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def price_money(self) -> Money:
        return Money(self.price, self.currency)


class Order(TenantScopedModel):
    """One purchase of a listing; paid when its checkout session is."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        CANCELLED = "cancelled"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, editable=False, related_name="orders"
    )
    listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, related_name="orders"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales"
    )
    amount = models.BigIntegerField()
    fee = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    checkout = models.OneToOneField(
        CheckoutSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order",
    )
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "idempotency_key"], name="market_order_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(fee__gte=0)
                & Q(fee__lte=models.F("amount")),
                name="market_order_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.pk}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def fee_money(self) -> Money:
        return Money(self.fee, self.currency)

    @property
    def refunded_money(self) -> Money:
        payment = self.checkout.payment if self.checkout is not None else None
        return Money(payment.amount_refunded if payment else 0, self.currency)


class LocalProviderObject(models.Model):
    """What the sandbox's stand-in for Stripe remembers about its objects.

    Used only when no Stripe keys are set; keyed like Stripe by object id and
    by the idempotency key the request carried.
    """

    kind = models.CharField(max_length=40)
    object_id = models.CharField(max_length=100, unique=True)
    idempotency_key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "idempotency_key"], name="market_local_provider_key"
            )
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.object_id
