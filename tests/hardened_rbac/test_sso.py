import pytest
from django.core.exceptions import ValidationError

from hardened_rbac import checks
from hardened_rbac.internal.scim_tokens import create_token, revoke_token
from hardened_rbac.internal.sso import groups_claim
from hardened_rbac.models import Grant, Membership, Role, SsoGroupRole
from hardened_rbac.sso import sync_roles
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit

pytestmark = pytest.mark.django_db

PROVIDER = "openid_connect"


@pytest.fixture
def mapped():
    tenant = TenantFactory()
    editor = Role.objects.create(tenant=tenant, name="editor")
    viewer = Role.objects.create(name="viewer")
    SsoGroupRole.objects.create(
        tenant=tenant, provider=PROVIDER, group="eng", role=editor
    )
    SsoGroupRole.objects.create(
        tenant=tenant, provider=PROVIDER, group="all", role=viewer
    )
    return tenant, editor, viewer


def _sso_roles(user, tenant):
    return sorted(
        Grant.objects.filter(
            membership__user=user, membership__tenant=tenant, source="sso"
        ).values_list("role__name", flat=True)
    )


def test_groups_add_and_remove_roles_at_each_sign_in(mapped, caplog):
    tenant, *_ = mapped
    user = UserFactory()
    capture_audit(caplog)
    assert sync_roles(user, PROVIDER, ["eng", "all"]) == (2, 0)
    assert Membership.objects.filter(user=user, tenant=tenant).exists()
    assert _sso_roles(user, tenant) == ["editor", "viewer"]
    assert sync_roles(user, PROVIDER, ["all"]) == (0, 1)
    assert _sso_roles(user, tenant) == ["viewer"]
    assert sync_roles(user, PROVIDER, []) == (0, 1)
    assert _sso_roles(user, tenant) == []
    actions = [e["action"] for e in audit_events(caplog)]
    assert actions.count("grant_created") == 2
    assert actions.count("grant_deleted") == 2


def test_manual_grants_and_other_providers_are_left_alone(mapped):
    tenant, editor, _ = mapped
    membership = MembershipFactory(tenant=tenant)
    Grant.objects.create(membership=membership, role=editor)
    assert sync_roles(membership.user, "saml", ["eng"]) == (0, 0)
    assert sync_roles(membership.user, PROVIDER, ["eng"]) == (0, 0)
    assert sync_roles(membership.user, PROVIDER, []) == (0, 0)
    assert Grant.objects.filter(membership=membership, source="manual").count() == 1


def test_no_membership_is_created_without_a_mapped_group(mapped):
    user = UserFactory()
    assert sync_roles(user, PROVIDER, ["unmapped"]) == (0, 0)
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    "claim",
    [None, 42, {"eng": True}, [None, 3, ""], ["x" * 300], "all"],
)
def test_malformed_claims_give_nothing_unexpected(mapped, claim):
    tenant, *_ = mapped
    user = UserFactory()
    sync_roles(user, PROVIDER, claim)
    expected = ["viewer"] if claim == "all" else []
    assert _sso_roles(user, tenant) == expected


def test_a_mapping_cannot_give_another_tenants_role(mapped):
    _, editor, _ = mapped
    mapping = SsoGroupRole(
        tenant=TenantFactory(), provider=PROVIDER, group="eng", role=editor
    )
    with pytest.raises(ValidationError):
        mapping.full_clean()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"groups": ["a"], "id_token": {"groups": ["b"]}}, ["a"]),
        ({"id_token": {"groups": ["b"]}, "userinfo": {"groups": ["c"]}}, ["b"]),
        ({"id_token": {"sub": "1"}, "userinfo": {"groups": ["c"]}}, ["c"]),
        ({"id_token": "not a mapping", "userinfo": None}, None),
        ({}, None),
    ],
)
def test_the_groups_claim_is_read_from_the_account_data(extra, expected):
    assert groups_claim(extra) == expected


def test_a_custom_claim_name_is_read_from_the_id_token(settings):
    settings.HARDENED_RBAC_SSO_GROUPS_CLAIM = "roles"
    assert groups_claim({"id_token": {"groups": ["a"], "roles": ["r"]}}) == ["r"]


def test_a_scim_tenant_gets_no_member_from_a_sign_in(mapped):
    """A tenant provisioning over SCIM decides its members; SSO maps roles."""
    tenant, *_ = mapped
    row, _ = create_token(tenant, "Okta")
    user = UserFactory()
    assert sync_roles(user, PROVIDER, ["eng"]) == (0, 0)
    assert not Membership.objects.filter(user=user).exists()

    member = MembershipFactory(tenant=tenant).user
    assert sync_roles(member, PROVIDER, ["eng"]) == (1, 0)
    assert _sso_roles(member, tenant) == ["editor"]

    revoke_token(row)
    assert sync_roles(user, PROVIDER, ["eng"]) == (1, 0)
    assert Membership.objects.filter(user=user, tenant=tenant).exists()


def test_sso_check(settings):
    assert checks.check_sso() == []
    settings.HARDENED_RBAC_SSO_GROUPS_CLAIM = ""
    assert [(m.id, m.msg) for m in checks.check_sso()] == [
        ("hardened_rbac.E013", checks.E013_MSG)
    ]
