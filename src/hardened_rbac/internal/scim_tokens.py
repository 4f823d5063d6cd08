"""Create, revoke and check the per-tenant SCIM bearer tokens.

A token is ``hst_`` and 43 URL-safe characters. Only its SHA-256 is stored,
and a presented token is looked up by that hash, so the comparison never runs
over the secret itself.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.utils import timezone

from hardened_rbac.internal import audit
from hardened_rbac.models import ScimToken, Tenant

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "hst_"
MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_value() -> tuple[str, str]:
    """A fresh token and its hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def create_token(tenant: Tenant, name: str) -> tuple[ScimToken, str]:
    """Store a new token for ``tenant``; the plain token is returned only here."""
    token, digest = new_token_value()
    row = ScimToken.objects.create(tenant=tenant, name=name, token_hash=digest)
    audit.emit(
        "scim_token_created",
        outcome="success",
        tenant=tenant.pk,
        target=f"scim_token:{row.pk}",
    )
    return row, token


def revoke_token(row: ScimToken) -> bool:
    """Revoke a token; return whether it was still live."""
    changed = ScimToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if changed:
        audit.emit(
            "scim_token_revoked",
            outcome="success",
            tenant=row.tenant_id,
            target=f"scim_token:{row.pk}",
        )
    return bool(changed)


def tenant_for_token(presented: str) -> tuple[Tenant | None, str]:
    """The active tenant a token belongs to, or ``None`` and why not."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > MAX_TOKEN_LENGTH:
        return None, "malformed"
    row = (
        ScimToken.objects.select_related("tenant")
        .filter(token_hash=token_hash(presented))
        .first()
    )
    if row is None:
        return None, "unknown"
    if row.revoked_at is not None:
        return None, "revoked"
    if not row.tenant.is_active:
        return None, "tenant_inactive"
    ScimToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    logger.debug("SCIM token %s used for tenant %s", row.pk, row.tenant_id)
    return row.tenant, "ok"
