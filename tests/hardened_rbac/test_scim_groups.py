"""SCIM Groups: roles of one tenant, granted to that tenant's SCIM Users."""

import json

import pytest
from django.contrib.auth.models import Permission

from hardened_rbac.internal.scim_tokens import create_token
from hardened_rbac.models import Grant, Role, ScimGroup, ScimUser
from hardened_rbac.roles import has_tenant_perm
from hardened_rbac.scim import MAX_BODY_BYTES
from tests.factories import (
    MembershipFactory,
    TenantFactory,
    UserFactory,
    force_login_verified,
)
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.test_scim import Scim, _create, _patch

pytestmark = pytest.mark.django_db


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


GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _group_body(name="Engineering", members=()):
    return {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members],
    }


def _roles_of(scim_id):
    membership = ScimUser.objects.get(pk=scim_id).membership
    return sorted(
        Grant.objects.filter(membership=membership, source="scim").values_list(
            "role__name", flat=True
        )
    )


def test_create_group_grants_its_role_to_members(acme, caplog):
    tenant, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    bob = _create(scim, "bob@acme.test")["id"]
    capture_audit(caplog)
    response = scim.send("post", "/Groups", _group_body(members=[alice]))
    assert response.status_code == 201, response.content
    group = json.loads(response.content)
    assert group["members"] == [{"value": alice}]
    role = ScimGroup.objects.get(pk=group["id"]).role
    assert role.tenant == tenant
    assert not role.permissions.exists()
    assert _roles_of(alice) == ["Engineering"]
    assert _roles_of(bob) == []
    events = [e["event"] for e in audit_events(caplog)]
    assert "scim_group_created" in events

    path = f"/Groups/{group['id']}"
    add = _patch({"op": "add", "path": "members", "value": [{"value": bob}]})
    assert scim.send("patch", path, add).status_code == 200
    assert _roles_of(bob) == ["Engineering"]
    remove = _patch({"op": "remove", "path": f'members[value eq "{alice}"]'})
    assert scim.send("patch", path, remove).status_code == 200
    assert _roles_of(alice) == []
    rename = _patch({"op": "replace", "value": {"displayName": "Eng"}})
    body = json.loads(scim.send("patch", path, rename).content)
    assert body["displayName"] == "Eng"
    assert body["members"] == [{"value": bob}]

    listing = json.loads(scim.get("/Groups", filter='displayName eq "eng"').content)
    assert listing["totalResults"] == 1
    assert scim.send("delete", path, None, raw=True).status_code == 204
    assert _roles_of(bob) == []
    assert not Role.objects.filter(pk=role.pk).exists()


def test_put_replaces_members(acme):
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    bob = _create(scim, "bob@acme.test")["id"]
    group = json.loads(
        scim.send("post", "/Groups", _group_body(members=[alice])).content
    )
    response = scim.send(
        "put", f"/Groups/{group['id']}", _group_body("Ops", members=[bob])
    )
    assert response.status_code == 200
    assert _roles_of(alice) == []
    assert _roles_of(bob) == ["Ops"]


def test_admin_roles_are_not_groups_and_names_conflict(acme):
    tenant, scim = acme
    Role.objects.create(tenant=tenant, name="Owners")
    assert json.loads(scim.get("/Groups").content)["totalResults"] == 0
    response = scim.send("post", "/Groups", _group_body("Owners"))
    assert response.status_code == 409
    assert not ScimGroup.objects.exists()


def test_manual_grants_of_the_role_survive_member_removal(acme):
    tenant, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = json.loads(scim.send("post", "/Groups", _group_body()).content)
    role = ScimGroup.objects.get(pk=group["id"]).role
    manual = MembershipFactory(tenant=tenant)
    Grant.objects.create(membership=manual, role=role)
    path = f"/Groups/{group['id']}"
    scim.send(
        "patch",
        path,
        _patch({"op": "add", "path": "members", "value": [{"value": alice}]}),
    )
    scim.send("patch", path, _patch({"op": "remove", "path": "members"}))
    assert _roles_of(alice) == []
    assert Grant.objects.filter(membership=manual, role=role).exists()


def test_another_tenants_token_cannot_see_or_change_groups(acme, globex):
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = json.loads(
        scim.send("post", "/Groups", _group_body(members=[alice])).content
    )
    _, intruder = globex
    path = f"/Groups/{group['id']}"
    missing = intruder.get("/Groups/999999")
    answers = [
        intruder.get(path),
        intruder.send("put", path, _group_body("Taken", members=[])),
        intruder.send("patch", path, _patch({"op": "remove", "path": "members"})),
        intruder.send("delete", path, None, raw=True),
    ]
    for response in answers:
        assert response.status_code == 404
        assert response.content == missing.content
    assert json.loads(intruder.get("/Groups").content)["Resources"] == []
    assert _roles_of(alice) == ["Engineering"]


