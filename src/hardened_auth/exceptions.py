"""Exceptions raised by hardened_auth."""

from django.core.exceptions import ImproperlyConfigured


class HardenedAuthConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_AUTH_* setting cannot be used as configured."""


class RateLimiterUnavailable(Exception):
    """Raised when the rate limiter's cache cannot count an attempt."""
