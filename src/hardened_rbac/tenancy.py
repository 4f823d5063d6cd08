"""The current tenant and the models that cannot see past it.

Public API::

    current_tenant()            the request's or job's tenant, or None
    use_tenant(tenant)          set the tenant for a block (jobs, commands)
    TenantScopedModel           abstract model: every query is scoped
    TenantScopedManager         its manager; ``from_queryset`` for your own
    unscoped(reason=...)        audited escape hatch for cross-tenant work
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.models.base import ModelBase

from hardened_rbac.exceptions import UnscopedReasonMissing
from hardened_rbac.internal import audit
from hardened_rbac.internal.context import (
    any_tenant_rows,
    current_tenant,
    loading_any_tenant,
    require_tenant,
    tenant_context,
    unscoped_context,
    unscoped_reason,
)
from hardened_rbac.internal.scoping import (
    LOADED_TENANT,
    TenantScopedBaseManager,
    TenantScopedManager,
    TenantScopedQuerySet,
    check_related_tenants,
    claim_tenant,
    refuse_cross_tenant,
    refuse_foreign_row,
    writes_as_loaded,
)
from hardened_rbac.models import Tenant

__all__ = [
    "TenantScopedManager",
    "TenantScopedModel",
    "TenantScopedQuerySet",
    "current_tenant",
    "require_tenant",
    "unscoped",
    "use_tenant",
]

logger = logging.getLogger(__name__)


@contextmanager
def use_tenant(tenant: Tenant) -> Iterator[Tenant]:
    """Make ``tenant`` current for the block; for jobs and commands."""
    if not isinstance(tenant, Tenant) or tenant.pk is None:
        raise TypeError("use_tenant() needs a saved Tenant.")
    with tenant_context(tenant):
        yield tenant


@contextmanager
def unscoped(reason: str) -> Iterator[None]:
    """Lift the tenant scope for cross-tenant maintenance, and audit it.

    Inside the block scoped managers return every tenant's rows and rows may
    be written into any tenant. The reason is recorded with the event.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise UnscopedReasonMissing("unscoped() needs a reason for the audit log.")
    audit.emit(
        "authz_admin", outcome="success", action="unscoped", escape_reason=reason
    )
    with unscoped_context(reason.strip()):
        yield


class TenantScopedModelBase(ModelBase):
    """Gives each scoped model a ``TenantScopedBaseManager`` as base manager."""

    @property
    def _base_manager(cls) -> Any:
        manager = cls.__dict__.get("_hardened_rbac_base_manager")
        if manager is None:
            manager = TenantScopedBaseManager()
            manager.name = "_base_manager"
            manager.model = cls
            manager.auto_created = True
            cls._hardened_rbac_base_manager = manager
        return manager


class TenantScopedModel(models.Model, metaclass=TenantScopedModelBase):
    """A row that belongs to one tenant and is only seen within it.

    Queries through ``objects`` (and related managers built on it) carry the
    current tenant and raise ``TenantNotSet`` without one. So do a foreign
    key or reverse one-to-one followed to the row, and ``refresh_from_db``:
    another tenant's row is not found there. A row of another tenant loaded
    any other way while a tenant is current (``select_related`` from another
    model, ``raw()``) raises ``CrossTenantRead``. A new row takes the current
    tenant; saving a row into another tenant, or pointing it at another
    tenant's scoped row, raises ``CrossTenantWrite``.
    """

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        editable=False,
        related_name="%(app_label)s_%(class)s_set",
    )

    objects: Any = TenantScopedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        claim_tenant(self)
        if writes_as_loaded(self):
            with any_tenant_rows():
                check_related_tenants(self)
                super().save(*args, **kwargs)
            return
        check_related_tenants(self)
        super().save(*args, **kwargs)

    def _do_update(self, base_qs: Any, *args: Any, **kwargs: Any) -> Any:
        return super()._do_update(
            base_qs.filter(tenant_id=self.tenant_id), *args, **kwargs
        )

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        claim_tenant(self)
        if writes_as_loaded(self):
            with any_tenant_rows():
                return self._delete_in_tenant(*args, **kwargs)
        return self._delete_in_tenant(*args, **kwargs)

    def _delete_in_tenant(
        self, *args: Any, **kwargs: Any
    ) -> tuple[int, dict[str, int]]:
        in_tenant = (
            type(self)
            ._base_manager.using(self._state.db or "default")
            .filter(pk=self.pk, tenant_id=self.tenant_id)
            .exists()
        )
        if not in_tenant:
            refuse_cross_tenant(type(self), f"{self._meta.label}:{self.pk}", None)
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Any, values: Any, **kwargs: Any
    ) -> Any:
        instance = super().from_db(db, field_names, values, **kwargs)
        refuse_foreign_row(instance)
        if loading_any_tenant():
            setattr(instance._state, LOADED_TENANT, instance.__dict__.get("tenant_id"))
        return instance


def m2m_stays_in_tenant(
    sender: type[Any],
    instance: Any,
    action: str,
    reverse: bool,
    model: type[Any],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    if action != "pre_add" or unscoped_reason() is not None:
        return
    if isinstance(instance, TenantScopedModel) and (
        instance.tenant_id != require_tenant().pk
    ):
        refuse_cross_tenant(type(instance), str(instance.pk), instance.tenant_id)
    if issubclass(model, TenantScopedModel) and pk_set:
        found = model.objects.filter(pk__in=pk_set).count()
        if found != len(pk_set):
            refuse_cross_tenant(model, model._meta.label, None)
