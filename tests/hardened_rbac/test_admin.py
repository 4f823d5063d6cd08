import pytest
from django.contrib.auth.models import Permission
from django.utils.html import escape

from hardened_rbac import policies
from hardened_rbac.models import Grant, Role
from hardened_rbac.tenancy import use_tenant
from tests.factories import (
    MembershipFactory,
    TenantFactory,
    UserFactory,
    force_login_verified,
)
from tests.hardened_rbac.helpers import audit_events, capture_audit, grant_permissions
from tests.hardened_rbac.testapp.models import FeedPost, Follow

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


CHECK_ACCESS = "/admin/hardened_rbac/membership/check-access/"


def _check(client, user, tenant, policy, object_id):
    return client.post(
        CHECK_ACCESS,
        {
            "user": user.username,
            "tenant": tenant.pk,
            "policy": policy,
            "object_id": str(object_id),
        },
    )


@pytest.fixture
def feed():
    """A tenant with a member, a follower-only post and a private post."""
    tenant = TenantFactory()
    author, reader = UserFactory(), UserFactory()
    MembershipFactory(user=author, tenant=tenant)
    MembershipFactory(user=reader, tenant=tenant)
    with use_tenant(tenant):
        followers = FeedPost.objects.create(author=author, visibility="followers")
        Follow.objects.create(follower=reader, followee=author)
        private = FeedPost.objects.create(author=author, visibility="private")
    return tenant, reader, followers, private


def test_membership_changelist_links_to_check_access(admin_client):
    response = admin_client.get("/admin/hardened_rbac/membership/")
    assert CHECK_ACCESS.encode() in response.content
    assert admin_client.get(CHECK_ACCESS).status_code == 200


def test_check_access_names_the_rule_that_allowed(admin_client, feed, caplog):
    capture_audit(caplog)
    tenant, reader, followers, _ = feed
    response = _check(
        admin_client, reader, tenant, "view rbac_testapp.feedpost", followers.pk
    )
    decision = response.context["decision"]
    assert decision.allowed
    assert decision.rule == "FeedVisibility(visibility)"
    assert response.context["in_filter"] is True
    page = response.content.decode()
    assert "Allowed by FeedVisibility(visibility)" in page
    assert escape(decision.explain()) in page
    assert "+ FeedVisibility(visibility): the user follows the author" in page
    assert "The policy's queryset filter agrees: it lists this object" in page
    [event] = [e for e in audit_events(caplog) if e["event"] == "authz_admin"]
    assert event == {
        **event,
        "outcome": "success",
        "action": "access_check",
        "tenant": str(tenant.pk),
        "target": f"rbac_testapp.FeedPost:{followers.pk}",
        "checked_user": str(reader.pk),
        "policy": "view",
        "allowed": True,
        "rule": "FeedVisibility(visibility)",
    }


def test_check_access_explains_every_rule_that_denied(admin_client, feed, caplog):
    capture_audit(caplog)
    tenant, reader, _, private = feed
    response = _check(
        admin_client, reader, tenant, "view rbac_testapp.feedpost", private.pk
    )
    decision = response.context["decision"]
    assert not decision.allowed
    assert [(v.rule, v.allowed) for v in decision.verdicts] == [
        ("IsCreator(author)", False),
        ("FeedVisibility(visibility)", False),
    ]
    page = response.content.decode()
    assert "Denied: no rule allowed" in page
    assert "- IsCreator(author): the user did not create the object" in page
    assert (
        escape("- FeedVisibility(visibility): the item is private and the user") in page
    )
    assert "it leaves out this object" in page
    [event] = [e for e in audit_events(caplog) if e["event"] == "authz_admin"]
    assert (event["outcome"], event["allowed"], event["rule"]) == (
        "success",
        False,
        None,
    )


def test_check_access_evaluates_in_the_chosen_tenant(admin_client, feed):
    """A role held in another tenant does not count in the one checked."""
    tenant, reader, followers, _ = feed
    other = TenantFactory()
    grant_permissions(reader, other, "delete_feedpost")
    response = _check(
        admin_client, reader, tenant, "delete rbac_testapp.feedpost", followers.pk
    )
    assert not response.context["decision"].allowed
    grant_permissions(reader, tenant, "delete_feedpost")
    response = _check(
        admin_client, reader, tenant, "delete rbac_testapp.feedpost", followers.pk
    )
    assert (
        response.context["decision"].rule
        == "HasPermission(rbac_testapp.delete_feedpost)"
    )