def test_members_from_another_tenant_are_refused_like_unknown_ones(acme, globex):
    _, scim = acme
    _, other = globex
    foreign = _create(other, "mallory@globex.test")["id"]
    foreign_answer = scim.send("post", "/Groups", _group_body(members=[foreign]))
    unknown_answer = scim.send("post", "/Groups", _group_body(members=["999999"]))
    assert foreign_answer.status_code == unknown_answer.status_code == 400
    assert foreign_answer.content == unknown_answer.content
    assert not ScimGroup.objects.exists()
    assert _roles_of(foreign) == []


@pytest.mark.parametrize(
    "body",
    [
        {"displayName": "no schema"},
        _group_body(""),
        _group_body("x" * 101),
        {**_group_body(), "members": "alice"},
        {**_group_body(), "members": [{"value": 5}]},
        {**_group_body(), "members": [{"value": "1"}] * 1001},
    ],
)
def test_invalid_groups_are_refused(acme, body):
    _, scim = acme
    assert scim.send("post", "/Groups", body).status_code == 400
    assert not ScimGroup.objects.exists()


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "permissions", "value": "all"},
        {"op": "remove", "path": "displayName"},
        {"op": "replace", "value": {"tenant": "globex"}},
        {"op": "add", "path": "members", "value": [{"value": "abc"}]},
        {"op": "copy", "path": "members", "value": []},
        {"op": "add", "path": 'members[value eq "1"]', "value": []},
        {"op": "replace", "value": {"id": "0", "displayName": "Spoofed"}},
        {"op": "remove", "value": {"members": []}},
        {"op": "add", "path": ["members"], "value": []},
        {"op": "replace", "path": "members", "value": [{"value": "999999"}]},
        {"op": None, "path": "members", "value": []},
    ],
)
def test_invalid_group_patches_change_nothing(acme, operation):
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = json.loads(
        scim.send("post", "/Groups", _group_body(members=[alice])).content
    )
    response = scim.send("patch", f"/Groups/{group['id']}", _patch(operation))
    assert response.status_code == 400
    assert _roles_of(alice) == ["Engineering"]


def test_unknown_group_filters_are_refused(acme):
    _, scim = acme
    response = scim.get("/Groups", filter='members eq "1"')
    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == "invalidFilter"


def _new_group(scim, name="Engineering", members=()):
    response = scim.send("post", "/Groups", _group_body(name, members=members))
    assert response.status_code == 201, response.content
    return json.loads(response.content)


def test_membership_gives_and_ends_the_roles_permissions(acme):
    """A member holds the role's permissions in the tenant until removed."""
    tenant, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = _new_group(scim)
    role = ScimGroup.objects.get(pk=group["id"]).role
    role.permissions.add(Permission.objects.get(codename="view_tenant"))
    path = f"/Groups/{group['id']}"

    def allowed():
        account = ScimUser.objects.get(pk=alice).membership.user
        return has_tenant_perm(account, "hardened_rbac.view_tenant", tenant)

    assert not allowed()
    add = _patch({"op": "Add", "path": "members", "value": [{"value": alice}]})
    assert scim.send("patch", path, add).status_code == 200
    assert allowed()
    remove = _patch({"op": "Remove", "path": "members", "value": [{"value": alice}]})
    assert scim.send("patch", path, remove).status_code == 200
    assert not allowed()


def test_patch_without_path_renames_and_adds_members(acme):
    """A rename that repeats the group's id, and members in the value, apply."""
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = _new_group(scim)
    operation = {
        "op": "replace",
        "value": {"id": group["id"], "displayName": "Platform", "externalId": "g1"},
    }
    adding = {"op": "add", "value": {"members": [{"value": alice}]}}
    response = scim.send("patch", f"/Groups/{group['id']}", _patch(operation, adding))
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["displayName"] == "Platform"
    assert body["externalId"] == "g1"
    assert body["members"] == [{"value": alice}]
    assert _roles_of(alice) == ["Platform"]


def test_replace_members_and_remove_external_id(acme):
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    bob = _create(scim, "bob@acme.test")["id"]
    group = _new_group(scim, members=[alice])
    path = f"/Groups/{group['id']}"
    response = scim.send(
        "patch",
        path,
        _patch(
            {"op": "replace", "path": "members", "value": [{"value": bob}]},
            {"op": "replace", "path": "externalId", "value": "x1"},
        ),
    )
    assert json.loads(response.content)["members"] == [{"value": bob}]
    assert _roles_of(alice) == []
    assert _roles_of(bob) == ["Engineering"]
    assert ScimGroup.objects.get(pk=group["id"]).external_id == "x1"
    scim.send("patch", path, _patch({"op": "remove", "path": "externalId"}))
    assert ScimGroup.objects.get(pk=group["id"]).external_id == ""


