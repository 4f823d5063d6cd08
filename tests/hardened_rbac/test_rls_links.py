"""Row-level security on the link tables of many-to-many fields.

Each PostgreSQL test switches to a role created NOSUPERUSER NOBYPASSRLS
before it reads, since superusers bypass every policy.
"""

from types import SimpleNamespace
from typing import cast

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.db.migrations.state import ProjectState

from hardened_rbac import checks
from hardened_rbac.internal.rls import link_sides
from hardened_rbac.operations import EnableTenantLinkRowLevelSecurity
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import TenantFactory, UserFactory
from tests.hardened_rbac.testapp.models import Conversation, Label, Project

PROBE_ROLE = "hardened_rbac_rls_probe"
LABELS = "rbac_testapp_project_labels"
PARTICIPANTS = "rbac_testapp_conversation_participants"
TABLES = [
    "rbac_testapp_project",
    "rbac_testapp_label",
    "rbac_testapp_conversation",
    LABELS,
    PARTICIPANTS,
]


def _become_probe():
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
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")


def _rows(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(tuple(row) for row in cursor.fetchall())


@pytest.fixture
def linked():
    a, b = TenantFactory(), TenantFactory()
    ua, ub = UserFactory(), UserFactory()
    ids = {}
    for tenant, user, name in ((a, ua, "a"), (b, ub, "b")):
        with use_tenant(tenant):
            project = Project.objects.create(name=f"{name}1")
            label = Label.objects.create(name=f"l{name}")
            project.labels.add(label)
            conversation = Conversation.objects.create()
            conversation.participants.add(user)
            ids[name] = (project.pk, label.pk, conversation.pk, user.pk)
    return a, b, ids


@pytest.mark.postgres
@pytest.mark.django_db
def test_raw_sql_sees_only_the_current_tenants_links(linked):
    a, b, ids = linked
    links = "SELECT project_id, label_id FROM rbac_testapp_project_labels"
    talks = (
        "SELECT conversation_id, user_id FROM rbac_testapp_conversation_participants"
    )
    _become_probe()
    assert _rows(links) == []
    assert _rows(talks) == []
    with use_tenant(a):
        assert _rows(links) == [ids["a"][:2]]
        assert _rows(talks) == [ids["a"][2:]]
        assert [label.name for label in Project.objects.get().labels.all()] == ["la"]
    with use_tenant(b):
        assert _rows(links) == [ids["b"][:2]]
        assert _rows(talks) == [ids["b"][2:]]
    with unscoped(reason="rls link test"):
        assert len(_rows(links)) == len(_rows(talks)) == 2


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(("project", "label"), [("a", "b"), ("b", "b"), ("b", "a")])
def test_raw_links_outside_the_tenant_are_refused(linked, project, label):
    a, _, ids = linked
    _become_probe()
    with (
        use_tenant(a),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO rbac_testapp_project_labels (project_id, label_id) "
            "VALUES (%s, %s)",
            [ids[project][0], ids[label][1]],
        )


@pytest.mark.postgres
@pytest.mark.django_db
def test_raw_deletes_and_updates_reach_only_the_tenants_links(linked):
    a, b, ids = linked
    _become_probe()
    with use_tenant(a), connection.cursor() as cursor:
        cursor.execute("UPDATE rbac_testapp_project_labels SET label_id = label_id")
        assert cursor.rowcount == 1
        cursor.execute("DELETE FROM rbac_testapp_conversation_participants")
        assert cursor.rowcount == 1
        cursor.execute("DELETE FROM rbac_testapp_project_labels")
        assert cursor.rowcount == 1
    with use_tenant(b):
        assert _rows(
            "SELECT project_id, label_id FROM rbac_testapp_project_labels"
        ) == [ids["b"][:2]]
        assert (
            len(_rows("SELECT user_id FROM rbac_testapp_conversation_participants"))
            == 1
        )


def test_link_sides_name_the_tenant_held_ends():
    through, sides = link_sides(Project._meta.get_field("labels"))
    assert through == LABELS
    assert [(s.link_column, s.table, s.tenant_column) for s in sides] == [
        ("project_id", "rbac_testapp_project", "tenant_id"),
        ("label_id", "rbac_testapp_label", "tenant_id"),
    ]
    through, sides = link_sides(Conversation._meta.get_field("participants"))
    assert [s.table for s in sides] == ["rbac_testapp_conversation"]
    assert link_sides(Group._meta.get_field("permissions"))[1] == []


def test_operation_deconstructs_and_describes_itself():
    operation = EnableTenantLinkRowLevelSecurity("project", "labels")
    assert operation.deconstruct() == (
        "EnableTenantLinkRowLevelSecurity",
        [],
        {"model_name": "project", "field_name": "labels"},
    )
    assert operation.migration_name_fragment == "rls_project_labels"
    assert "project.labels" in operation.describe()


@pytest.mark.postgres
@pytest.mark.django_db
def test_operation_refuses_a_field_with_no_tenant_on_either_side():
    operation = EnableTenantLinkRowLevelSecurity("group", "permissions")
    state = cast(ProjectState, SimpleNamespace(apps=apps))
    with (
        pytest.raises(ValueError, match="Neither side"),
        connection.schema_editor(atomic=False) as editor,
    ):
        operation.database_forwards("auth", editor, state, state)


@pytest.mark.postgres
@pytest.mark.django_db
def test_check_lists_an_open_link_table_beside_a_protected_one():
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {LABELS} DISABLE ROW LEVEL SECURITY")
    messages = checks.check_rls_link_tables(databases=["default"])
    assert [(m.id, m.msg) for m in messages] == [
        ("hardened_rbac.W004", checks.W004_MSG % (LABELS, "default"))
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_check_passes_when_every_link_table_is_protected():
    assert checks.check_rls_link_tables(databases=["default"]) == []


@pytest.mark.django_db
def test_check_skips_databases_without_row_level_security():
    if connection.vendor == "postgresql":
        pytest.skip("covered by the PostgreSQL tests above")
    assert checks.check_rls_link_tables(databases=["default"]) == []
