"""The ledger, the idempotency store and the webhook event log.

Ledger history is append-only in code on every database, and on PostgreSQL
also by triggers: the querysets of :class:`LedgerTransfer` and
:class:`LedgerEntry` refuse ``update()`` and ``delete()``, their instances
refuse ``save()`` of an existing row and ``delete()``, and an account's
``balance``, ``currency`` and ``tenant`` change only through
:func:`hardened_payments.ledger.post_transfer`. Each refusal raises
:class:`~hardened_payments.exceptions.LedgerHistoryImmutable`.
"""

from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from hardened_payments.exceptions import LedgerHistoryImmutable
from hardened_payments.money import Money
from hardened_rbac.models import Tenant

CURRENCY_LENGTH = 3
_Row = TypeVar("_Row", bound=models.Model)
ACCOUNT_GUARDED = frozenset({"balance", "currency", "tenant", "tenant_id"})


def _refuse(what: str) -> LedgerHistoryImmutable:
    return LedgerHistoryImmutable(
        f"Ledger history is append-only: {what} is refused; post a reversal."
    )


class AppendOnlyQuerySet(models.QuerySet[_Row]):
    """A queryset that reads and inserts but never rewrites or removes rows."""

    def update(self, **kwargs: Any) -> int:
        raise _refuse(f"updating {self.model._meta.label}")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise _refuse(f"deleting {self.model._meta.label}")


class AppendOnlyModel(models.Model):
    """Rows that are written once and then only read."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise _refuse(f"changing {self._meta.label} {self.pk}")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise _refuse(f"deleting {self._meta.label} {self.pk}")


class AccountQuerySet(models.QuerySet["LedgerAccount"]):
    """Accounts whose balance, currency and tenant only the ledger moves."""

    def update(self, **kwargs: Any) -> int:
        guarded = sorted(ACCOUNT_GUARDED.intersection(kwargs))
        if guarded:
            raise _refuse(f"updating ledger account {', '.join(guarded)}")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise _refuse("deleting ledger accounts")

    def add_to_balance(self, delta: int) -> int:
        """Add ``delta`` to the balance; only the ledger's posting calls this."""
        return super().update(balance=F("balance") + delta)


class LedgerAccount(models.Model):
    """A tenant's account in one currency; its balance moves only by entries.

    ``balance`` is kept by the ledger in the same transaction as the entries
    that change it: on PostgreSQL a trigger maintains it and refuses any other
    change, elsewhere :func:`hardened_payments.ledger.post_transfer` does.
    Saving an existing account writes only its other fields and refuses a
    changed balance, currency or tenant.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    allow_negative = models.BooleanField(
        default=False,
        help_text="Whether the balance may go below zero.",
    )
    balance = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code"], name="hardened_payments_account_code"
            ),
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance__gte=0),
                name="hardened_payments_account_not_overdrawn",
            ),
        ]
        ordering = ["tenant", "code"]

    def __str__(self) -> str:
        return f"{self.tenant}:{self.code} ({self.currency})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        stored = (
            LedgerAccount.objects.filter(pk=self.pk)
            .values("balance", "currency", "tenant_id")
            .first()
        )
        changed = stored is not None and any(
            name not in self.get_deferred_fields() and getattr(self, name) != value
            for name, value in stored.items()
        )
        fields = kwargs.pop("update_fields", None)
        if fields is None:
            fields = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in ACCOUNT_GUARDED
            ]
        if changed or ACCOUNT_GUARDED.intersection(fields):
            raise _refuse(f"changing ledger account {self.pk}'s guarded fields")
        super().save(*args, update_fields=fields, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise _refuse(f"deleting ledger account {self.pk}")

    @property
    def balance_money(self) -> Money:
        return Money(self.balance, self.currency)


class LedgerTransfer(AppendOnlyModel):
    """One journal row: a movement whose entries sum to zero per currency."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="ledger_transfers"
    )
    transfer_id = models.CharField(
        max_length=200, help_text="Chosen by the caller; posting it twice is safe."
    )
    description = models.CharField(max_length=500, blank=True)
    content_digest = models.CharField(max_length=64, editable=False)
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet["LedgerTransfer"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "transfer_id"],
                name="hardened_payments_transfer_id",
            )
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.transfer_id


