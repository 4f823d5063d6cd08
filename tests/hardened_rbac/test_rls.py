"""Row-level security on PostgreSQL, seen by a role that cannot bypass it.

Superusers bypass row-level security, so each test switches to a role created
with NOSUPERUSER NOBYPASSRLS before it reads.
"""

import pytest
from django.db import DatabaseError, connection, transaction

from hardened_rbac import checks
from hardened_rbac.internal.rls import TENANT_SETTING
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import TenantFactory
from tests.hardened_rbac.testapp.models import Project

pytestmark = [pytest.mark.postgres]

PROBE_ROLE = "hardened_rbac_rls_probe"
TABLES = ["rbac_testapp_project", "rbac_testapp_task", "rbac_testapp_label"]


def _create_probe_role():
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN "
            f"CREATE ROLE {PROBE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
            "END $$"
        )
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}")
        for table in TABLES:
            cursor.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {PROBE_ROLE}"
            )
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {PROBE_ROLE}")


def _names(sql="SELECT name FROM rbac_testapp_project ORDER BY name"):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def two_tenants(django_db_setup, django_db_blocker):
    a, b = TenantFactory(), TenantFactory()
    with use_tenant(a):
        Project.objects.create(name="a1")
        Project.objects.create(name="a2")
    with use_tenant(b):
        Project.objects.create(name="b1")
    _create_probe_role()
    return a, b


@pytest.mark.django_db
def test_raw_sql_sees_only_the_current_tenant_inside_a_transaction(two_tenants):
    a, b = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    assert _names() == []
    with use_tenant(a):
        assert _names() == ["a1", "a2"]
        assert [p.name for p in Project._base_manager.order_by("name")] == [
            "a1",
            "a2",
        ]
    with use_tenant(b):
        assert _names() == ["b1"]
    assert _names() == []
    with unscoped(reason="rls test"):
        assert _names() == ["a1", "a2", "b1"]


@pytest.mark.django_db
def test_raw_insert_into_another_tenant_is_refused(two_tenants):
    a, b = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    with use_tenant(a):
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO rbac_testapp_project (name, tenant_id) "
                "VALUES ('forged', %s)",
                [b.pk],
            )
        with connection.cursor() as cursor:
            cursor.execute("UPDATE rbac_testapp_project SET name = 'x'")
            assert cursor.rowcount == 2
            cursor.execute("DELETE FROM rbac_testapp_project")
            assert cursor.rowcount == 2
    with use_tenant(b):
        assert _names() == ["b1"]


@pytest.mark.django_db
def test_savepoint_rollback_does_not_leave_a_stale_tenant(two_tenants):
    a, b = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    with use_tenant(a):
        assert _names() == ["a1", "a2"]
        savepoint = transaction.savepoint()
        with use_tenant(b):
            assert _names() == ["b1"]
            transaction.savepoint_rollback(savepoint)
            assert _names() == ["b1"]
        assert _names() == ["a1", "a2"]


@pytest.mark.django_db(transaction=True)
def test_autocommit_statements_get_the_tenant_and_nothing_lingers(two_tenants):
    a, _ = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {PROBE_ROLE}")
    try:
        assert connection.get_autocommit()
        with use_tenant(a):
            assert _names() == ["a1", "a2"]
            assert _names() == ["a1", "a2"]
        assert _names() == []
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s, true)", [TENANT_SETTING])
            assert cursor.fetchone()[0] in ("", None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@pytest.mark.django_db
def test_rls_check_warns_for_a_role_that_bypasses_it():
    messages = checks.check_rls_role(databases=["default"])
    assert [(m.id, m.msg) for m in messages] == [
        ("hardened_rbac.W002", checks.W002_MSG % "default")
    ]


@pytest.mark.django_db
def test_rls_check_passes_for_a_role_bound_by_it(two_tenants):
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    assert checks.check_rls_role(databases=["default"]) == []
