"""Ask what a user's roles allow in a tenant; deny unless a grant allows.

``has_tenant_perm(user, "app.codename")`` answers for the current tenant, or
for the tenant passed explicitly. A role held in one tenant never counts in
another.
"""

from __future__ import annotations

from typing import Any

from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.grants import permissions_in
from hardened_rbac.models import Tenant


def tenant_permissions(user: Any, tenant: Tenant | None = None) -> frozenset[str]:
    """Permissions the user's effective grants give in the tenant."""
    tenant = tenant if tenant is not None else current_tenant()
    if tenant is None:
        return frozenset()
    return permissions_in(user, tenant)


def has_tenant_perm(user: Any, perm: str, tenant: Tenant | None = None) -> bool:
    """Whether a grant gives ``perm`` to the user in the (current) tenant."""
    return perm in tenant_permissions(user, tenant)
