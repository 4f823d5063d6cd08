"""Audit and invalidate changes made in bulk, which send no signals.

``QuerySet.update()`` and ``bulk_create()`` on memberships, grants and roles
save no model, so neither the audit receivers nor the decision-cache
receivers run. Their querysets call these instead with the rows as they
were and as they are: both sides' scopes are invalidated, and each row as
it is now is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hardened_rbac.internal import audit
from hardened_rbac.internal.decisions import SITE, bump, tenant_key, user_key

MembershipRow = tuple[Any, Any, Any]
GrantRow = tuple[Any, Any, Any, Any, str]
RoleRow = tuple[Any, Any]


def memberships_changed(
    before: Iterable[MembershipRow],
    after: Iterable[MembershipRow],
    action: str,
    fields: Iterable[str],
) -> None:
    """Rows are ``(pk, user_id, tenant_id)``; those after are audited."""
    names = sorted(fields)
    keys = {k for _, u, t in before for k in (user_key(u), tenant_key(t))}
    for pk, user_id, tenant_id in after:
        keys |= {user_key(user_id), tenant_key(tenant_id)}
        audit.emit(
            "authz_change",
            outcome="success",
            target=f"membership:{pk}",
            tenant=tenant_id,
            action=action,
            user=str(user_id),
            fields=names,
        )
    if keys:
        bump(*sorted(keys))


def grants_changed(
    before: Iterable[GrantRow],
    after: Iterable[GrantRow],
    action: str,
    fields: Iterable[str],
) -> None:
    """Rows are ``(pk, user_id, tenant_id, role_id, source)``."""
    names = sorted(fields)
    keys = {k for _, u, t, _, _ in before for k in (user_key(u), tenant_key(t))}
    for pk, user_id, tenant_id, role_id, source in after:
        keys |= {user_key(user_id), tenant_key(tenant_id)}
        audit.emit(
            "authz_change",
            outcome="success",
            target=f"grant:{pk}",
            tenant=tenant_id,
            action=action,
            user=str(user_id),
            role=str(role_id),
            source=source,
            fields=names,
        )
    if keys:
        bump(*sorted(keys))


def _role_key(tenant_id: Any) -> str:
    return SITE if tenant_id is None else tenant_key(tenant_id)


def roles_changed(
    before: Iterable[RoleRow],
    after: Iterable[RoleRow],
    action: str,
    fields: Iterable[str],
) -> None:
    """Rows are ``(pk, tenant_id)``; a site-wide role has no tenant."""
    names = sorted(fields)
    keys = {_role_key(tenant_id) for _, tenant_id in before}
    for pk, tenant_id in after:
        keys.add(_role_key(tenant_id))
        audit.emit(
            "privilege_permissions_changed",
            outcome="success",
            target=f"role:{pk}",
            tenant=tenant_id,
            action=action,
            fields=names,
        )
    if keys:
        bump(*sorted(keys))
