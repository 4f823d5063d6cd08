"""Exceptions raised by hardened_rbac."""

from django.core.exceptions import ImproperlyConfigured


class HardenedRbacConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_RBAC_* setting cannot be used as configured."""
