"""Group-to-role mapping through a real OpenID Connect sign-in.

The provider is django-oauth-toolkit on the live test server
(``tests/hardened_auth/oidc_provider.py``); its ID token carries the
``groups`` claim, which allauth stores under ``extra_data["id_token"]``.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from hardened_rbac.internal.scim_tokens import create_token
from hardened_rbac.models import Grant, Membership, Role, ScimUser, SsoGroupRole
from tests.factories import TenantFactory
from tests.hardened_auth.oidc_provider import (
    DIRECTORY,
    PROVIDER_ID,
    Provider,
    running_provider,
    sign_in,
)
from tests.hardened_rbac.test_scim import Scim, _user_body

pytestmark = pytest.mark.django_db(transaction=True)

DANA = {"email": "dana@initech.example", "email_verified": True, "name": "Dana"}


@pytest.fixture
def oidc_provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    with running_provider(live_server, settings) as provider:
        yield provider


@pytest.fixture
def mapped():
    tenant = TenantFactory(slug="initech")
    editor = Role.objects.create(tenant=tenant, name="editor")
    SsoGroupRole.objects.create(
        tenant=tenant, provider=PROVIDER_ID, group="engineering", role=editor
    )
    return tenant


def _sso_roles(user: Any, tenant: Any) -> list[str]:
    return sorted(
        Grant.objects.filter(
            membership__user=user, membership__tenant=tenant, source="sso"
        ).values_list("role__name", flat=True)
    )


def _sign_in(idp: Client) -> Any:
    """Sign in through the provider; return the relying party's signed-in user."""
    rp = Client()
    response = sign_in(rp, idp)
    assert response.status_code == 302, response.content.decode()[:3000]
    return get_user_model().objects.get(pk=rp.session["_auth_user_id"])


def test_id_token_groups_add_then_remove_roles(oidc_provider, mapped):
    idp = oidc_provider.add_user("dana", groups=["engineering"], **DANA)
    user = _sign_in(idp)
    account = SocialAccount.objects.get(user=user)
    assert account.extra_data["id_token"]["groups"] == ["engineering"]
    assert "groups" not in account.extra_data
    assert Membership.objects.get(user=user, tenant=mapped).is_active
    assert _sso_roles(user, mapped) == ["editor"]

    DIRECTORY["idp-dana"]["groups"] = ["sales"]
    assert _sign_in(idp) == user
    assert _sso_roles(user, mapped) == []
    assert Membership.objects.filter(user=user, tenant=mapped).exists()


def test_a_sign_in_does_not_undo_a_scim_deletion(oidc_provider, mapped, settings):
    """The tenant provisions over SCIM, so SSO maps roles but adds no member.

    The first sign-in matches the provisioned account by its verified email
    and connects the provider's identity to it, so the sign-in after the
    SCIM deletion comes through that connection, not an email match.
    """
    app = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]
    app["settings"]["email_authentication"] = True
    settings.SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
    _, token = create_token(mapped, "Initech")
    scim = Scim(token)
    created = scim.send(
        "post",
        "/Users",
        _user_body(
            "dana@initech.example",
            emails=[{"value": "dana@initech.example", "primary": True}],
        ),
    )
    assert created.status_code == 201, created.content
    scim_id = json.loads(created.content)["id"]
    provisioned = ScimUser.objects.get(pk=scim_id).membership.user

    idp = oidc_provider.add_user("dana", groups=["engineering"], **DANA)
    assert _sign_in(idp) == provisioned
    assert SocialAccount.objects.get(provider=PROVIDER_ID).user == provisioned
    assert _sso_roles(provisioned, mapped) == ["editor"]

    deleted = scim.send("delete", f"/Users/{scim_id}", None, raw=True)
    assert deleted.status_code == 204
    assert _sign_in(idp) == provisioned
    assert not Membership.objects.filter(user=provisioned, tenant=mapped).exists()
    assert _sso_roles(provisioned, mapped) == []