class LedgerEntry(AppendOnlyModel):
    """One leg of a transfer: a signed amount on one account."""

    transfer = models.ForeignKey(
        LedgerTransfer, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)

    objects = AppendOnlyQuerySet["LedgerEntry"].as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="hardened_payments_entry_not_zero"
            )
        ]
        indexes = [models.Index(fields=["account", "id"])]
        ordering = ["id"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d} {self.currency}"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` bound to its user and its request."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="hardened_idempotency_keys",
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=State.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=200, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_location = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="hardened_payments_idempotency_key"
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.state}"


class Payment(models.Model):
    """A charge made through the provider for one tenant."""

    class Status(models.TextChoices):
        REQUIRES_ACTION = "requires_action"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="payments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hardened_payments",
    )
    provider_id = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    amount_refunded = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices)
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="hardened_payments_payment_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0)
                & Q(amount_refunded__lte=models.F("amount")),
                name="hardened_payments_refunds_within_amount",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class Refund(models.Model):
    """A partial or full refund of a payment."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds"
    )
    provider_id = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField()
    status = models.CharField(max_length=30)
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="hardened_payments_refund_positive"
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id


class WebhookEvent(models.Model):
    """A provider event, stored only after its signature was verified."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        FAILED = "failed"
        DEAD = "dead"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    signature_digest = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class PayoutDestination(models.Model):
    """Where a seller's payouts go: their connected provider account."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="payout_destinations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hardened_payout_destinations",
    )
    account = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user"], name="hardened_payments_one_destination"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant}:{self.user_id}"


class Payout(models.Model):
    """Money leaving a seller's ledger balance for their bank.

    The provider pays out of the seller's connected account, so the amount is
    first transferred there from the platform (``transfer_id``); a payout that
    fails has that transfer reversed (``transfer_reversal_id``).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="payouts")
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hardened_payouts",
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    destination = models.CharField(max_length=255)
    provider_id = models.CharField(max_length=255, blank=True)
    transfer_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="The provider's transfer that funded the connected account.",
    )
    transfer_reversal_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="The provider's reversal of that transfer after a failure.",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="hardened_payments_payout_positive"
            ),
            models.UniqueConstraint(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="hardened_payments_payout_provider_id",
            ),
            models.UniqueConstraint(
                fields=["transfer_id"],
                condition=~Q(transfer_id=""),
                name="hardened_payments_payout_transfer_id",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id or f"payout {self.pk}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class CheckoutSession(models.Model):
    """A hosted checkout the buyer pays on the provider's page.

    The session is paid only when a verified ``checkout.session.completed``
    event names it with the same tenant, amount and currency; that event
    records the :class:`Payment` and posts the transfer that credits the
    seller and the platform's fee.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        COMPLETE = "complete"
        EXPIRED = "expired"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hardened_checkout_purchases",
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hardened_checkout_sales",
    )
    reference = models.CharField(
        max_length=200, help_text="The caller's name for what is sold."
    )
    provider_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=2000, blank=True)
    amount = models.BigIntegerField()
    fee = models.BigIntegerField(help_text="The platform's share, in minor units.")
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN
    )
    idempotency_key = models.CharField(max_length=255)
    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="checkout_session",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(fee__gte=0)
                & Q(fee__lte=models.F("amount")),
                name="hardened_payments_checkout_amounts",
            ),
            models.UniqueConstraint(
                fields=["buyer", "idempotency_key"],
                name="hardened_payments_checkout_key",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def fee_money(self) -> Money:
        return Money(self.fee, self.currency)
