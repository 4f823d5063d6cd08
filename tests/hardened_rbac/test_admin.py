import pytest
from django.contrib.auth.models import Permission

from hardened_rbac.models import Grant, Role
from tests.factories import (
    MembershipFactory,
    TenantFactory,
    UserFactory,
    force_login_verified,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    force_login_verified(client, user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/hardened_rbac/role/",
        "/admin/hardened_rbac/role/add/",
        "/admin/hardened_rbac/grant/",
        "/admin/hardened_rbac/grant/add/",
        "/admin/hardened_rbac/membership/",
    ],
)
def test_operator_pages_open(admin_client, url):
    MembershipFactory()
    assert admin_client.get(url).status_code == 200


def test_admin_refuses_a_grant_of_another_tenants_role(admin_client):
    membership = MembershipFactory()
    foreign_role = Role.objects.create(tenant=TenantFactory(), name="editor")
    response = admin_client.post(
        "/admin/hardened_rbac/grant/add/",
        {"membership": membership.pk, "role": foreign_role.pk, "source": "manual"},
    )
    assert response.status_code == 200
    assert "This role belongs to another tenant." in response.content.decode()
    assert not Grant.objects.exists()


def test_admin_creates_a_role_with_permissions(admin_client):
    tenant = TenantFactory()
    permission = Permission.objects.get(codename="change_project")
    response = admin_client.post(
        "/admin/hardened_rbac/role/add/",
        {"name": "editor", "tenant": tenant.pk, "permissions": [permission.pk]},
    )
    assert response.status_code == 302
    role = Role.objects.get(name="editor")
    assert list(role.permissions.all()) == [permission]
