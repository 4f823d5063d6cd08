import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser, Permission

from hardened_rbac import checks, policies
from hardened_rbac.exceptions import PolicyConflict, PolicyMissing, TenantNotSet
from hardened_rbac.models import Grant, Role
from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import (
    FeedPost,
    Follow,
    GroupMembership,
    GroupPost,
    LooseNote,
    Project,
    SocialGroup,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed():
    tenant = TenantFactory(slug="acme")
    author, follower, member = (MembershipFactory(tenant=tenant).user for _ in "abc")
    outsider = UserFactory()
    with use_tenant(tenant):
        Follow.objects.create(follower=follower, followee=author)
        posts = {
            v: FeedPost.objects.create(author=author, visibility=v, body=v)
            for v in FeedPost.VISIBILITIES
        }
    return tenant, author, follower, member, outsider, posts


def _visible(user, tenant):
    with use_tenant(tenant):
        return sorted(p.body for p in policies.allowed(user, "view", FeedPost))


def test_feed_visibility_per_viewer(feed):
    tenant, author, follower, member, outsider, _ = feed
    assert _visible(author, tenant) == ["followers", "private", "public", "tenant"]
    assert _visible(follower, tenant) == ["followers", "public", "tenant"]
    assert _visible(member, tenant) == ["public", "tenant"]
    assert _visible(outsider, tenant) == ["public"]
    assert _visible(AnonymousUser(), tenant) == ["public"]


def test_decisions_explain_which_rule_decided(feed):
    tenant, _author, follower, member, _, posts = feed
    with use_tenant(tenant):
        allowed = policies.authorize(follower, "view", posts["followers"])
        denied = policies.authorize(member, "view", posts["private"])
    assert allowed.allowed
    assert allowed.rule == "FeedVisibility(visibility)"
    assert allowed.reason == "the user follows the author"
    assert not denied
    assert denied.rule is None
    assert denied.explain() == (
        "denied: view rbac_testapp.FeedPost: no rule allowed\n"
        "  - IsCreator(author): the user did not create the object\n"
        "  - FeedVisibility(visibility): the item is private and the user may not "
        "see it"
    )


def test_nothing_is_decided_without_a_tenant_or_across_tenants(feed, caplog):
    _tenant, author, *_, posts = feed
    decision = policies.authorize(author, "view", posts["public"])
    assert not decision
    assert decision.reason == "there is no current tenant"
    with pytest.raises(TenantNotSet):
        policies.allowed(author, "view", FeedPost)
    capture_audit(caplog)
    other = MembershipFactory(user=author).tenant
    with use_tenant(other):
        decision = policies.authorize(author, "view", posts["public"])
        assert list(policies.allowed(author, "view", FeedPost)) == []
    assert decision.reason == "the object is in another tenant"
    (event,) = [e for e in audit_events(caplog) if e["event"] == "authz_fail"]
    assert (event["event"], event["action"], event["outcome"]) == (
        "authz_fail",
        "cross_tenant_object",
        "denied",
    )


def test_undeclared_action_is_refused(feed):
    tenant, author, *_, posts = feed
    with use_tenant(tenant):
        with pytest.raises(PolicyMissing):
            policies.authorize(author, "publish", posts["public"])
        with pytest.raises(PolicyMissing):
            policies.allowed(author, "publish", FeedPost)
        note = LooseNote(tenant=tenant, body="x")
        with pytest.raises(PolicyMissing):
            policies.authorize(author, "view", note)


def test_declaring_twice_conflicts():
    with pytest.raises(PolicyConflict):
        policies.declare("view", FeedPost, [policies.IsCreator()])


def test_role_permission_rule_counts_in_its_tenant_only(feed):
    tenant, _author, _, member, _, posts = feed
    role = Role.objects.create(name="moderator")
    role.permissions.add(Permission.objects.get(codename="delete_feedpost"))
    with use_tenant(tenant):
        assert not policies.is_allowed(member, "delete", posts["public"])
    Grant.objects.create(membership=member.hardened_memberships.get(), role=role)
    member = type(member).objects.get(pk=member.pk)
    with use_tenant(tenant):
        decision = policies.authorize(member, "delete", posts["public"])
    assert decision.rule == "HasPermission(rbac_testapp.delete_feedpost)"


def test_group_rules(feed):
    tenant, author, follower, member, outsider, _ = feed
    with use_tenant(tenant):
        group = SocialGroup.objects.create(name="g")
        GroupMembership.objects.create(group=group, user=follower, role="member")
        GroupMembership.objects.create(group=group, user=member, role="moderator")
        post = GroupPost.objects.create(group=group, author=follower)
        assert policies.is_allowed(follower, "view", post)
        assert not policies.is_allowed(author, "view", post)
        assert policies.is_allowed(member, "delete", post)
        assert policies.is_allowed(follower, "delete", post)
        assert not policies.is_allowed(follower, "moderate", group)
        assert list(policies.allowed(member, "moderate", SocialGroup)) == [group]
        assert list(policies.allowed(outsider, "view", SocialGroup)) == []


def test_all_of_needs_every_rule(feed):
    tenant, author, *_ = feed
    with use_tenant(tenant):
        project = Project.objects.create(name="p", owner=author)
        decision = policies.authorize(author, "edit", project)
    assert not decision
    assert "HasPermission(rbac_testapp.change_project)" in decision.verdicts[0].reason


MIDDLEWARE = [
    *django_settings.MIDDLEWARE,
    "hardened_rbac.middleware.TenantMiddleware",
    "hardened_rbac.middleware.PolicyRequiredMiddleware",
]


@pytest.fixture
def site(settings):
    settings.ROOT_URLCONF = "tests.hardened_rbac.urls"
    settings.MIDDLEWARE = MIDDLEWARE


def test_views_use_the_policy_and_hide_what_is_not_allowed(client, feed, site):
    _tenant, _author, _follower, member, _, posts = feed
    client.force_login(member)
    assert client.get("/t/acme/feed/").json() == {"posts": ["public", "tenant"]}
    assert client.get(f"/t/acme/feed/{posts['tenant'].pk}/").json() == {
        "body": "tenant"
    }
    for guess in [posts["private"].pk, posts["followers"].pk, 999999, "abc", "1 OR 1"]:
        assert client.get(f"/t/acme/feed/{guess}/").status_code == 404


def test_view_without_policy_is_refused_and_exempt_view_allowed(
    client, feed, site, caplog
):
    _, _, _, member, *_ = feed
    client.force_login(member)
    capture_audit(caplog)
    assert client.get("/t/acme/whoami/").status_code == 403
    assert client.get("/t/acme/health/").json() == {"ok": True}
    (event,) = audit_events(caplog)
    assert event["action"] == "view_without_policy"
    assert event["target"] == "view:tests.hardened_rbac.urls.whoami"


def test_check_lists_views_without_policy(site):
    messages = checks.check_views_without_policy()
    routes = sorted(m.msg for m in messages)
    assert routes == [
        checks.W003_MSG % ("tests.hardened_rbac.urls.projects", "projects/"),
        checks.W003_MSG % ("tests.hardened_rbac.urls.whoami", "whoami/"),
    ]
    assert {m.id for m in messages} == {"hardened_rbac.W003"}


def test_check_is_silent_without_the_middleware(settings):
    settings.ROOT_URLCONF = "tests.hardened_rbac.urls"
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != checks.POLICY_MIDDLEWARE
    ]
    assert checks.check_views_without_policy() == []


def test_check_refuses_a_bad_exempt_setting(settings):
    settings.HARDENED_RBAC_POLICY_EXEMPT_MODULES = "django.contrib.admin"
    assert [(m.id, m.msg) for m in checks.check_views_without_policy()] == [
        ("hardened_rbac.E007", checks.E007_MSG)
    ]
