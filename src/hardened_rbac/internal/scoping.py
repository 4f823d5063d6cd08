"""The tenant scope: a condition resolved when SQL is compiled, not built.

``CurrentTenant`` is a lookup whose right-hand side is read from the context
variable at the moment the query runs. A queryset built at import time (a
form field's choices, say) is therefore scoped to whichever tenant is current
when it is evaluated, and evaluating it with no tenant raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import FullResultSet
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.db.models.lookups import Lookup
from django.db.models.sql.compiler import SQLCompiler

from hardened_rbac.exceptions import CrossTenantRead, CrossTenantWrite
from hardened_rbac.internal import audit
from hardened_rbac.internal.context import (
    any_tenant_rows,
    current_tenant,
    loading_any_tenant,
    require_tenant,
    unscoped_reason,
)

if TYPE_CHECKING:
    from hardened_rbac.tenancy import TenantScopedModel

logger = logging.getLogger(__name__)

TENANT_FIELD = "tenant"

M = TypeVar("M", bound="TenantScopedModel")


class CurrentTenant(Lookup):  # type: ignore[type-arg,unused-ignore]
    """``<tenant column> = <current tenant>``, decided at compile time."""

    lookup_name = "hardened_rbac_current_tenant"
    prepare_rhs = False
    can_use_none_as_rhs = True

    def __init__(self, lhs: Any) -> None:
        super().__init__(lhs, None)

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, Any]:
        if unscoped_reason() is not None:
            raise FullResultSet
        tenant = require_tenant()
        lhs_sql, params = compiler.compile(self.lhs)
        return f"{lhs_sql} = %s", [*params, tenant.pk]


def refuse_cross_tenant(model: type[models.Model], target: str, tenant_id: Any) -> None:
    audit.emit(
        "authz_fail",
        outcome="denied",
        target=target,
        action="cross_tenant_write",
        model=model._meta.label,
        other_tenant=str(tenant_id),
    )
    raise CrossTenantWrite("This row belongs to another tenant.")


def claim_tenant(obj: TenantScopedModel) -> None:
    """Give a new row the current tenant; refuse a row of another tenant."""
    tenant = current_tenant()
    if tenant is None:
        if unscoped_reason() is not None and obj.tenant_id is not None:
            return
        if writes_as_loaded(obj):
            return
        require_tenant()
        return
    if obj.tenant_id is None:
        obj.tenant = tenant
    elif obj.tenant_id != tenant.pk and unscoped_reason() is None:
        refuse_cross_tenant(type(obj), f"{obj._meta.label}:{obj.pk}", obj.tenant_id)


def check_related_tenants(obj: TenantScopedModel) -> None:
    """Refuse foreign keys that point at scoped rows of another tenant."""
    if unscoped_reason() is not None:
        return
    for field in obj._meta.concrete_fields:
        if not field.is_relation or field.name == TENANT_FIELD:
            continue
        related = field.related_model
        if not (isinstance(related, type) and is_scoped(related)):
            continue
        value = getattr(obj, field.attname)
        if value is None:
            continue
        if field.is_cached(obj):  # type: ignore[attr-defined]
            other = getattr(obj, field.name)
            fits = other.tenant_id == obj.tenant_id
        else:
            fits = (
                related._base_manager.using(obj._state.db or "default")
                .filter(**{field.target_field.attname: value})  # type: ignore[attr-defined]
                .filter(tenant_id=obj.tenant_id)
                .exists()
            )
        if not fits:
            refuse_cross_tenant(related, f"{related._meta.label}:{value}", None)


def is_scoped(model: type[Any]) -> bool:
    from hardened_rbac.tenancy import TenantScopedModel

    return issubclass(model, TenantScopedModel)


class TenantScopedQuerySet(models.QuerySet[M]):
    """A queryset whose writes stay in the current tenant."""

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        objs = list(objs)
        for obj in objs:
            claim_tenant(obj)
            check_related_tenants(obj)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(
        self, objs: Iterable[M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        objs = list(objs)
        for obj in objs:
            claim_tenant(obj)
            check_related_tenants(obj)
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def update(self, **kwargs: Any) -> int:
        for name in (TENANT_FIELD, f"{TENANT_FIELD}_id"):
            if name in kwargs and unscoped_reason() is None:
                value = kwargs[name]
                value = getattr(value, "pk", value)
                if value != require_tenant().pk:
                    refuse_cross_tenant(self.model, self.model._meta.label, value)
        return super().update(**kwargs)


class TenantScopedManager(models.Manager[M]):
    """Every queryset it hands out is limited to the current tenant."""

    _queryset_class = TenantScopedQuerySet

    def get_queryset(self) -> TenantScopedQuerySet[M]:
        queryset: TenantScopedQuerySet[M] = self._queryset_class(
            self.model,
            using=self._db,
            hints=self._hints,  # type: ignore[attr-defined]
        )
        return queryset.filter(CurrentTenant(F(f"{TENANT_FIELD}_id")))


LOADED_TENANT = "hardened_rbac_loaded_tenant"


@contextmanager
def every_tenant(model: type[models.Model], operation: str) -> Iterator[None]:
    """Run statements that reach every tenant's rows of ``model``.

    Rows of every tenant may load, and on PostgreSQL, when no tenant is
    current, row-level security lets the statements through as it does
    inside ``unscoped()``. The outermost such block with no tenant current,
    outside ``unscoped()``, is audited as ``authz_admin``.
    """
    if (
        not loading_any_tenant()
        and current_tenant() is None
        and unscoped_reason() is None
    ):
        audit.emit(
            "authz_admin",
            outcome="success",
            action="any_tenant_rows",
            model=model._meta.label,
            operation=operation,
        )
    with any_tenant_rows():
        yield


def writes_as_loaded(obj: TenantScopedModel) -> bool:
    """Whether a row read from every tenant is written back, with none current.

    Such a row may be saved or deleted in the tenant it was loaded from, and
    in no other, as data-subject erasure and retention do.
    """
    loaded = getattr(obj._state, LOADED_TENANT, None)
    return (
        current_tenant() is None
        and unscoped_reason() is None
        and not obj._state.adding
        and loaded is not None
        and loaded == obj.tenant_id
    )


class AnyTenantQuerySet(models.QuerySet[M]):
    """Rows of every tenant: Django's own saving and cascading, and explicit
    reads through the unhinted base manager.

    Every statement runs inside ``every_tenant()``, so the rows it reaches
    are the same with and without row-level security.
    """

    def _fetch_all(self) -> None:
        if self._result_cache is not None:
            return
        with every_tenant(self.model, "read"):
            super()._fetch_all()

    def _iterator(self, use_chunked_fetch: bool, chunk_size: int | None) -> Any:
        rows = super()._iterator(  # type: ignore[misc]
            use_chunked_fetch, chunk_size
        )
        done = object()
        with every_tenant(self.model, "read"):
            row = next(rows, done)
        while row is not done:
            yield row
            with any_tenant_rows():
                row = next(rows, done)

    def count(self) -> int:
        with every_tenant(self.model, "count"):
            return super().count()

    def exists(self) -> bool:
        with every_tenant(self.model, "exists"):
            return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with every_tenant(self.model, "aggregate"):
            return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        with every_tenant(self.model, "update"):
            return super().update(**kwargs)

    def _update(self, values: Any, *args: Any, **kwargs: Any) -> Any:
        with any_tenant_rows():
            return super()._update(values, *args, **kwargs)  # type: ignore[misc]

    def delete(self) -> tuple[int, dict[str, int]]:
        with every_tenant(self.model, "delete"):
            return super().delete()

    def _raw_delete(self, using: str | None) -> int:
        with any_tenant_rows():
            return super()._raw_delete(using)


class TenantScopedBaseManager(models.Manager[M]):
    """The base manager of a scoped model: scoped when following a relation.

    Django calls ``db_manager(hints=...)`` to follow a foreign key or a
    reverse one-to-one to the model, to prefetch either, and to refresh a
    row; those reads carry the current tenant as ``objects`` does. Django
    calls the base manager without hints to save a row, to collect the rows
    a deletion cascades to and to find a generic relation's rows; those must
    reach every tenant, or a cascade would leave rows behind, and get an
    ``AnyTenantQuerySet``.
    """

    follows_relation = False

    def db_manager(
        self, using: str | None = None, hints: dict[str, Any] | None = None
    ) -> TenantScopedBaseManager[M]:
        manager = super().db_manager(using, hints)
        manager.follows_relation = hints is not None
        return manager

    def get_queryset(self) -> models.QuerySet[M]:
        hints: dict[str, Any] = self._hints  # type: ignore[attr-defined]
        if not self.follows_relation:
            return AnyTenantQuerySet(self.model, using=self._db, hints=hints)
        queryset: models.QuerySet[M] = models.QuerySet(
            self.model, using=self._db, hints=hints
        )
        return queryset.filter(CurrentTenant(F(f"{TENANT_FIELD}_id")))


def refuse_foreign_row(obj: TenantScopedModel) -> None:
    """Refuse a loaded row of a tenant other than the current one.

    A row of another tenant can arrive without passing a scoped manager: by
    ``select_related`` from another model, by ``raw()``, or by a foreign key
    that points across tenants. Rows whose tenant was not loaded, rows read
    with no current tenant, inside ``unscoped()``, or for saving and
    cascading are let through.
    """
    tenant = current_tenant()
    tenant_id = obj.__dict__.get(f"{TENANT_FIELD}_id")
    if tenant is None or tenant_id is None or tenant_id == tenant.pk:
        return
    if unscoped_reason() is not None or loading_any_tenant():
        return
    audit.emit(
        "authz_fail",
        outcome="denied",
        target=f"{obj._meta.label}:{obj.pk}",
        action="cross_tenant_read",
        model=obj._meta.label,
        other_tenant=str(tenant_id),
    )
    raise CrossTenantRead("This row belongs to another tenant.")
