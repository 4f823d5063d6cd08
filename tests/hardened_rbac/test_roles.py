import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone

from hardened_rbac.backends import TenantRoleBackend
from hardened_rbac.exceptions import GrantTenantMismatch
from hardened_rbac.internal.grants import forget
from hardened_rbac.models import Grant, Membership, Role
from hardened_rbac.roles import has_tenant_perm, tenant_permissions
from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import Project

pytestmark = pytest.mark.django_db

PERM = "rbac_testapp.change_project"


def _role(tenant=None, *codenames):
    role = Role.objects.create(tenant=tenant, name=f"role-{Role.objects.count()}")
    for codename in codenames or ("change_project",):
        role.permissions.add(Permission.objects.get(codename=codename))
    return role


def test_nothing_is_allowed_without_a_grant():
    membership = MembershipFactory()
    assert tenant_permissions(membership.user, membership.tenant) == frozenset()
    assert not has_tenant_perm(membership.user, PERM, membership.tenant)


def test_a_grant_allows_its_roles_permissions_in_its_tenant_only():
    user = UserFactory()
    here = MembershipFactory(user=user)
    there = MembershipFactory(user=user)
    Grant.objects.create(membership=here, role=_role())
    assert has_tenant_perm(user, PERM, here.tenant)
    assert not has_tenant_perm(user, PERM, there.tenant)
    assert not has_tenant_perm(user, "rbac_testapp.delete_project", here.tenant)


def test_current_tenant_is_used_when_none_is_passed():
    membership = MembershipFactory()
    Grant.objects.create(membership=membership, role=_role())
    assert not has_tenant_perm(membership.user, PERM)
    with use_tenant(membership.tenant):
        assert has_tenant_perm(membership.user, PERM)


@pytest.mark.parametrize(
    ("attribute", "field", "value"),
    [
        ("membership", "is_active", False),
        ("tenant", "is_active", False),
        ("grant", "expires_at", "now"),
        ("user", "is_active", False),
    ],
)
def test_grants_stop_counting(attribute, field, value):
    membership = MembershipFactory()
    grant = Grant.objects.create(membership=membership, role=_role())
    target = {
        "membership": membership,
        "tenant": membership.tenant,
        "grant": grant,
        "user": membership.user,
    }[attribute]
    setattr(target, field, timezone.now() if value == "now" else value)
    target.save()
    user = type(membership.user).objects.get(pk=membership.user_id)
    tenant = type(membership.tenant).objects.get(pk=membership.tenant_id)
    assert not has_tenant_perm(user, PERM, tenant)


def test_anonymous_user_has_nothing():
    from django.contrib.auth.models import AnonymousUser

    assert tenant_permissions(AnonymousUser(), TenantFactory()) == frozenset()


def test_a_role_of_another_tenant_cannot_be_granted():
    membership = MembershipFactory()
    foreign_role = _role(TenantFactory())
    with pytest.raises(GrantTenantMismatch):
        Grant.objects.create(membership=membership, role=foreign_role)
    grant = Grant(membership=membership, role=foreign_role)
    with pytest.raises(ValidationError) as raised:
        grant.full_clean()
    assert raised.value.error_dict["role"][0].code == "tenant_mismatch"
    assert not Grant.objects.exists()


def test_a_tenants_own_role_can_be_granted_in_it():
    membership = MembershipFactory()
    Grant.objects.create(membership=membership, role=_role(membership.tenant))
    assert has_tenant_perm(membership.user, PERM, membership.tenant)


def test_backend_answers_has_perm_in_the_current_tenant_only(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "hardened_rbac.backends.TenantRoleBackend",
    ]
    user = UserFactory()
    here = MembershipFactory(user=user)
    there = MembershipFactory(user=user)
    Grant.objects.create(membership=here, role=_role())
    assert not user.has_perm(PERM)
    with use_tenant(here.tenant):
        assert user.has_perm(PERM)
        project = Project.objects.create(name="p")
    forget(user)
    with use_tenant(there.tenant):
        assert not user.has_perm(PERM)
        assert not user.has_perm(PERM, project)
    with use_tenant(here.tenant):
        assert user.has_perm(PERM, project)
    assert TenantRoleBackend().authenticate(None) is None


def test_role_grant_and_membership_changes_are_audited(caplog):
    capture_audit(caplog)
    membership = MembershipFactory()
    role = _role(membership.tenant)
    grant = Grant.objects.create(membership=membership, role=role)
    role.permissions.clear()
    grant.delete()
    membership.delete()
    actions = [(e["event"], e["action"]) for e in audit_events(caplog)]
    assert actions == [
        ("authz_change", "membership_created"),
        ("privilege_permissions_changed", "role_created"),
        ("privilege_permissions_changed", "role_permissions_add"),
        ("authz_change", "grant_created"),
        ("privilege_permissions_changed", "role_permissions_clear"),
        ("authz_change", "grant_deleted"),
        ("authz_change", "membership_deleted"),
    ]
    grant_event = audit_events(caplog)[3]
    assert grant_event["tenant"] == str(membership.tenant_id)
    assert grant_event["user"] == str(membership.user_id)
    assert grant_event["outcome"] == "success"
    assert set(grant_event) >= {"actor", "target", "ip"}


def test_bulk_created_grants_are_audited(caplog):
    membership = MembershipFactory()
    role = _role(membership.tenant)
    other = MembershipFactory(tenant=membership.tenant)
    capture_audit(caplog)
    caplog.clear()
    created = Grant.objects.bulk_create([Grant(membership=other, role=role)])

    events = audit_events(caplog)
    assert [(e["event"], e["action"], e["target"]) for e in events] == [
        ("authz_change", "grant_created", f"grant:{created[0].pk}")
    ]
    assert events[0]["user"] == str(other.user_id)
    assert events[0]["tenant"] == str(membership.tenant_id)


def test_bulk_updates_name_the_rows_and_fields(caplog):
    membership = MembershipFactory()
    role = _role(membership.tenant)
    grant = Grant.objects.create(membership=membership, role=role)
    capture_audit(caplog)
    caplog.clear()
    Membership.objects.filter(pk=membership.pk).update(is_active=False)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now())
    Role.objects.filter(pk=role.pk).update(description="changed")
    assert [
        (e["event"], e["action"], e["target"], e["fields"])
        for e in audit_events(caplog)
    ] == [
        (
            "authz_change",
            "membership_updated",
            f"membership:{membership.pk}",
            ["is_active"],
        ),
        ("authz_change", "grant_updated", f"grant:{grant.pk}", ["expires_at"]),
        (
            "privilege_permissions_changed",
            "role_updated",
            f"role:{role.pk}",
            ["description"],
        ),
    ]


def test_bulk_changes_cannot_grant_a_role_across_tenants():
    membership = MembershipFactory()
    foreign = TenantFactory()
    own_role, foreign_role = _role(membership.tenant), _role(foreign)
    grant = Grant.objects.create(membership=membership, role=own_role)
    with pytest.raises(GrantTenantMismatch):
        Grant.objects.filter(pk=grant.pk).update(role=foreign_role)
    with pytest.raises(GrantTenantMismatch):
        Role.objects.filter(pk=own_role.pk).update(tenant=foreign)
    with pytest.raises(GrantTenantMismatch):
        Grant.objects.bulk_create([Grant(membership=membership, role=foreign_role)])
    grant.refresh_from_db()
    own_role.refresh_from_db()
    assert (grant.role_id, own_role.tenant_id) == (own_role.pk, membership.tenant_id)
    assert Grant.objects.count() == 1
