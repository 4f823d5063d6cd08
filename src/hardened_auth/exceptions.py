"""Exceptions raised by hardened_auth."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied


class HardenedAuthConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_AUTH_* setting cannot be used as configured."""


class RateLimiterUnavailable(Exception):
    """Raised when the rate limiter's cache cannot count an attempt."""


class TokenRefused(PermissionDenied):
    """Raised when a presented API token cannot be used; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
