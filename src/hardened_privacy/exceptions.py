"""Exceptions raised by hardened_privacy."""

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation


class HardenedPrivacyConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_PRIVACY_* setting cannot be used as configured."""


class KeyProviderError(HardenedPrivacyConfigurationError):
    """Raised when a key provider cannot supply, wrap or unwrap a key."""


class KeyProviderUnavailable(KeyProviderError):
    """Raised when a remote key provider times out or cannot be reached."""


class DecryptionError(SuspiciousOperation):
    """Raised when a stored ciphertext is malformed, tampered or unopenable."""


class UnknownKeyError(DecryptionError):
    """Raised when a ciphertext names a key id that is not configured."""


class AuditChainError(SuspiciousOperation):
    """Raised when an audit chain cannot be extended or fails verification."""
