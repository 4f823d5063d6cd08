"""Exceptions raised by hardened_rbac."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied


class HardenedRbacConfigurationError(ImproperlyConfigured):
    """Raised when a HARDENED_RBAC_* setting cannot be used as configured."""


class TenantNotSet(PermissionDenied):
    """Raised when tenant-scoped data is touched with no current tenant."""


class CrossTenantWrite(PermissionDenied):
    """Raised when a row would be written into a tenant other than the current."""


class CrossTenantRead(PermissionDenied):
    """Raised when a row of another tenant is loaded while a tenant is current."""


class GrantTenantMismatch(PermissionDenied):
    """Raised when a grant would give a role of one tenant in another."""


class UnscopedReasonMissing(ImproperlyConfigured):
    """Raised when the escape hatch is opened without a stated reason."""


class PolicyMissing(PermissionDenied):
    """Raised when an action on a resource type has no declared policy."""


class PolicyConflict(ImproperlyConfigured):
    """Raised when two policies are declared for one action and resource."""


class ActionLinkRefused(PermissionDenied):
    """Raised when an action link is forged, expired, reused or not the user's."""


class FriendRequestLimited(PermissionDenied):
    """Raised when a sender or an address has sent too many friend requests."""


class FriendRequestLimiterUnavailable(FriendRequestLimited):
    """Raised when the friend-request counters cannot be read; fails closed."""


class AgentToolConflict(ImproperlyConfigured):
    """Raised when two agent tools are registered under one name."""


class AgentToolRefused(PermissionDenied):
    """Raised when the agent tool gateway refuses a call; subclasses say why."""

    reason = "refused"


class UnknownAgentTool(AgentToolRefused):
    """Raised when an agent asks for a tool that is not registered."""

    reason = "unknown_tool"


class AgentToolNotAllowed(AgentToolRefused):
    """Raised when the acting user's policy does not allow the tool here."""

    reason = "policy_denied"


class AgentToolArgumentsInvalid(AgentToolRefused):
    """Raised when a call's arguments are malformed, oversized or hostile."""

    reason = "invalid_arguments"


class AgentToolObjectNotFound(AgentToolRefused):
    """Raised when an argument names an object the user may not act on."""

    reason = "object_refused"


class AgentToolRateLimited(AgentToolRefused):
    """Raised when a tool's per-user or per-tenant rate is used up."""

    reason = "rate_limited"


class AgentToolLimiterUnavailable(AgentToolRateLimited):
    """Raised when the rate limit cache cannot count, so the call is refused."""

    reason = "limiter_unavailable"


class AgentToolApprovalRequired(AgentToolRefused):
    """Raised when a call waits for a person; ``approval_id`` names the request."""

    reason = "approval_required"

    def __init__(self, message: str, approval_id: int) -> None:
        super().__init__(message)
        self.approval_id = approval_id


class AgentToolApprovalInvalid(AgentToolRefused):
    """Raised when an approval is missing, not granted, used, expired or other."""

    reason = "approval_invalid"


class AgentToolCapabilityDenied(AgentToolRefused):
    """Raised when a tool runs a command or opens a connection it was not granted."""

    reason = "capability_denied"
