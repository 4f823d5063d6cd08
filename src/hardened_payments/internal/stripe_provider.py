"""Stripe behind :class:`hardened_payments.providers.PaymentProvider`."""

import logging
from collections.abc import Iterator
from typing import Any

import stripe

from hardened_payments.conf import app_settings
from hardened_payments.exceptions import PaymentDeclined, ProviderError
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

logger = logging.getLogger(__name__)

TIMEOUT_RETRIES = 2


def _money(amount: Any, currency: Any) -> Money:
    if type(amount) is not int or not isinstance(currency, str):
        raise ProviderError("The provider sent an amount that is not an integer.")
    return Money(amount, currency.upper())


class StripeProvider:
    """Calls Stripe's API with the site's secret key and forwarded keys."""

    name = "stripe"

    def _client(self, timeout: float | None = None) -> stripe.StripeClient:
        """A client; with ``timeout``, one attempt of at most that long."""
        key = app_settings.STRIPE_API_KEY
        if not key:
            raise ProviderError("HARDENED_PAYMENTS_STRIPE_API_KEY is not set.")
        if timeout is None:
            return stripe.StripeClient(
                key,
                base_addresses={"api": stripe.api_base},
                max_network_retries=TIMEOUT_RETRIES,
            )
        return stripe.StripeClient(
            key,
            base_addresses={"api": stripe.api_base},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def _call(self, operation: str, call: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = call().to_dict()
            return result
        except stripe.CardError as exc:
            logger.warning("Stripe declined %s: %s", operation, exc.code)
            raise PaymentDeclined(exc.code or "card_declined") from exc
        except stripe.StripeError as exc:
            logger.error("Stripe %s failed: %s", operation, type(exc).__name__)
            raise ProviderError(f"Stripe {operation} failed.") from exc

    def create_payment(
        self,
        *,
        amount: Money,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment:
        intent = self._call(
            "payment",
            lambda: self._client().v1.payment_intents.create(
                params={
                    "amount": amount.amount,
                    "currency": amount.currency.lower(),
                    "payment_method": payment_method,
                    "confirm": True,
                    "metadata": metadata,
                    "automatic_payment_methods": {
                        "enabled": True,
                        "allow_redirects": "never",
                    },
                },
                options={"idempotency_key": idempotency_key},
            ),
        )
        next_action = intent.get("next_action") or {}
        return ProviderPayment(
            id=intent["id"],
            status=intent["status"],
            amount=_money(intent["amount"], intent["currency"]),
            client_secret=intent.get("client_secret"),
            next_action_type=next_action.get("type"),
        )

    def create_refund(
        self, *, payment_id: str, amount: Money, idempotency_key: str
    ) -> ProviderRefund:
        refund = self._call(
            "refund",
            lambda: self._client().v1.refunds.create(
                params={"payment_intent": payment_id, "amount": amount.amount},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return ProviderRefund(
            id=refund["id"],
            status=refund["status"],
            amount=_money(refund["amount"], refund["currency"]),
        )

    def create_payout(
        self,
        *,
        amount: Money,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayout:
        payout = self._call(
            "payout",
            lambda: self._client().v1.payouts.create(
                params={
                    "amount": amount.amount,
                    "currency": amount.currency.lower(),
                    "metadata": metadata,
                },
                options={
                    "idempotency_key": idempotency_key,
                    "stripe_account": destination,
                },
            ),
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
        """Fund a connected account from the platform's balance."""
        transfer = self._call(
            "transfer",
            lambda: self._client().v1.transfers.create(
                params={
                    "amount": amount.amount,
                    "currency": amount.currency.lower(),
                    "destination": destination,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            ),
        )
        if transfer.get("destination") != destination:
            raise ProviderError("The provider sent a transfer to another account.")
        return ProviderTransfer(
            id=transfer["id"],
            amount=_money(transfer["amount"], transfer["currency"]),
            destination=destination,
            metadata=dict(transfer.get("metadata") or {}),
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
        """Take part or all of a transfer back to the platform's balance."""
        reversal = self._call(
            "transfer reversal",
            lambda: self._client(timeout).v1.transfers.reversals.create(
                transfer_id,
                params={"amount": amount.amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            ),
        )
        if reversal.get("transfer") != transfer_id:
            raise ProviderError("The provider reversed another transfer.")
        return ProviderTransferReversal(
            id=reversal["id"],
            transfer_id=transfer_id,
            amount=_money(reversal["amount"], reversal["currency"]),
        )

    def retrieve_payout(
        self, payout_id: str, destination: str, *, timeout: float | None = None
    ) -> ProviderPayout:
        payout = self._call(
            "payout retrieval",
            lambda: self._client(timeout).v1.payouts.retrieve(
                payout_id, options={"stripe_account": destination}
            ),
        )
        return _payout(payout)

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
        """Open a hosted Checkout Session in payment mode for one line."""
        session = self._call(
            "checkout session",
            lambda: self._client().v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": amount.currency.lower(),
                                "unit_amount": amount.amount,
                                "product_data": {"name": description},
                            },
                        }
                    ],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "client_reference_id": client_reference_id,
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                },
                options={"idempotency_key": idempotency_key},
            ),
        )
        return ProviderCheckoutSession(
            id=session["id"],
            url=str(session.get("url") or ""),
            status=session["status"],
            amount=_money(session["amount_total"], session["currency"]),
        )

    def balance_transactions(
        self, *, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderBalanceTransaction]:
        """Every balance transaction created in ``[created_from, created_to)``."""
        client = self._client()
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {
                "created": {"gte": created_from, "lt": created_to},
                "limit": page_size,
                "expand": ["data.source"],
            }
            if starting_after:
                params["starting_after"] = starting_after
            page = self._call(
                "balance transactions",
                lambda p=params: client.v1.balance_transactions.list(params=p),
            )
            for item in page["data"]:
                yield ProviderBalanceTransaction(
                    id=item["id"],
                    type=item["type"],
                    amount=_money(item["amount"], item["currency"]),
                    source_id=_source_id(item.get("source")),
                    created=int(item["created"]),
                )
            if not page.get("has_more") or not page["data"]:
                return
            starting_after = page["data"][-1]["id"]

    def payouts(
        self, *, destination: str, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderPayout]:
        """Every payout of ``destination`` created in ``[created_from, created_to)``."""
        client = self._client()
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {
                "created": {"gte": created_from, "lt": created_to},
                "limit": page_size,
            }
            if starting_after:
                params["starting_after"] = starting_after
            page = self._call(
                "payouts",
                lambda p=params: client.v1.payouts.list(
                    params=p, options={"stripe_account": destination}
                ),
            )
            for item in page["data"]:
                yield _payout(item)
            if not page.get("has_more") or not page["data"]:
                return
            starting_after = page["data"][-1]["id"]


def _source_id(source: Any) -> str:
    """A charge counts under its payment intent; anything else under its id."""
    if isinstance(source, dict):
        if source.get("object") == "charge" and source.get("payment_intent"):
            return str(source["payment_intent"])
        return str(source.get("id") or "")
    return str(source or "")


def _payout(payout: dict[str, Any]) -> ProviderPayout:
    return ProviderPayout(
        id=payout["id"],
        status=payout["status"],
        amount=_money(payout["amount"], payout["currency"]),
        metadata=dict(payout.get("metadata") or {}),
        created=int(payout.get("created") or 0),
    )
