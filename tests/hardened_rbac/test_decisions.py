from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from hardened_rbac import checks, policies
from hardened_rbac.internal import decisions
from hardened_rbac.models import Grant, Membership, Role
from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory
from tests.hardened_rbac.testapp.models import Document, FeedPost, Follow, Sheet

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    tenant = TenantFactory()
    author, reader = (MembershipFactory(tenant=tenant).user for _ in "ab")
    with use_tenant(tenant):
        post = FeedPost.objects.create(author=author, visibility="followers")
        document = Document.objects.create(title="d")
    return tenant, author, reader, post, document


def _asks(tenant, user, action, obj):
    with use_tenant(tenant), CaptureQueriesContext(connection) as queries:
        answer = policies.is_allowed(user, action, obj)
    return answer, len(queries)


def test_a_cached_decision_needs_no_query(scene):
    tenant, _, reader, post, _ = scene
    assert _asks(tenant, reader, "view", post)[0] is False
    assert _asks(tenant, reader, "view", post) == (False, 0)


def test_a_follow_invalidates_the_cached_decision(scene):
    tenant, author, reader, post, _ = scene
    assert _asks(tenant, reader, "view", post)[0] is False
    with use_tenant(tenant):
        follow = Follow.objects.create(follower=reader, followee=author)
    assert _asks(tenant, reader, "view", post)[0] is True
    with use_tenant(tenant):
        follow.delete()
    assert _asks(tenant, reader, "view", post)[0] is False


def test_losing_membership_invalidates_the_cached_decision(scene):
    tenant, _, reader, post, _ = scene
    with use_tenant(tenant):
        FeedPost.objects.filter(pk=post.pk).update(visibility="tenant")
        post.refresh_from_db()
    assert _asks(tenant, reader, "view", post)[0] is True
    membership = reader.hardened_memberships.get()
    membership.is_active = False
    membership.save()
    assert _asks(tenant, reader, "view", post)[0] is False


def test_grants_and_role_permissions_invalidate(scene):
    tenant, _, reader, post, _ = scene
    role = Role.objects.create(name="moderator", tenant=tenant)
    assert _asks(tenant, reader, "delete", post)[0] is False
    grant = Grant.objects.create(
        membership=reader.hardened_memberships.get(), role=role
    )
    assert _asks(tenant, reader, "delete", post)[0] is False
    role.permissions.add(Permission.objects.get(codename="delete_feedpost"))
    reader.__dict__.pop("_hardened_rbac_tenant_perms", None)
    assert _asks(tenant, reader, "delete", post)[0] is True
    grant.delete()
    reader.__dict__.pop("_hardened_rbac_tenant_perms", None)
    assert _asks(tenant, reader, "delete", post)[0] is False


def test_object_permissions_and_groups_invalidate(scene):
    tenant, _, reader, _, document = scene
    assert _asks(tenant, reader, "view", document)[0] is False
    assign_perm("view_document", reader, document)
    assert _asks(tenant, reader, "view", document)[0] is True
    remove_perm("view_document", reader, document)
    assert _asks(tenant, reader, "view", document)[0] is False
    group = Group.objects.create(name="readers")
    assign_perm("view_document", group, document)
    assert _asks(tenant, reader, "view", document)[0] is False
    reader.groups.add(group)
    assert _asks(tenant, reader, "view", document)[0] is True
    reader.groups.remove(group)
    assert _asks(tenant, reader, "view", document)[0] is False


def test_direct_permission_tables_are_used():
    tenant = TenantFactory()
    user = MembershipFactory(tenant=tenant).user
    with use_tenant(tenant):
        document = Document.objects.create(title="d")
        sheet = Sheet.objects.create(title="s")
    assign_perm("view_document", user, document)
    assign_perm("view_sheet", user, sheet)
    with use_tenant(tenant):
        doc_sql = str(policies.allowed(user, "view", Document).query)
        assert list(policies.allowed(user, "view", Document)) == [document]
        assert list(policies.allowed(user, "view", Sheet)) == [sheet]
    assert "rbac_testapp_documentuserobjectpermission" in doc_sql
    assert "guardian_userobjectpermission" not in doc_sql


def test_an_object_permission_does_not_cross_tenants():
    user = MembershipFactory().user
    home = user.hardened_memberships.get().tenant
    other = TenantFactory()
    with use_tenant(other):
        document = Document.objects.create(title="d")
    assign_perm("view_document", user, document)
    with use_tenant(home):
        assert list(policies.allowed(user, "view", Document)) == []
        assert not policies.is_allowed(user, "view", document)


def test_cache_failure_decides_without_the_cache(scene):
    tenant, _, reader, post, _ = scene
    with mock.patch.object(decisions, "_lookup", side_effect=ConnectionError):
        assert _asks(tenant, reader, "view", post)[0] is False
        post.visibility = "tenant"
        assert _asks(tenant, reader, "view", post)[0] is True


