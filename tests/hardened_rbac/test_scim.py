"""SCIM 2.0 provisioning: per-tenant tokens, Users, and hostile requests."""

import json

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from hardened_auth.exceptions import TokenRefused
from hardened_auth.internal.tokens import user_for_access_token
from hardened_auth.models import TokenFamily, UserSession
from hardened_rbac.internal.scim_tokens import create_token, revoke_token
from hardened_rbac.models import Membership, ScimToken, ScimUser
from hardened_rbac.scim import MAX_BODY_BYTES
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TenantFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit

pytestmark = pytest.mark.django_db

BASE = "/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """A SCIM client holding one bearer token."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.auth = f"Bearer {token}"

    def get(self, path: str, **params):
        return self.client.get(BASE + path, params, HTTP_AUTHORIZATION=self.auth)

    def send(self, method: str, path: str, body, raw: bool = False):
        data = body if raw else json.dumps(body)
        call = getattr(self.client, method)
        return call(
            BASE + path,
            data,
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=self.auth,
        )


def _user_body(user_name: str = "alice@acme.test", **extra):
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": "00u1",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [{"value": "alice@acme.test", "primary": True}],
        "active": True,
        **extra,
    }


def _patch(*operations):
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


@pytest.fixture
def acme():
    tenant = TenantFactory(slug="acme")
    _, token = create_token(tenant, "Okta")
    return tenant, Scim(token)


@pytest.fixture
def globex():
    tenant = TenantFactory(slug="globex")
    _, token = create_token(tenant, "Entra")
    return tenant, Scim(token)


def _create(scim: Scim, user_name: str = "alice@acme.test", **extra):
    response = scim.send("post", "/Users", _user_body(user_name, **extra))
    assert response.status_code == 201, response.content
    return json.loads(response.content)


