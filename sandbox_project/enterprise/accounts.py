"""Which local accounts an identity provider may sign in to by email.

Named by ``HARDENED_AUTH_OIDC_EMAIL_MATCH``: a provider's verified email
signs into an existing account only when a tenant whose SSO groups map to
that provider provisioned the account over SCIM and its membership there is
still active. Every other account, the superuser's among them, is refused.
"""

from typing import Any

from hardened_rbac.models import ScimUser, SsoGroupRole


def provisioned_by(provider_id: str, user: Any, email: str) -> bool:
    """True when a tenant mapped to ``provider_id`` provisioned ``user``."""
    tenants = SsoGroupRole.objects.filter(provider=provider_id).values("tenant_id")
    return bool(
        ScimUser.objects.filter(
            tenant_id__in=tenants,
            tenant__is_active=True,
            membership__user=user,
            membership__is_active=True,
        ).exists()
    )
