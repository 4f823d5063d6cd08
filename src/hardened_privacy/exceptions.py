"""Exceptions raised by hardened_privacy."""

from django.core.exceptions import ImproperlyConfigured


class HardenedPrivacyConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_PRIVACY_* setting cannot be used as configured."""