@pytest.mark.parametrize("object_id", ["another tenant", "999999", "abc", "9" * 30])
def test_check_access_reports_a_foreign_or_missing_object_alike(
    admin_client, feed, caplog, object_id
):
    capture_audit(caplog)
    tenant, reader, followers, _ = feed
    other = TenantFactory()
    if object_id == "another tenant":
        object_id = str(followers.pk)
        tenant, other = other, tenant
    response = _check(
        admin_client, reader, tenant, "view rbac_testapp.feedpost", object_id
    )
    assert response.status_code == 200
    assert response.context["decision"] is None
    assert response.context["form"].errors == {
        "object_id": [f"No feed post has this id in tenant {tenant.slug}."]
    }
    [event] = [e for e in audit_events(caplog) if e["event"] == "authz_admin"]
    assert (event["outcome"], event["errors"], event["target"]) == (
        "failure",
        ["object_id"],
        None,
    )
    assert not [e for e in audit_events(caplog) if e["event"] == "authz_fail"]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("policy", "publish rbac_testapp.feedpost", "Select a valid choice."),
        ("policy", "", "This field is required."),
        ("user", "nobody-has-this-name", "No user has this username."),
        ("tenant", "999999", "Select a valid choice."),
    ],
)
def test_check_access_refuses_unknown_input_with_a_form_error(
    admin_client, feed, field, value, error
):
    tenant, reader, followers, _ = feed
    data = {
        "user": reader.username,
        "tenant": tenant.pk,
        "policy": "view rbac_testapp.feedpost",
        "object_id": followers.pk,
        field: value,
    }
    response = admin_client.post(CHECK_ACCESS, data)
    assert response.status_code == 200
    assert response.context["decision"] is None
    [message] = response.context["form"].errors[field]
    assert message.startswith(error)


def test_check_access_refuses_a_policy_undeclared_since_the_form_opened(
    admin_client, feed
):
    tenant, reader, followers, _ = feed
    policy = policies.get_policy("view", FeedPost)
    form = admin_client.get(CHECK_ACCESS).context["form"]
    assert "view rbac_testapp.feedpost" in dict(form.fields["policy"].choices)
    policies.unregister(policy)
    try:
        response = _check(
            admin_client, reader, tenant, "view rbac_testapp.feedpost", followers.pk
        )
    finally:
        policies.declare(policy.action, policy.model, policy.rules)
    assert response.status_code == 200
    [message] = response.context["form"].errors["policy"]
    assert message.startswith("Select a valid choice. view rbac_testapp.feedpost")


def test_check_access_is_refused_to_non_staff(client, feed):
    tenant, reader, followers, _ = feed
    user = UserFactory(is_staff=False)
    force_login_verified(client, user)
    response = _check(
        client, reader, tenant, "view rbac_testapp.feedpost", followers.pk
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "decision" not in (response.context or {})


def test_check_access_is_refused_to_staff_who_cannot_view_memberships(
    client, feed, caplog
):
    capture_audit(caplog)
    tenant, reader, followers, _ = feed
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_feedpost"))
    force_login_verified(client, staff)
    assert client.get(CHECK_ACCESS).status_code == 403
    response = _check(
        client, reader, tenant, "view rbac_testapp.feedpost", followers.pk
    )
    assert response.status_code == 403
    assert not [e for e in audit_events(caplog) if e["event"] == "authz_admin"]


def test_check_access_offers_only_policies_on_models_the_staff_may_view(client, feed):
    tenant, reader, followers, _ = feed
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="view_membership"),
        Permission.objects.get(codename="view_document"),
    )
    force_login_verified(client, staff)
    form = client.get(CHECK_ACCESS).context["form"]
    assert list(dict(form.fields["policy"].choices)) == ["view rbac_testapp.document"]
    response = _check(
        client, reader, tenant, "view rbac_testapp.feedpost", followers.pk
    )
    assert response.context["decision"] is None
    assert list(response.context["form"].errors) == ["policy"]
