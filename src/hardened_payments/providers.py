"""The interface between the flows and a payment provider.

The flows call only :class:`PaymentProvider`; :func:`get_provider` returns
an instance of the class ``HARDENED_PAYMENTS_PROVIDER`` names, Stripe's by
default. A second provider implements the same methods.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from django.utils.module_loading import import_string

from hardened_payments.conf import app_settings
from hardened_payments.money import Money


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    id: str
    status: str
    amount: Money
    client_secret: str | None = None
    next_action_type: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    id: str
    status: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ProviderPayout:
    id: str
    status: str
    amount: Money
    metadata: dict[str, str] = field(default_factory=dict)
    created: int = 0


@dataclass(frozen=True, slots=True)
class ProviderTransfer:
    """Money moved from the platform's balance to a connected account's."""

    id: str
    amount: Money
    destination: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderTransferReversal:
    """Money a transfer moved, taken back to the platform's balance."""

    id: str
    transfer_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ProviderCheckoutSession:
    """A hosted payment page: ``url`` is where the buyer is sent to pay."""

    id: str
    url: str
    status: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ProviderBalanceTransaction:
    """One movement on the provider's balance, tied to what caused it."""

    id: str
    type: str
    amount: Money
    source_id: str
    created: int


class PaymentProvider(Protocol):
    name: str

    def create_payment(
        self,
        *,
        amount: Money,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment: ...

    def create_refund(
        self, *, payment_id: str, amount: Money, idempotency_key: str
    ) -> ProviderRefund: ...

    def create_payout(
        self,
        *,
        amount: Money,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayout: ...

    def create_transfer(
        self,
        *,
        amount: Money,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderTransfer:
        """Move ``amount`` from the platform to the connected ``destination``."""
        ...

    def reverse_transfer(
        self,
        transfer_id: str,
        *,
        amount: Money,
        idempotency_key: str,
        metadata: dict[str, str],
        timeout: float | None = None,
    ) -> ProviderTransferReversal:
        """Take ``amount`` of a transfer back from the connected account."""
        ...

    def retrieve_payout(
        self, payout_id: str, destination: str, *, timeout: float | None = None
    ) -> ProviderPayout:
        """Fetch a payout; with ``timeout``, one attempt of at most that long."""
        ...

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
    ) -> ProviderCheckoutSession: ...

    def balance_transactions(
        self, *, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderBalanceTransaction]: ...

    def payouts(
        self, *, destination: str, created_from: int, created_to: int, page_size: int
    ) -> Iterator[ProviderPayout]:
        """Every payout of a connected account created in the period."""
        ...


def get_provider() -> PaymentProvider:
    """An instance of the configured provider class."""
    provider: PaymentProvider = import_string(app_settings.PROVIDER)()
    return provider
