import pytest
from django.test import override_settings

from hardened_rbac import checks


def test_reserved_slugs_default_passes():
    assert checks.check_reserved_slugs() == []


@override_settings(HARDENED_RBAC_RESERVED_TENANT_SLUGS="admin")
def test_reserved_slugs_as_string_fails():
    messages = checks.check_reserved_slugs()
    assert [m.id for m in messages] == ["hardened_rbac.E001"]
    assert messages[0].msg == checks.E001_MSG


@override_settings(HARDENED_RBAC_RESERVED_TENANT_SLUGS=["admin", 3])
def test_reserved_slugs_with_non_string_fails():
    assert [m.id for m in checks.check_reserved_slugs()] == ["hardened_rbac.E001"]


def test_tenant_source_defaults_pass():
    assert checks.check_tenant_source() == []


@pytest.mark.parametrize(
    ("overrides", "expected_id", "expected_msg"),
    [
        ({"HARDENED_RBAC_TENANT_SOURCE": "cookie"}, "E002", checks.E002_MSG),
        ({"HARDENED_RBAC_TENANT_PATH_PREFIX": ""}, "E003", checks.E003_MSG),
        ({"HARDENED_RBAC_TENANT_PATH_PREFIX": "a/b"}, "E003", checks.E003_MSG),
        ({"HARDENED_RBAC_TENANT_PATH_PREFIX": 3}, "E003", checks.E003_MSG),
        ({"HARDENED_RBAC_TENANT_HEADER": " "}, "E004", checks.E004_MSG),
        ({"HARDENED_RBAC_TENANT_SOURCE": "subdomain"}, "E005", checks.E005_MSG),
    ],
)
def test_tenant_source_settings_fail(overrides, expected_id, expected_msg):
    with override_settings(**overrides):
        messages = checks.check_tenant_source()
    assert [(m.id, m.msg) for m in messages] == [
        (f"hardened_rbac.{expected_id}", expected_msg)
    ]
    assert messages[0].hint


@override_settings(
    HARDENED_RBAC_TENANT_SOURCE="subdomain", HARDENED_RBAC_TENANT_DOMAIN="example.com"
)
def test_subdomain_with_domain_passes():
    assert checks.check_tenant_source() == []


def _unscoped_labels(messages):
    return {m.msg for m in messages if m.id == "hardened_rbac.W001"}


def test_models_with_a_tenant_key_but_no_scope_are_listed():
    listed = _unscoped_labels(checks.check_unscoped_models())
    assert checks.W001_MSG % "rbac_testapp.LooseNote" in listed
    assert checks.W001_MSG % "rbac_testapp.Project" not in listed
    assert checks.W001_MSG % "rbac_testapp.Task" not in listed
    assert checks.W001_MSG % "hardened_rbac.Membership" not in listed


@override_settings(HARDENED_RBAC_UNSCOPED_MODELS=["rbac_testapp.LooseNote"])
def test_allowed_unscoped_models_are_not_listed():
    listed = _unscoped_labels(checks.check_unscoped_models())
    assert checks.W001_MSG % "rbac_testapp.LooseNote" not in listed


@override_settings(HARDENED_RBAC_UNSCOPED_MODELS="rbac_testapp.LooseNote")
def test_unscoped_models_setting_must_be_a_list():
    messages = checks.check_unscoped_models()
    assert [(m.id, m.msg) for m in messages] == [
        ("hardened_rbac.E006", checks.E006_MSG)
    ]


def test_rls_check_without_databases_is_silent():
    assert checks.check_rls_role(databases=None) == []


@pytest.mark.django_db
def test_scoped_table_check_only_asks_postgresql():
    from django.db import connection

    assert checks.check_rls_scoped_tables(databases=None) == []
    if connection.vendor != "postgresql":
        assert checks.check_rls_scoped_tables(databases=["default"]) == []


@pytest.mark.django_db
def test_rls_check_only_asks_postgresql():
    from django.db import connection

    expected = ["hardened_rbac.W002"] if connection.vendor == "postgresql" else []
    assert [m.id for m in checks.check_rls_role(databases=["default"])] == expected
