"""Initech's provider signs in by email only to accounts Initech provisioned.

The sandbox's own Initech app (``email_authentication`` on) runs against
django-oauth-toolkit on the live test server; accounts are provisioned
through the sandbox's SCIM endpoint with the token the seed prints.
"""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client
from enterprise import seed
from enterprise.oidc import initech_app

from hardened_auth.oidc import openid_connect_settings
from hardened_privacy.models import AuditRecord
from hardened_rbac.internal.scim_tokens import create_token
from hardened_rbac.models import ScimUser, Tenant
from tests.hardened_auth.oidc_provider import Provider, running_provider, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    with running_provider(live_server, settings) as running:
        settings.SOCIALACCOUNT_PROVIDERS = {
            "openid_connect": openid_connect_settings(
                initech_app(running.issuer, running.client_id, running.secret)
            )
        }
        yield running


@pytest.fixture
def scim_token() -> str:
    return seed.seed(tenants={}, users={}, stdout=io.StringIO())


def _scim(token: str, method: str, path: str, body: object = None) -> Any:
    call = getattr(Client(), method)
    return call(
        f"/scim/v2{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _provision(token: str, email: str) -> str:
    response = _scim(
        token,
        "post",
        "/Users",
        {
            "schemas": [USER_SCHEMA],
            "userName": email,
            "emails": [{"value": email, "primary": True}],
            "active": True,
        },
    )
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _signed_in_user_id(client: Client) -> str | None:
    value = client.session.get("_auth_user_id")
    return str(value) if value is not None else None


def _refusals() -> int:
    return AuditRecord.objects.filter(event="authn_sso_email_match_fail").count()


def test_initech_cannot_sign_in_as_the_superuser(
    provider: Provider, scim_token: str
) -> None:
    admin = get_user_model().objects.create_superuser(
        "admin", "admin@example.com", "a-long-password-0123"
    )
    EmailAddress.objects.create(
        user=admin, email=admin.email, verified=True, primary=True
    )
    idp = provider.add_user(
        "mallory", email="admin@example.com", email_verified=True, groups=["managers"]
    )
    rp = Client()

    response = sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert _refusals() == 1
    assert not admin.hardened_memberships.exists()


def test_a_user_initech_provisioned_signs_in_to_that_account(
    provider: Provider, scim_token: str
) -> None:
    scim_id = _provision(scim_token, "samir@initech.example")
    provisioned = ScimUser.objects.get(pk=scim_id).membership.user
    idp = provider.add_user(
        "samir", email="samir@initech.example", email_verified=True, groups=[]
    )
    rp = Client()

    response = sign_in(rp, idp)

    assert response.status_code == 302, response["Location"]
    assert _signed_in_user_id(rp) == str(provisioned.pk), response["Location"]
    assert _refusals() == 0


def test_an_account_another_tenant_provisioned_is_refused(
    provider: Provider, scim_token: str
) -> None:
    globex = Tenant.objects.create(slug="globex", name="Globex")
    _, globex_token = create_token(globex, "Globex IdP")
    _provision(globex_token, "gina@globex.example")
    idp = provider.add_user("gina", email="gina@globex.example", email_verified=True)
    rp = Client()

    response = sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert _refusals() == 1


def test_after_a_scim_delete_the_email_no_longer_matches(
    provider: Provider, scim_token: str
) -> None:
    scim_id = _provision(scim_token, "samir@initech.example")
    assert _scim(scim_token, "delete", f"/Users/{scim_id}").status_code == 204
    idp = provider.add_user("samir", email="samir@initech.example", email_verified=True)
    rp = Client()

    response = sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert _refusals() == 1
