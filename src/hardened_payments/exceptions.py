"""Exceptions raised by hardened_payments."""

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError


class HardenedPaymentsConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_PAYMENTS_* setting cannot be used as configured."""


class UnknownCurrency(ValueError):
    """Raised when a code is not an ISO 4217 currency with a minor unit."""


class CurrencyMismatch(ValueError):
    """Raised when amounts in different currencies are combined."""


class InexactAmount(ValueError):
    """Raised when an amount has more precision than its currency allows."""


class LedgerError(ValidationError):
    """Base class for transfers the ledger refuses."""


class UnbalancedTransfer(LedgerError):
    """Raised when a transfer's legs do not sum to zero in every currency."""


class InvalidTransfer(LedgerError):
    """Raised when a transfer's legs are malformed or name foreign accounts."""


class InsufficientFunds(LedgerError):
    """Raised when a transfer would overdraw an account that forbids it."""


class TransferConflict(LedgerError):
    """Raised when a transfer id is reused with different content."""


class LedgerHistoryImmutable(IntegrityError):
    """Raised when code tries to change or delete posted ledger history."""


class ProviderError(Exception):
    """Raised when the payment provider cannot be reached or answers badly."""


class PaymentDeclined(Exception):
    """Raised when the provider declines a payment method or an amount."""


class RefundExceedsCaptured(LedgerError):
    """Raised when refunds would add up to more than the captured amount."""


class CheckoutMismatch(InvalidTransfer):
    """Raised when a checkout event disagrees with the session it names."""