def _signed_in_everywhere(scim_id: str):
    """Give the provisioned account a password, a browser session and API tokens."""
    account = ScimUser.objects.get(pk=scim_id).membership.user
    account.set_password(DEFAULT_PASSWORD)
    account.save()
    EmailAddress.objects.create(
        user=account, email=account.email, verified=True, primary=True
    )
    browser = Client()
    response = browser.post(
        "/accounts/login/", {"login": account.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    response = Client().post(
        "/auth/token/", {"login": account.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.content
    pair = json.loads(response.content)
    assert UserSession.objects.filter(user=account).exists()
    assert user_for_access_token(pair["access_token"]) == account
    return account, browser, pair


def _access_ended(account, browser: Client, pair) -> None:
    assert not UserSession.objects.filter(user=account).exists()
    assert browser.get("/auth/sessions/").status_code != 200
    with pytest.raises(TokenRefused):
        user_for_access_token(pair["access_token"])
    refreshed = Client().post(
        "/auth/token/refresh/", {"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code in (400, 401)
    assert not TokenFamily.objects.filter(
        user=account, revoked_at__isnull=True
    ).exists()


def test_create_get_and_filter_a_user(acme):
    tenant, scim = acme
    created = _create(scim)
    assert created["userName"] == "alice@acme.test"
    assert created["active"] is True
    assert created["emails"] == [{"value": "alice@acme.test", "primary": True}]
    scim_user = ScimUser.objects.get(pk=created["id"])
    assert scim_user.membership.tenant == tenant
    assert scim_user.membership.is_active
    assert not scim_user.membership.user.has_usable_password()

    fetched = json.loads(scim.get(f"/Users/{created['id']}").content)
    assert fetched["name"] == {"givenName": "Alice", "familyName": "Liddell"}
    listing = json.loads(
        scim.get("/Users", filter='userName eq "ALICE@acme.test"').content
    )
    assert listing["totalResults"] == 1
    assert listing["Resources"][0]["id"] == created["id"]
    nobody = json.loads(
        scim.get("/Users", filter='userName eq "bob@acme.test"').content
    )
    assert nobody["totalResults"] == 0


def test_list_pages(acme):
    _, scim = acme
    for n in range(3):
        _create(scim, f"user{n}@acme.test")
    page = json.loads(scim.get("/Users", startIndex="2", count="1").content)
    assert page["totalResults"] == 3
    assert page["itemsPerPage"] == 1
    assert page["Resources"][0]["userName"] == "user1@acme.test"
    assert scim.get("/Users", count="-1").status_code == 400


def test_duplicate_user_name_in_the_tenant_conflicts(acme):
    _, scim = acme
    _create(scim)
    response = scim.send("post", "/Users", _user_body("Alice@acme.test"))
    assert response.status_code == 409
    assert json.loads(response.content)["scimType"] == "uniqueness"


def test_service_provider_config(acme):
    _, scim = acme
    body = json.loads(scim.get("/ServiceProviderConfig").content)
    assert body["patch"] == {"supported": True}
    assert body["bulk"]["supported"] is False


def test_patch_active_false_ends_membership_sessions_and_tokens(acme, caplog):
    tenant, scim = acme
    created = _create(scim)
    account, browser, pair = _signed_in_everywhere(created["id"])
    capture_audit(caplog)
    response = scim.send(
        "patch",
        f"/Users/{created['id']}",
        _patch({"op": "Replace", "path": "active", "value": "False"}),
    )
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["active"] is False
    assert not Membership.objects.get(user=account, tenant=tenant).is_active
    _access_ended(account, browser, pair)
    [event] = [e for e in audit_events(caplog) if e["event"] == "user_deactivated"]
    assert event["tenant"] == str(tenant.pk)
    assert event["target"] == f"user:{account.pk}"
    assert event["outcome"] == "success"
    assert event["sessions_ended"] == 1


def test_patch_without_path_as_okta_sends_it(acme):
    _, scim = acme
    created = _create(scim)
    account, browser, pair = _signed_in_everywhere(created["id"])
    response = scim.send(
        "patch",
        f"/Users/{created['id']}",
        _patch(
            {"op": "replace", "value": {"active": False, "name": {"givenName": "Al"}}}
        ),
    )
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["name"]["givenName"] == "Al"
    _access_ended(account, browser, pair)


def test_put_active_false_ends_access_and_put_true_reactivates(acme, caplog):
    tenant, scim = acme
    created = _create(scim)
    account, browser, pair = _signed_in_everywhere(created["id"])
    response = scim.send("put", f"/Users/{created['id']}", _user_body(active=False))
    assert response.status_code == 200
    _access_ended(account, browser, pair)
    capture_audit(caplog)
    response = scim.send("put", f"/Users/{created['id']}", _user_body(active=True))
    assert json.loads(response.content)["active"] is True
    assert Membership.objects.get(user=account, tenant=tenant).is_active
    assert "user_reactivated" in [e["event"] for e in audit_events(caplog)]


def test_delete_ends_membership_sessions_and_tokens(acme, caplog):
    tenant, scim = acme
    created = _create(scim)
    account, browser, pair = _signed_in_everywhere(created["id"])
    capture_audit(caplog)
    assert (
        scim.send("delete", f"/Users/{created['id']}", None, raw=True).status_code
        == 204
    )
    assert not Membership.objects.filter(user=account, tenant=tenant).exists()
    assert not ScimUser.objects.filter(pk=created["id"]).exists()
    _access_ended(account, browser, pair)
    assert "user_deleted" in [e["event"] for e in audit_events(caplog)]
    assert scim.get(f"/Users/{created['id']}").status_code == 404


def test_deprovisioning_leaves_other_memberships_of_the_account(acme, globex):
    _, scim = acme
    created = _create(scim)
    account = ScimUser.objects.get(pk=created["id"]).membership.user
    other = MembershipFactory(user=account, tenant=globex[0])
    scim.send("delete", f"/Users/{created['id']}", None, raw=True)
    other.refresh_from_db()
    assert other.is_active


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer hst_not-a-real-token",
        "Bearer wrongprefix",
        "Bearer hst_" + "a" * 200,
    ],
)
def test_missing_or_wrong_token_is_refused(acme, caplog, header):
    _create(acme[1])
    capture_audit(caplog)
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().get(BASE + "/Users", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = json.loads(response.content)
    assert body["schemas"] == [ERROR_SCHEMA]
    assert "alice" not in response.content.decode()
    [event] = [e for e in audit_events(caplog) if e["event"] == "authn_token_invalid"]
    assert event["outcome"] == "denied"


def test_revoked_token_and_inactive_tenant_are_refused(acme):
    tenant, scim = acme
    assert scim.get("/Users").status_code == 200
    row = ScimToken.objects.get(tenant=tenant)
    assert revoke_token(row)
    assert not revoke_token(row)
    assert scim.get("/Users").status_code == 401

    _, second = create_token(tenant, "second")
    tenant.is_active = False
    tenant.save()
    assert Scim(second).get("/Users").status_code == 401


def test_only_the_hash_of_a_token_is_stored(acme):
    tenant, _ = acme
    row, token = create_token(tenant, "third")
    stored = ScimToken.objects.filter(pk=row.pk).values()[0]
    assert token not in json.dumps(stored, default=str)
    assert len(row.token_hash) == 64


def test_another_tenants_token_sees_and_touches_nothing(acme, globex, caplog):
    tenant, scim = acme
    created = _create(scim)
    other, intruder = globex
    capture_audit(caplog)
    path = f"/Users/{created['id']}"
    missing = intruder.get("/Users/999999")
    answers = [
        intruder.get(path),
        intruder.send("put", path, _user_body(active=False)),
        intruder.send(
            "patch", path, _patch({"op": "replace", "path": "active", "value": False})
        ),
        intruder.send("delete", path, None, raw=True),
    ]
    for response in answers:
        assert response.status_code == 404
        assert response.content == missing.content
    listing = json.loads(
        intruder.get("/Users", filter='userName eq "alice@acme.test"').content
    )
    assert listing["totalResults"] == 0
    assert json.loads(intruder.get("/Users").content)["Resources"] == []
    scim_user = ScimUser.objects.get(pk=created["id"])
    assert scim_user.membership.is_active
    assert scim_user.membership.tenant == tenant
    refused = [e for e in audit_events(caplog) if e["event"] == "authz_fail"]
    assert len(refused) == 5
    assert {e["tenant"] for e in refused} == {str(other.pk)}
    assert {e["outcome"] for e in refused} == {"denied"}


def test_renaming_onto_a_taken_user_name_conflicts(acme):
    _, scim = acme
    _create(scim, "first@acme.test")
    second = _create(scim, "second@acme.test")
    response = scim.send(
        "patch",
        f"/Users/{second['id']}",
        _patch({"op": "replace", "path": "userName", "value": "FIRST@acme.test"}),
    )
    assert response.status_code == 409
    assert ScimUser.objects.get(pk=second["id"]).user_name == "second@acme.test"


def test_same_user_name_in_two_tenants_are_separate_accounts(acme, globex):
    first = _create(acme[1])
    second = _create(globex[1])
    a = ScimUser.objects.get(pk=first["id"]).membership.user
    b = ScimUser.objects.get(pk=second["id"]).membership.user
    assert a != b
    globex[1].send("delete", f"/Users/{second['id']}", None, raw=True)
    assert ScimUser.objects.get(pk=first["id"]).membership.is_active


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", '"text"', "", "[" * 100000 + "]" * 100000],
)
def test_malformed_json_is_a_bad_request(acme, body):
    _, scim = acme
    if len(body) > MAX_BODY_BYTES:
        body = "[" * (MAX_BODY_BYTES // 2) + "]" * (MAX_BODY_BYTES // 2)
    response = scim.send("post", "/Users", body, raw=True)
    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == "invalidSyntax"
    assert not ScimUser.objects.exists()


def test_oversized_body_is_refused(acme):
    _, scim = acme
    huge = _user_body(padding="x" * MAX_BODY_BYTES)
    response = scim.send("post", "/Users", huge)
    assert response.status_code == 413
    assert not ScimUser.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "no-schema"},
        _user_body(""),
        _user_body("x" * 151),
        _user_body(active="maybe"),
        _user_body(emails=[{"value": "not an address"}]),
        _user_body(emails="alice@acme.test"),
        _user_body(name="Alice"),
        _user_body(externalId=7),
    ],
)
def test_invalid_user_values_are_refused(acme, body):
    _, scim = acme
    response = scim.send("post", "/Users", body)
    assert response.status_code == 400
    assert not ScimUser.objects.exists()


def test_unknown_attributes_are_ignored_and_not_stored(acme):
    _, scim = acme
    created = _create(
        scim, id="42", roles=[{"value": "admin"}], meta={"created": "1970"}
    )
    assert created["id"] != "42"
    assert "roles" not in created
    fetched = json.loads(scim.get(f"/Users/{created['id']}").content)
    assert "roles" not in fetched
    account = ScimUser.objects.get(pk=created["id"]).membership.user
    assert not account.is_staff
    assert not account.is_superuser


@pytest.mark.parametrize(
    "expression",
    [
        'emails co "acme"',
        'userName sw "a"',
        'userName eq "a" or userName eq "b"',
        "userName eq alice",
        'userName eq "\\u00"',
        "",
    ],
)
def test_unknown_filters_are_refused(acme, expression):
    _, scim = acme
    _create(scim)
    response = scim.get("/Users", filter=expression)
    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "roles", "value": "admin"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"},
        {"op": "remove", "path": "active"},
        {"op": "remove", "path": "userName"},
        {"op": "move", "path": "active", "value": False},
        {"op": "replace", "value": {"isStaff": True}},
        {"op": "replace", "path": "active", "value": "nope"},
        "not an object",
    ],
)
def test_invalid_patch_operations_change_nothing(acme, operation):
    _, scim = acme
    created = _create(scim)
    response = scim.send("patch", f"/Users/{created['id']}", _patch(operation))
    assert response.status_code == 400
    scim_user = ScimUser.objects.get(pk=created["id"])
    assert scim_user.membership.is_active
    assert not scim_user.membership.user.is_staff


def test_patch_needs_the_patch_schema_and_operations(acme):
    _, scim = acme
    created = _create(scim)
    path = f"/Users/{created['id']}"
    assert scim.send("patch", path, {"Operations": []}).status_code == 400
    assert scim.send("patch", path, _patch()).status_code == 400
    too_many = _patch(*[{"op": "replace", "path": "active", "value": True}] * 51)
    assert scim.send("patch", path, too_many).status_code == 400


def test_odd_ids_and_methods(acme):
    _, scim = acme
    assert scim.get("/Users/abc").status_code == 404
    assert scim.get("/Users/" + "9" * 40).status_code == 404
    assert scim.send("delete", "/Users", None, raw=True).status_code == 405
    assert scim.send("post", "/ServiceProviderConfig", {}).status_code == 405