def test_removing_a_deleted_user_is_not_an_error(acme):
    """A provider may remove a member it already deleted; nothing else changes."""
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    bob = _create(scim, "bob@acme.test")["id"]
    group = _new_group(scim, members=[alice, bob])
    assert scim.send("delete", f"/Users/{alice}", None, raw=True).status_code == 204
    response = scim.send(
        "patch",
        f"/Groups/{group['id']}",
        _patch({"op": "remove", "path": "members", "value": [{"value": alice}]}),
    )
    assert response.status_code == 200
    assert json.loads(response.content)["members"] == [{"value": bob}]
    assert _roles_of(bob) == ["Engineering"]


def test_adding_another_tenants_user_changes_nothing(acme, globex):
    _, scim = acme
    _, other = globex
    alice = _create(scim, "alice@acme.test")["id"]
    foreign = _create(other, "mallory@globex.test")["id"]
    group = _new_group(scim, members=[alice])
    response = scim.send(
        "patch",
        f"/Groups/{group['id']}",
        _patch(
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": foreign}]},
        ),
    )
    assert response.status_code == 400
    assert _roles_of(alice) == ["Engineering"]
    assert _roles_of(foreign) == []


def test_another_tenants_group_names_do_not_conflict(acme, globex):
    _, scim = acme
    _, other = globex
    _new_group(scim, "Engineering")
    assert other.send("post", "/Groups", _group_body("Engineering")).status_code == 201
    assert ScimGroup.objects.count() == 2


@pytest.mark.parametrize("name", ["engineering", "Support"])
def test_names_taken_in_any_case_or_site_wide_conflict(acme, name):
    _, scim = acme
    Role.objects.create(tenant=None, name="Support")
    group = _new_group(scim, "Engineering")
    _new_group(scim, "Ops")
    assert scim.send("post", "/Groups", _group_body(name)).status_code == 409
    response = scim.send(
        "patch",
        f"/Groups/{group['id']}",
        _patch({"op": "replace", "path": "displayName", "value": "ops"}),
    )
    assert response.status_code == 409
    assert ScimGroup.objects.get(pk=group["id"]).role.name == "Engineering"


def test_a_group_has_a_bounded_number_of_members(acme, monkeypatch):
    from hardened_rbac.internal import scim_groups

    _, scim = acme
    monkeypatch.setattr(scim_groups, "MAX_MEMBERS", 2)
    ids = [_create(scim, f"u{n}@acme.test")["id"] for n in range(3)]
    group = _new_group(scim, members=ids[:2])
    response = scim.send(
        "patch",
        f"/Groups/{group['id']}",
        _patch({"op": "add", "path": "members", "value": [{"value": ids[2]}]}),
    )
    assert response.status_code == 400
    assert _roles_of(ids[2]) == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (b'"Engineering"', 400),
        (b"[" * 100_000, 413),
        (b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}', 413),
    ],
)
def test_malformed_bodies_are_refused(acme, raw, status):
    _, scim = acme
    group = _new_group(scim)
    assert scim.send("post", "/Groups", raw, raw=True).status_code == status
    for method in ("put", "patch"):
        response = scim.send(method, f"/Groups/{group['id']}", raw, raw=True)
        assert response.status_code == status
    assert ScimGroup.objects.count() == 1


def test_group_ids_that_are_not_numbers_are_not_found(acme):
    _, scim = acme
    for scim_id in ("abc", "1" * 19, "-1", "1.0"):
        assert scim.get(f"/Groups/{scim_id}").status_code == 404


def test_groups_need_a_live_token(acme):
    tenant, scim = acme
    _new_group(scim)
    scim.auth = "Bearer hst_forged"
    assert scim.get("/Groups").status_code == 401
    assert scim.send("post", "/Groups", _group_body("Other")).status_code == 401
    assert ScimGroup.objects.filter(tenant=tenant).count() == 1


@pytest.fixture
def admin_client(client):
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def test_operators_see_groups_in_the_admin_but_cannot_add_them(acme, admin_client):
    _, scim = acme
    group = _new_group(scim)
    listing = admin_client.get("/admin/hardened_rbac/scimgroup/")
    assert listing.status_code == 200
    assert "Engineering" in listing.content.decode()
    change = admin_client.get(f"/admin/hardened_rbac/scimgroup/{group['id']}/change/")
    assert change.status_code == 200
    assert admin_client.get("/admin/hardened_rbac/scimgroup/add/").status_code == 403


def test_members_can_be_left_out_of_answers(acme):
    _, scim = acme
    alice = _create(scim, "alice@acme.test")["id"]
    group = _new_group(scim, members=[alice])
    path = f"/Groups/{group['id']}"
    one = json.loads(scim.get(path, excludedAttributes="Members").content)
    listing = json.loads(
        scim.get(
            "/Groups",
            excludedAttributes="externalId, members",
            filter='displayName eq "Engineering"',
        ).content
    )
    assert "members" not in one
    assert one["displayName"] == "Engineering"
    assert ["members" in r for r in listing["Resources"]] == [False]
    assert json.loads(scim.get(path).content)["members"] == [{"value": alice}]
