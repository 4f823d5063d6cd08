"""Migration operations that put PostgreSQL row-level security on a table.

Add one per tenant-scoped model, after the model's table exists, and one per
many-to-many field of such a model::

    from hardened_rbac.operations import (
        EnableTenantLinkRowLevelSecurity,
        EnableTenantRowLevelSecurity,
    )

    operations = [
        EnableTenantRowLevelSecurity("invoice"),
        EnableTenantLinkRowLevelSecurity("invoice", "tags"),
    ]

The policy shows and accepts only rows whose tenant column equals the tenant
``hardened_rbac`` sets for the transaction, so raw SQL and forgotten filters
see nothing of other tenants. ``FORCE`` makes it apply to the table's owner
too; superusers and roles with ``BYPASSRLS`` still bypass it, which the
``hardened_rbac.W002`` check reports. Other databases ignore the operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

from hardened_rbac.internal.rls import (
    TENANT_SETTING,
    UNSCOPED_SETTING,
    LinkSide,
    link_sides,
)

POLICY_NAME = "hardened_rbac_tenant_isolation"


def policy_condition(column: str) -> str:
    return (
        f"({column} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::bigint"
        f" OR current_setting('{UNSCOPED_SETTING}', true) = 'on')"
    )


class EnableTenantRowLevelSecurity(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, column: str = "tenant_id") -> None:
        self.model_name = model_name
        self.column = column

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"model_name": self.model_name}
        if self.column != "tenant_id":
            kwargs["column"] = self.column
        return self.__class__.__name__, [], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        return None

    def _table(self, app_label: str, state: ProjectState) -> str:
        model = state.apps.get_model(app_label, self.model_name)
        return str(model._meta.db_table)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        table = quote(self._table(app_label, to_state))
        condition = policy_condition(quote(self.column))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {quote(POLICY_NAME)} ON {table} "
            f"USING {condition} WITH CHECK {condition}"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        table = quote(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS {quote(POLICY_NAME)} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable tenant row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.model_name.lower()}"


def _owner_in_tenant(quote: Callable[[str], str], table: str, side: LinkSide) -> str:
    """SQL true when the row a link joins on ``side`` is in the tenant.

    Every name comes from the model's metadata and is quoted.
    """
    owner = quote(side.table)
    match = f"o.{quote(side.pk_column)} = {table}.{quote(side.link_column)}"
    tenant = policy_condition(f"o.{quote(side.tenant_column)}")
    return f"EXISTS (SELECT 1 FROM {owner} AS o WHERE {match} AND {tenant})"  # noqa: S608


class EnableTenantLinkRowLevelSecurity(migrations.operations.base.Operation):
    """Row-level security on the link table of a many-to-many field.

    The table Django creates for ``ManyToManyField`` has no tenant column.
    The policy lets a link row be seen or written only when the row it
    joins on each tenant-scoped side (one holding a ``tenant`` foreign key)
    belongs to the transaction's tenant, so raw SQL cannot read another
    tenant's links nor join rows of two tenants.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, field_name: str) -> None:
        self.model_name = model_name
        self.field_name = field_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs = {"model_name": self.model_name, "field_name": self.field_name}
        return self.__class__.__name__, [], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        return None

    def _field(self, app_label: str, state: ProjectState) -> Any:
        model = state.apps.get_model(app_label, self.model_name)
        return model._meta.get_field(self.field_name)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        field = self._field(app_label, to_state)
        through, sides = link_sides(field)
        table = quote(through)
        checks = [_owner_in_tenant(quote, table, side) for side in sides]
        if not checks:
            raise ValueError(
                f"Neither side of {self.model_name}.{self.field_name} holds a tenant."
            )
        condition = "(" + " AND ".join(checks) + ")"
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {quote(POLICY_NAME)} ON {table} "
            f"USING {condition} WITH CHECK {condition}"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        through, _ = link_sides(self._field(app_label, from_state))
        table = quote(through)
        schema_editor.execute(f"DROP POLICY IF EXISTS {quote(POLICY_NAME)} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return (
            "Enable tenant row-level security on the links of "
            f"{self.model_name}.{self.field_name}"
        )

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.model_name.lower()}_{self.field_name.lower()}"
