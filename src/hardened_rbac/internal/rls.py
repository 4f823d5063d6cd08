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
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from hardened_rbac.internal.context import current_tenant, unscoped_reason

logger = logging.getLogger(__name__)

TENANT_SETTING = "hardened_rbac.tenant_id"
UNSCOPED_SETTING = "hardened_rbac.unscoped"
SET_SQL = (
    f"SELECT set_config('{TENANT_SETTING}', %s, true), "
    f"set_config('{UNSCOPED_SETTING}', %s, true)"
)
NOTHING = ("", "")


def wanted_settings() -> tuple[str, str]:
    tenant = current_tenant()
    return (
        str(tenant.pk) if tenant is not None else "",
        "on" if unscoped_reason() is not None else "",
    )


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
