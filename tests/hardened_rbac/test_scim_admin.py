"""Site operators make and revoke SCIM tokens in the admin."""

import re

import pytest
from django.test import Client

from hardened_rbac.internal.scim_tokens import create_token, token_hash
from hardened_rbac.models import ScimToken
from tests.factories import TenantFactory, UserFactory, force_login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/hardened_rbac/scimtoken/",
        "/admin/hardened_rbac/scimtoken/add/",
        "/admin/hardened_rbac/scimuser/",
    ],
)
def test_operator_pages_open(admin_client, url):
    create_token(TenantFactory(), "Okta")
    assert admin_client.get(url).status_code == 200


def test_token_is_shown_once_and_only_its_hash_is_kept(admin_client):
    tenant = TenantFactory()
    response = admin_client.post(
        "/admin/hardened_rbac/scimtoken/add/",
        {"tenant": tenant.pk, "name": "Okta"},
    )
    assert response.status_code == 302
    row = ScimToken.objects.get(tenant=tenant)
    change = f"/admin/hardened_rbac/scimtoken/{row.pk}/change/"
    shown = admin_client.get(change).content.decode()
    [token] = re.findall(r"hst_[A-Za-z0-9_-]{43}", shown)
    assert row.token_hash == token_hash(token)
    assert token not in admin_client.get(change).content.decode()
    assert (
        token
        not in admin_client.get("/admin/hardened_rbac/scimtoken/").content.decode()
    )
    answer = Client().get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200


def test_revoke_action_stops_the_token(admin_client):
    row, token = create_token(TenantFactory(), "Okta")
    response = admin_client.post(
        "/admin/hardened_rbac/scimtoken/",
        {"action": "revoke_selected", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    answer = Client().get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 401
