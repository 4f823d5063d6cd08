"""An authentication backend that answers ``has_perm`` from tenant roles.

Add ``hardened_rbac.backends.TenantRoleBackend`` to
``AUTHENTICATION_BACKENDS`` and ``user.has_perm("app.codename")`` asks the
roles granted in the current tenant. An object from another tenant is never
allowed, whatever the roles say.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.grants import permissions_in


class TenantRoleBackend(BaseBackend):
    """Never authenticates anyone; only answers permission questions."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        tenant = current_tenant()
        if tenant is None:
            return set()
        object_tenant = getattr(obj, "tenant_id", tenant.pk)
        if object_tenant != tenant.pk:
            return set()
        return set(permissions_in(user_obj, tenant))

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
