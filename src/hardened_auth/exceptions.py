"""Exceptions raised by hardened_auth."""

from django.core.exceptions import ImproperlyConfigured


class HardenedAuthConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_AUTH_* setting cannot be used as configured."""
