"""Exceptions raised by hardened_payments."""

from django.core.exceptions import ImproperlyConfigured


class HardenedPaymentsConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_PAYMENTS_* setting cannot be used as configured."""