def test_an_evicted_version_is_replaced_not_reset(scene):
    tenant, _, reader, _, _ = scene
    first = decisions.versions(tenant.pk, reader.pk)
    decisions._cache().delete(decisions.tenant_key(tenant.pk))
    second = decisions.versions(tenant.pk, reader.pk)
    assert first[0] == second[0]
    assert first[1] != second[1]
    assert second[1]


def test_no_tenant_means_no(scene):
    _, author, _, post, _ = scene
    assert policies.is_allowed(author, "view", post) is False


def test_decision_cache_checks(settings):
    assert checks.check_decision_cache() == []
    settings.HARDENED_RBAC_DECISION_CACHE = "missing"
    settings.HARDENED_RBAC_DECISION_CACHE_TIMEOUT = 0
    assert [(m.id, m.msg) for m in checks.check_decision_cache()] == [
        ("hardened_rbac.E008", checks.E008_MSG),
        ("hardened_rbac.E009", checks.E009_MSG),
    ]
    settings.HARDENED_RBAC_DECISION_CACHE = "default"
    settings.HARDENED_RBAC_DECISION_CACHE_TIMEOUT = True
    assert [m.id for m in checks.check_decision_cache()] == ["hardened_rbac.E009"]


@pytest.mark.parametrize("shared", [1, 25])
def test_listing_allowed_objects_is_one_query(shared):
    tenant = TenantFactory()
    user = MembershipFactory(tenant=tenant).user
    with use_tenant(tenant):
        documents = Document.objects.bulk_create(
            [Document(title=str(i)) for i in range(40)]
        )
    for document in documents[:shared]:
        assign_perm("view_document", user, document)
    with use_tenant(tenant):
        list(policies.allowed(user, "view", Document))
        with CaptureQueriesContext(connection) as queries:
            listed = list(policies.allowed(user, "view", Document))
    assert len(listed) == shared
    assert len(queries) == 1


def test_a_cached_decision_ends_when_its_grant_expires(scene, settings):
    """Nothing is saved at expiry, yet the cached answer stops counting."""
    settings.HARDENED_RBAC_DECISION_CACHE_TIMEOUT = 3600
    tenant, _, reader, post, _ = scene
    role = Role.objects.create(name="moderator", tenant=tenant)
    role.permissions.add(Permission.objects.get(codename="delete_feedpost"))
    expires_at = timezone.now() + timedelta(minutes=1)
    Grant.objects.create(
        membership=reader.hardened_memberships.get(), role=role, expires_at=expires_at
    )
    assert _asks(tenant, reader, "delete", post)[0] is True
    assert _asks(tenant, reader, "delete", post) == (True, 0)

    later = expires_at + timedelta(seconds=1)
    reader.__dict__.pop("_hardened_rbac_tenant_perms", None)
    with (
        mock.patch("django.utils.timezone.now", return_value=later),
        mock.patch("time.time", return_value=later.timestamp()),
    ):
        assert _asks(tenant, reader, "delete", post)[0] is False
        assert not policies.authorize(reader, "delete", post)


def test_a_decision_without_expiring_grants_keeps_the_full_timeout(scene):
    tenant, _, reader, _, _ = scene
    role = Role.objects.create(name="moderator", tenant=tenant)
    Grant.objects.create(membership=reader.hardened_memberships.get(), role=role)
    assert decisions._lifetime(reader.pk, tenant.pk) == (None, 300)
    assert decisions._lifetime(None, tenant.pk) == (None, 300)


def test_bulk_updates_invalidate_cached_decisions(scene):
    tenant, _, reader, post, _ = scene
    with use_tenant(tenant):
        FeedPost.objects.filter(pk=post.pk).update(visibility="tenant")
        post.refresh_from_db()
    role = Role.objects.create(name="moderator", tenant=tenant)
    role.permissions.add(Permission.objects.get(codename="delete_feedpost"))
    membership = reader.hardened_memberships.get()
    grant = Grant.objects.create(membership=membership, role=role)
    assert _asks(tenant, reader, "delete", post)[0] is True

    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now())
    reader.__dict__.pop("_hardened_rbac_tenant_perms", None)
    assert _asks(tenant, reader, "delete", post)[0] is False

    assert _asks(tenant, reader, "view", post)[0] is True
    Membership.objects.filter(pk=membership.pk).update(is_active=False)
    assert _asks(tenant, reader, "view", post)[0] is False


def test_a_bulk_role_update_replaces_its_scope_version(scene):
    tenant, _, reader, _, _ = scene
    sitewide = Role.objects.create(name="moderator")
    own = Role.objects.create(name="editor", tenant=tenant)
    site, in_tenant, _ = decisions.versions(tenant.pk, reader.pk)
    Role.objects.filter(pk=own.pk).update(description="edits")
    assert decisions.versions(tenant.pk, reader.pk)[:2] != (site, in_tenant)
    assert decisions.versions(tenant.pk, reader.pk)[0] == site
    Role.objects.filter(pk=sitewide.pk).update(description="moderates")
    assert decisions.versions(tenant.pk, reader.pk)[0] != site
