"""Tell PostgreSQL the current tenant, one transaction at a time.

Every statement on a PostgreSQL connection passes through
``TenantSettingWrapper``. When the tenant the policies must see differs from
what this transaction already holds, it runs ``set_config(..., true)``, the
function form of ``SET LOCAL``: the value ends with the transaction, so a
pooled server connection handed to another client next carries nothing over.
Outside a transaction, a statement that needs a tenant is wrapped in one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from hardened_rbac.internal.context import (
    current_tenant,
    loading_any_tenant,
    unscoped_reason,
)

logger = logging.getLogger(__name__)

TENANT_SETTING = "hardened_rbac.tenant_id"
UNSCOPED_SETTING = "hardened_rbac.unscoped"
SET_SQL = (
    f"SELECT set_config('{TENANT_SETTING}', %s, true), "
    f"set_config('{UNSCOPED_SETTING}', %s, true)"
)
NOTHING = ("", "")


def wanted_settings() -> tuple[str, str]:
    """The tenant the policies see, and whether they are lifted.

    They are lifted inside ``unscoped()``, and for the statements of the
    unhinted base manager (saving, cascading and explicit reads of every
    tenant) while no tenant is current.
    """
    tenant = current_tenant()
    lifted = unscoped_reason() is not None or (tenant is None and loading_any_tenant())
    return (str(tenant.pk) if tenant is not None else "", "on" if lifted else "")


def _transaction_idle(connection: BaseDatabaseWrapper) -> bool:
    raw = connection.connection
    return raw is None or int(raw.info.transaction_status) == 0


class TenantSettingWrapper:
    """An ``execute_wrapper`` that keeps the tenant settings in step."""

    def __init__(self) -> None:
        self.applied: tuple[str, str] | None = None

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        connection: BaseDatabaseWrapper = context["connection"]
        wanted = wanted_settings()

        if connection.get_autocommit():
            self.applied = None
            if wanted == NOTHING:
                return execute(sql, params, many, context)
            with transaction.atomic(using=connection.alias):
                context["cursor"].cursor.execute(SET_SQL, wanted)
                return execute(sql, params, many, context)

        if _transaction_idle(connection):
            self.applied = None
        if self.applied != wanted and not (self.applied is None and wanted == NOTHING):
            context["cursor"].cursor.execute(SET_SQL, wanted)
        self.applied = wanted
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.lstrip()[:20].upper().startswith("ROLLBACK TO"):
                self.applied = None


def install(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: wrap PostgreSQL connections once."""
    if connection.vendor != "postgresql":
        return
    if any(isinstance(w, TenantSettingWrapper) for w in connection.execute_wrappers):
        return
    connection.execute_wrappers.append(TenantSettingWrapper())


@dataclass(frozen=True)
class LinkSide:
    """One tenant-scoped side of a many-to-many link table."""

    link_column: str
    table: str
    pk_column: str
    tenant_column: str


def tenant_column(model: Any) -> str | None:
    """The column of ``model``'s ``tenant`` foreign key to ``Tenant``, if any."""
    try:
        field = model._meta.get_field("tenant")
    except FieldDoesNotExist:
        return None
    related = getattr(field, "related_model", None)
    if related is None or not field.concrete:
        return None
    if related._meta.label_lower != "hardened_rbac.tenant":
        return None
    return str(field.column)


def link_sides(field: Any) -> tuple[str, list[LinkSide]]:
    """The link table of a many-to-many ``field`` and its tenant-held sides."""
    through = field.remote_field.through
    ends = [
        (field.m2m_column_name(), field.model),
        (field.m2m_reverse_name(), field.related_model),
    ]
    sides = []
    for link_column, model in ends:
        column = tenant_column(model)
        if column is not None:
            sides.append(
                LinkSide(
                    link_column=link_column,
                    table=model._meta.db_table,
                    pk_column=model._meta.pk.column,
                    tenant_column=column,
                )
            )
    return str(through._meta.db_table), sides


def _secured(connection: BaseDatabaseWrapper, tables: set[str]) -> set[str]:
    if not tables:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
            "AND relrowsecurity AND relname = ANY(%s) "
            "AND pg_table_is_visible(oid)",
            [sorted(tables)],
        )
        return {str(row[0]) for row in cursor.fetchall()}


def unprotected_link_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Link tables of many-to-many fields left open beside a protected table.

    A link table is listed when a tenant-scoped table it joins has
    row-level security and the link table itself has none.
    """
    from django.apps import apps

    links: dict[str, set[str]] = {}
    for model in apps.get_models():
        for field in model._meta.local_many_to_many:
            through, sides = link_sides(field)
            if sides:
                links.setdefault(through, set()).update(s.table for s in sides)
    owners = set().union(*links.values()) if links else set()
    secured = _secured(connection, owners | set(links))
    return sorted(
        through
        for through, tables in links.items()
        if through not in secured and tables & secured
    )


def unprotected_scoped_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Existing tables of tenant-scoped models without forced row-level security.

    Only ``EnableTenantRowLevelSecurity`` both enables and forces it; a table
    that is merely enabled still lets its owner read every tenant's rows.
    """
    from django.apps import apps

    from hardened_rbac.internal.scoping import is_scoped

    tables = {
        model._meta.db_table
        for model in apps.get_models()
        if is_scoped(model) and model._meta.managed and not model._meta.proxy
    }
    if not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
            "AND NOT (relrowsecurity AND relforcerowsecurity) "
            "AND relname = ANY(%s) AND pg_table_is_visible(oid) ORDER BY relname",
            [sorted(tables)],
        )
        return [str(row[0]) for row in cursor.fetchall()]
