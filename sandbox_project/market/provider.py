"""The sandbox's stand-in for Stripe, used when no Stripe keys are set.

It implements :class:`hardened_payments.providers.PaymentProvider` with
objects shaped like Stripe's, kept in :class:`~market.models.
LocalProviderObject`. Like Stripe, a repeated idempotency key returns the
first object and the same key with other parameters is an error, and a
connected account pays out only what transfers put on its balance. It never
reports a payment or a payout as settled by itself: that happens only when a
signed event reaches the webhook endpoint (see :mod:`market.local`).
"""

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from hardened_payments.conf import app_settings
from hardened_payments.exceptions import ProviderError
from hardened_payments.money import Money
from hardened_payments.providers import (
    ProviderBalanceTransaction,
    ProviderCheckoutSession,
    ProviderPayment,
    ProviderPayout,
    ProviderRefund,
    ProviderTransfer,
    ProviderTransferReversal,
)
from market.models import LocalProviderObject

LOCAL_PROVIDER = "market.provider.LocalProvider"


def is_active() -> bool:
    """Whether the site is configured to use this stand-in."""
    return app_settings.PROVIDER == LOCAL_PROVIDER and not getattr(
        settings, "HARDENED_PAYMENTS_STRIPE_API_KEY", ""
    )


def new_id(prefix: str) -> str:
    return f"{prefix}_local{secrets.token_hex(12)}"


