"""Exceptions raised by hardened_rbac."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied


class HardenedRbacConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_RBAC_* setting cannot be used as configured."""


class TenantNotSet(PermissionDenied):
    """Raised when tenant-scoped data is touched with no current tenant."""


class CrossTenantWrite(PermissionDenied):
    """Raised when a row would be written into a tenant other than the current."""


class GrantTenantMismatch(PermissionDenied):
    """Raised when a grant would give a role of one tenant in another."""


class UnscopedReasonMissing(ImproperlyConfigured):
    """Raised when the escape hatch is opened without a stated reason."""


class PolicyMissing(PermissionDenied):
    """Raised when an action on a resource type has no declared policy."""


class PolicyConflict(ImproperlyConfigured):
    """Raised when two policies are declared for one action and resource."""
