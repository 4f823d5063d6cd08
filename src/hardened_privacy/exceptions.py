"""Exceptions raised by hardened_privacy."""

from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)


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


class EgressError(Exception):
    """Raised when an outbound request through the egress guard fails."""


class EgressRefused(EgressError, PermissionDenied):
    """Raised when the egress policy refuses an outbound request."""


class EgressHostNotAllowed(EgressRefused):
    """Raised when a URL's scheme, host or port is not on the allowlist."""


class EgressAddressRefused(EgressRefused):
    """Raised when a host resolves to an internal or reserved address."""


class EgressRedirectRefused(EgressRefused):
    """Raised when a response redirects to another origin or too often."""


class EgressRequestInvalid(EgressRefused):
    """Raised when a request's method, headers or body are malformed."""


class EgressLimitExceeded(EgressError):
    """Raised when a response exceeds the configured size or time cap."""


class EgressResponseTooLarge(EgressLimitExceeded):
    """Raised when a response body is larger than the configured cap."""


class EgressTimeout(EgressLimitExceeded):
    """Raised when a request takes longer than the configured total time."""


class EgressConnectionError(EgressError):
    """Raised when no checked address accepts a connection or TLS fails."""


class PromptTemplateError(HardenedPrivacyConfigurationError):
    """Raised when a prompt template is missing, malformed or unsafe to render."""


class PromptVariableError(ValueError):
    """Raised when values passed to a prompt do not match its declared variables."""


class ReviewManifestError(HardenedPrivacyConfigurationError):
    """Raised when the review manifest is unreadable or a review is invalid."""