def _digest(params: dict[str, Any]) -> str:
    encoded = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def create_object(
    kind: str, prefix: str, idempotency_key: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Store a new object, or return the one the key already made."""
    digest = _digest(params)
    found = LocalProviderObject.objects.filter(
        kind=kind, idempotency_key=idempotency_key
    ).first()
    if found is None:
        data = {
            **params,
            "id": new_id(prefix),
            "object": kind,
            "created": int(time.time()),
        }
        try:
            with transaction.atomic():
                found = LocalProviderObject.objects.create(
                    kind=kind,
                    object_id=data["id"],
                    idempotency_key=idempotency_key,
                    request_digest=digest,
                    data=data,
                )
        except IntegrityError:
            found = LocalProviderObject.objects.get(
                kind=kind, idempotency_key=idempotency_key
            )
    if found.request_digest != digest:
        raise ProviderError("The idempotency key was used with other parameters.")
    return dict(found.data)


def _known(kind: str, idempotency_key: str) -> bool:
    return LocalProviderObject.objects.filter(
        kind=kind, idempotency_key=idempotency_key
    ).exists()


def connected_balance(destination: str, currency: str) -> int:
    """What a connected account holds: transfers in, less reversals and payouts.

    A payout that failed or was canceled gives its amount back, as on Stripe.
    """
    currency = currency.lower()
    transfers = LocalProviderObject.objects.filter(
        kind="transfer", data__destination=destination, data__currency=currency
    )
    transfer_ids = [row.object_id for row in transfers]
    reversals = LocalProviderObject.objects.filter(
        kind="transfer_reversal", data__transfer__in=transfer_ids
    )
    payouts = LocalProviderObject.objects.filter(
        kind="payout", data__account=destination, data__currency=currency
    ).exclude(data__status__in=["failed", "canceled"])
    return (
        sum(int(row.data["amount"]) for row in transfers)
        - sum(int(row.data["amount"]) for row in reversals)
        - sum(int(row.data["amount"]) for row in payouts)
    )


def _money(data: dict[str, Any]) -> Money:
    return Money(int(data["amount"]), str(data["currency"]).upper())


class LocalProvider:
    """Answers the flows on this machine, with Stripe's object shapes."""

    name = "sandbox"

    def create_payment(
        self,
        *,
        amount: Money,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment:
        intent = create_object(
            "payment_intent",
            "pi",
            idempotency_key,
            {
                "amount": amount.amount,
                "currency": amount.currency.lower(),
                "payment_method": payment_method,
                "metadata": metadata,
                "status": "succeeded",
            },
        )
        return ProviderPayment(intent["id"], intent["status"], _money(intent))

    def create_refund(
        self, *, payment_id: str, amount: Money, idempotency_key: str
    ) -> ProviderRefund:
        refund = create_object(
            "refund",
            "re",
            idempotency_key,
            {
                "amount": amount.amount,
                "currency": amount.currency.lower(),
                "payment_intent": payment_id,
                "status": "succeeded",
            },
        )
        return ProviderRefund(refund["id"], refund["status"], _money(refund))

    def create_payout(
        self,
        *,
        amount: Money,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayout:
        """Pay out of the connected account's balance, never beyond it."""
        with transaction.atomic():
            _lock_account(destination)
            if not _known("payout", idempotency_key) and amount.amount > (
                connected_balance(destination, amount.currency)
            ):
                raise ProviderError("The connected account's balance is too low.")
            payout = create_object(
                "payout",
                "po",
                idempotency_key,
                {
                    "amount": amount.amount,
                    "currency": amount.currency.lower(),
                    "metadata": metadata,
                    "account": destination,
                    "status": "pending",
                },
            )
        return _payout(payout)

    def create_transfer(
        self,
        *,
        amount: Money,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderTransfer:
        transfer = create_object(
            "transfer",
            "tr",
            idempotency_key,
            {
                "amount": amount.amount,
                "currency": amount.currency.lower(),
                "destination": destination,
                "metadata": metadata,
            },
        )
        return ProviderTransfer(
            id=transfer["id"],
            amount=_money(transfer),
            destination=transfer["destination"],
            metadata=dict(transfer["metadata"]),
        )

    def reverse_transfer(
        self,
        transfer_id: str,
        *,
        amount: Money,
        idempotency_key: str,
        metadata: dict[str, str],
        timeout: float | None = None,
    ) -> ProviderTransferReversal:
        """Take money back, never more than is left of the transfer or held."""
        with transaction.atomic():
            transfer = (
                LocalProviderObject.objects.select_for_update()
                .filter(kind="transfer", object_id=transfer_id)
                .first()
            )
            if transfer is None:
                raise ProviderError("No such transfer.")
            if not _known("transfer_reversal", idempotency_key):
                reversed_before = sum(
                    int(row.data["amount"])
                    for row in LocalProviderObject.objects.filter(
                        kind="transfer_reversal", data__transfer=transfer_id
                    )
                )
                left = int(transfer.data["amount"]) - reversed_before
                held = connected_balance(
                    transfer.data["destination"], transfer.data["currency"]
                )
                if amount.amount > min(left, held):
                    raise ProviderError("The transfer cannot be reversed by that much.")
            reversal = create_object(
                "transfer_reversal",
                "trr",
                idempotency_key,
                {
                    "amount": amount.amount,
                    "currency": amount.currency.lower(),
                    "transfer": transfer_id,
                    "metadata": metadata,
                },
            )
        return ProviderTransferReversal(
            id=reversal["id"], transfer_id=transfer_id, amount=_money(reversal)
        )

    def retrieve_payout(
        self, payout_id: str, destination: str, *, timeout: float | None = None
    ) -> ProviderPayout:
        found = LocalProviderObject.objects.filter(
            kind="payout", object_id=payout_id
        ).first()
        if found is None or found.data.get("account") != destination:
            raise ProviderError("No such payout on that account.")
        return _payout(found.data)

    def create_checkout_session(
        self,
        *,
        amount: Money,
        description: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        client_reference_id: str,
        metadata: dict[str, str],
    ) -> ProviderCheckoutSession:
        session = create_object(
            "checkout.session",
            "cs",
            idempotency_key,
            {
                "mode": "payment",
                "amount_subtotal": amount.amount,
                "amount_total": amount.amount,
                "currency": amount.currency.lower(),
                "description": description,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": client_reference_id,
                "metadata": metadata,
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
            },
        )
        url = reverse("market:local_checkout", args=[session["id"]])
        return ProviderCheckoutSession(
            id=session["id"],
            url=url,
            status=session["status"],
            amount=Money(session["amount_total"], session["currency"].upper()),
        )

    def balance_transactions(
        self, *, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderBalanceTransaction]:
        """The platform's charges, refunds, transfers and reversals in a period.

        Payouts leave connected accounts, not the platform: see :meth:`payouts`.
        """
        rows = LocalProviderObject.objects.filter(
            kind__in=["checkout.session", "refund", "transfer", "transfer_reversal"]
        ).order_by("id")
        for row in rows.iterator(chunk_size=page_size):
            yield from _balance_transaction(row.data, created_from, created_to)

    def payouts(
        self, *, destination: str, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderPayout]:
        rows = LocalProviderObject.objects.filter(
            kind="payout", data__account=destination
        ).order_by("id")
        for row in rows.iterator(chunk_size=page_size):
            if created_from <= int(row.data["created"]) < created_to:
                yield _payout(row.data)


def _balance_transaction(
    data: dict[str, Any], low: int, high: int
) -> Iterator[ProviderBalanceTransaction]:
    kind = data["object"]
    immediate = kind in ("refund", "transfer", "transfer_reversal")
    created = int(data.get("settled") or (data["created"] if immediate else 0))
    if not low <= created < high:
        return
    if kind == "checkout.session" and data.get("payment_intent"):
        amount = Money(data["amount_total"], data["currency"].upper())
        yield ProviderBalanceTransaction(
            f"txn_{data['id']}", "charge", amount, data["payment_intent"], created
        )
    elif kind == "refund":
        yield ProviderBalanceTransaction(
            f"txn_{data['id']}", "refund", -_money(data), data["id"], created
        )
    elif kind == "transfer":
        yield ProviderBalanceTransaction(
            f"txn_{data['id']}", "transfer", -_money(data), data["id"], created
        )
    elif kind == "transfer_reversal":
        yield ProviderBalanceTransaction(
            f"txn_{data['id']}", "transfer_refund", _money(data), data["id"], created
        )


def _lock_account(destination: str) -> None:
    """Serialise payouts of one connected account by locking its transfers."""
    list(
        LocalProviderObject.objects.select_for_update()
        .filter(kind="transfer", data__destination=destination)
        .values_list("pk", flat=True)
    )


def _payout(data: dict[str, Any]) -> ProviderPayout:
    return ProviderPayout(
        id=data["id"],
        status=data["status"],
        amount=_money(data),
        metadata=dict(data.get("metadata") or {}),
        created=int(data.get("created") or 0),
    )
