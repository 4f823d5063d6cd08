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
