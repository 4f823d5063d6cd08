"""Row-level security on PostgreSQL, seen by a role that cannot bypass it.

Superusers bypass row-level security, so each test switches to a role created
with NOSUPERUSER NOBYPASSRLS before it reads.
"""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from hardened_privacy.internal.subject import erase_subject, export_subject
from hardened_rbac import checks
from hardened_rbac.internal.rls import TENANT_SETTING
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import TenantFactory, UserFactory, force_login_verified
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import Project, Task

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


def _bind_to_probe_role_with_every_table():
    """Switch to the probe role, allowed every table the admin touches."""
    _create_probe_role()
    with connection.cursor() as cursor:
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
            f"TO {PROBE_ROLE}"
        )
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")


@pytest.fixture
def operator_client(client):
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_a_plain_tenant_deletion_cannot_see_its_rows(two_tenants):
    """Outside ``unscoped()`` the cascade misses the rows, and the key holds."""
    a, _ = two_tenants
    _bind_to_probe_role_with_every_table()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.get(pk=a.pk).delete()


@pytest.mark.django_db
def test_the_admin_deletes_a_tenant_under_row_level_security(
    two_tenants, operator_client, caplog
):
    a, _ = two_tenants
    with use_tenant(a):
        Task.objects.create(project=Project.objects.get(name="a1"), title="t")
    _bind_to_probe_role_with_every_table()
    capture_audit(caplog)
    confirm = operator_client.get(f"/admin/hardened_rbac/tenant/{a.pk}/delete/")
    assert confirm.status_code == 200
    assert "a2" in confirm.content.decode()
    deleted = operator_client.post(
        f"/admin/hardened_rbac/tenant/{a.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not Tenant.objects.filter(pk=a.pk).exists()
    with unscoped(reason="rls test"):
        assert _names() == ["b1"]
        assert _names("SELECT title FROM rbac_testapp_task") == []
    reasons = [
        e["escape_reason"] for e in audit_events(caplog) if e["event"] == "authz_admin"
    ]
    assert "admin deletion of hardened_rbac.Tenant" in reasons


@pytest.mark.django_db
def test_the_admin_deletes_a_user_whose_rows_are_in_two_tenants(
    two_tenants, operator_client
):
    a, b = two_tenants
    owner = UserFactory()
    with use_tenant(a):
        Project.objects.create(name="owned in a", owner=owner)
    with use_tenant(b):
        Project.objects.create(name="owned in b", owner=owner)
    _bind_to_probe_role_with_every_table()
    deleted = operator_client.post(
        f"/admin/auth/user/{owner.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not type(owner).objects.filter(pk=owner.pk).exists()
    with unscoped(reason="rls test"):
        assert _names() == ["a1", "a2", "b1"]


@pytest.mark.django_db
def test_export_and_erasure_reach_protected_rows_without_a_tenant(
    two_tenants, settings, caplog
):
    a, b = two_tenants
    settings.HARDENED_PRIVACY_CLASSIFICATION = {
        **settings.HARDENED_PRIVACY_CLASSIFICATION,
        "rbac_testapp.Project": {
            "name": {"level": "personal"},
            "owner": "internal",
            "tenant": "internal",
        },
    }
    owner = UserFactory()
    with use_tenant(a):
        Project.objects.create(name="owned in a", owner=owner)
    with use_tenant(b):
        Project.objects.create(name="owned in b", owner=owner)
    _bind_to_probe_role_with_every_table()
    capture_audit(caplog)

    exported = export_subject(owner.pk)["records"]["rbac_testapp.Project"]
    assert sorted(row["name"] for row in exported) == ["owned in a", "owned in b"]
    erase_subject(owner.pk)

    with unscoped(reason="rls test"):
        assert _names() == ["", "", "a1", "a2", "b1"]
    assert _names() == []
    reads = [
        e
        for e in audit_events(caplog)
        if e["event"] == "authz_admin" and e.get("model") == "rbac_testapp.Project"
    ]
    assert {e["action"] for e in reads} == {"any_tenant_rows"}
    assert {e["operation"] for e in reads} == {"read"}


def _unprotected_tables():
    return [m.msg.split("'")[1] for m in checks.check_rls_scoped_tables(["default"])]


@pytest.mark.django_db
def test_scoped_table_check_lists_tables_without_forced_row_level_security():
    messages = checks.check_rls_scoped_tables(databases=["default"])
    listed = _unprotected_tables()
    assert "rbac_testapp_feedpost" in listed
    assert {m.id for m in messages} == {"hardened_rbac.W005"}
    assert checks.W005_MSG % ("rbac_testapp_feedpost", "default") in [
        m.msg for m in messages
    ]
    assert not set(listed) & set(TABLES)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE rbac_testapp_feedpost ENABLE ROW LEVEL SECURITY")
    assert "rbac_testapp_feedpost" in _unprotected_tables()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE rbac_testapp_feedpost FORCE ROW LEVEL SECURITY")
    assert "rbac_testapp_feedpost" not in _unprotected_tables()


@pytest.mark.django_db
def test_every_scoped_table_of_the_sandbox_has_row_level_security():
    listed = _unprotected_tables()
    assert [t for t in listed if t.split("_")[0] in {"social", "demo", "market"}] == []
    assert checks.check_rls_link_tables(databases=["default"]) == []
