"""Property tests: the per-object check and the queryset filter agree.

Hypothesis builds small worlds of two tenants, users, memberships, roles and
grants, follows, groups, posts and conversations, then asks every declared
policy for every user (and an anonymous visitor) in every tenant.

Each world costs dozens of queries, so CI builds a small number of them;
``HYPOTHESIS_POLICY_EXAMPLES=1000`` searches longer.
"""

import os

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_rbac import policies
from hardened_rbac.internal.grants import forget
from hardened_rbac.models import Grant, Membership, Role
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import TenantFactory, UserFactory
from tests.hardened_rbac.testapp.models import (
    Conversation,
    DirectMessage,
    Document,
    FeedPost,
    Follow,
    GroupMembership,
    GroupPost,
    Project,
    Sheet,
    SocialGroup,
)

pytestmark = pytest.mark.django_db

USERS = 4
TENANTS = 2
user_ix = st.integers(0, USERS - 1)
tenant_ix = st.integers(0, TENANTS - 1)

world = st.fixed_dictionaries(
    {
        "members": st.lists(st.tuples(user_ix, tenant_ix, st.booleans()), max_size=8),
        "grants": st.lists(st.tuples(user_ix, tenant_ix), max_size=3),
        "follows": st.lists(st.tuples(tenant_ix, user_ix, user_ix), max_size=6),
        "posts": st.lists(
            st.tuples(tenant_ix, user_ix, st.sampled_from(FeedPost.VISIBILITIES)),
            max_size=8,
        ),
        "groups": st.lists(tenant_ix, max_size=3),
        "group_members": st.lists(
            st.tuples(
                st.integers(0, 2), user_ix, st.sampled_from(GroupMembership.ROLES)
            ),
            max_size=6,
        ),
        "group_posts": st.lists(st.tuples(st.integers(0, 2), user_ix), max_size=4),
        "conversations": st.lists(
            st.tuples(tenant_ix, st.frozensets(user_ix, max_size=3)), max_size=3
        ),
        "messages": st.lists(st.tuples(st.integers(0, 2), user_ix), max_size=4),
        "projects": st.lists(st.tuples(tenant_ix, user_ix), max_size=4),
        "documents": st.lists(tenant_ix, max_size=3),
        "shares": st.lists(
            st.tuples(st.integers(0, 2), user_ix, st.booleans(), st.booleans()),
            max_size=5,
        ),
    }
)

CHECKED = [
    ("view", FeedPost),
    ("delete", FeedPost),
    ("view", SocialGroup),
    ("moderate", SocialGroup),
    ("view", GroupPost),
    ("delete", GroupPost),
    ("view", Conversation),
    ("view", DirectMessage),
    ("edit", Project),
    ("view", Document),
    ("view", Sheet),
]


def _build(spec, users, tenants):
    role = Role.objects.create(name="moderators")
    role.permissions.add(
        Permission.objects.get(codename="delete_feedpost"),
        Permission.objects.get(codename="change_project"),
    )
    for u, t, active in spec["members"]:
        Membership.objects.update_or_create(
            user=users[u], tenant=tenants[t], defaults={"is_active": active}
        )
    for u, t in spec["grants"]:
        membership, _ = Membership.objects.get_or_create(
            user=users[u], tenant=tenants[t]
        )
        Grant.objects.get_or_create(membership=membership, role=role)
    groups = []
    for t in spec["groups"]:
        with use_tenant(tenants[t]):
            groups.append(SocialGroup.objects.create(name="g"))
    conversations = []
    for t, people in spec["conversations"]:
        with use_tenant(tenants[t]):
            conversation = Conversation.objects.create()
            conversation.participants.set([users[u] for u in people])
            conversations.append(conversation)
    for t, follower, followee in spec["follows"]:
        with use_tenant(tenants[t]):
            Follow.objects.create(follower=users[follower], followee=users[followee])
    for t, author, visibility in spec["posts"]:
        with use_tenant(tenants[t]):
            FeedPost.objects.create(author=users[author], visibility=visibility)
    for g, u, group_role in spec["group_members"]:
        if g < len(groups):
            with use_tenant(groups[g].tenant):
                GroupMembership.objects.create(
                    group=groups[g], user=users[u], role=group_role
                )
    for g, u in spec["group_posts"]:
        if g < len(groups):
            with use_tenant(groups[g].tenant):
                GroupPost.objects.create(group=groups[g], author=users[u])
    for c, u in spec["messages"]:
        if c < len(conversations):
            with use_tenant(conversations[c].tenant):
                DirectMessage.objects.create(
                    conversation=conversations[c], sender=users[u]
                )
    for t, u in spec["projects"]:
        with use_tenant(tenants[t]):
            Project.objects.create(name="p", owner=users[u])
    documents, sheets = [], []
    for t in spec["documents"]:
        with use_tenant(tenants[t]):
            documents.append(Document.objects.create(title="d"))
            sheets.append(Sheet.objects.create(title="s"))
    for d, u, via_group, on_sheet in spec["shares"]:
        if d >= len(documents):
            continue
        target = sheets[d] if on_sheet else documents[d]
        perm = "view_sheet" if on_sheet else "view_document"
        if via_group:
            group, _ = Group.objects.get_or_create(name=f"group-{u}")
            users[u].groups.add(group)
            assign_perm(perm, group, target)
        else:
            assign_perm(perm, users[u], target)


EXAMPLES = int(os.environ.get("HYPOTHESIS_POLICY_EXAMPLES", "30"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=world)
def test_object_check_and_queryset_filter_agree_and_stay_in_tenant(spec):
    with transaction.atomic():
        users = [UserFactory() for _ in range(USERS)]
        tenants = [TenantFactory() for _ in range(TENANTS)]
        _build(spec, users, tenants)
        with unscoped(reason="property test"):
            everything = {model: list(model.objects.all()) for _, model in CHECKED}
        for tenant in tenants:
            with use_tenant(tenant):
                viewers: list = [*users, AnonymousUser()]
                for user in viewers:
                    if user.is_authenticated:
                        forget(user)
                    for action, model in CHECKED:
                        listed = policies.allowed(user, action, model)
                        listed_ids = set(listed.values_list("pk", flat=True))
                        checked_ids = {
                            obj.pk
                            for obj in everything[model]
                            if policies.authorize(user, action, obj).allowed
                        }
                        assert listed_ids == checked_ids, (action, model)
                        assert all(
                            obj.tenant_id == tenant.pk
                            for obj in everything[model]
                            if obj.pk in listed_ids
                        )
        transaction.set_rollback(True)
