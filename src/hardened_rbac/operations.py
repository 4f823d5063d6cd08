"""Migration operations that put PostgreSQL row-level security on a table.

Add one per tenant-scoped model, after the model's table exists::

    from hardened_rbac.operations import EnableTenantRowLevelSecurity

    operations = [EnableTenantRowLevelSecurity("invoice")]

The policy shows and accepts only rows whose tenant column equals the tenant
``hardened_rbac`` sets for the transaction, so raw SQL and forgotten filters
see nothing of other tenants. ``FORCE`` makes it apply to the table's owner
too; superusers and roles with ``BYPASSRLS`` still bypass it, which the
``hardened_rbac.W002`` check reports. Other databases ignore the operation.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

from hardened_rbac.internal.rls import TENANT_SETTING, UNSCOPED_SETTING

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
