"""Property tests: the per-object check and the queryset filter agree.

Hypothesis builds small worlds of two tenants (either may be inactive),
users (some inactive), active and inactive memberships, tenant-owned and
site-wide roles with varied permissions, grants that never expire, have
expired or expire later, follows, groups, posts and conversations, then asks
every declared policy for every user (and an anonymous visitor) in every
tenant. The permissions each user holds in each tenant are also checked
against an account kept apart from the database.

Each world costs dozens of queries, so CI builds a small number of them;
``HYPOTHESIS_POLICY_EXAMPLES=1000`` searches longer.
"""

import os
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_rbac import policies
from hardened_rbac.exceptions import GrantTenantMismatch
from hardened_rbac.internal.grants import forget, permissions_in
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
ROLES = 4
user_ix = st.integers(0, USERS - 1)
tenant_ix = st.integers(0, TENANTS - 1)
role_ix = st.integers(0, ROLES - 1)

# The first two are asked by HasPermission rules; the others only fill roles.
CODENAMES = ["delete_feedpost", "change_project", "view_document", "add_label"]
EXPIRIES = [None, timedelta(hours=-1), timedelta(hours=1)]

world = st.fixed_dictionaries(
    {
        "inactive_tenants": st.frozensets(tenant_ix, max_size=1),
        "inactive_users": st.frozensets(user_ix, max_size=1),
        "members": st.lists(st.tuples(user_ix, tenant_ix, st.booleans()), max_size=8),
        "roles": st.lists(
            st.tuples(
                st.none() | tenant_ix,
                st.frozensets(st.sampled_from(CODENAMES), max_size=3),
            ),
            min_size=1,
            max_size=ROLES,
        ),
        "grants": st.lists(
            st.tuples(user_ix, tenant_ix, role_ix, st.sampled_from(EXPIRIES)),
            max_size=5,
        ),
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


def _build_access(spec, users, tenants):
    """Store the users, tenants, memberships, roles and grants of ``spec``.

    A grant of one tenant's role on another tenant's membership must be
    refused. Returns the permissions each (user, tenant) pair should hold,
    worked out from ``spec`` alone.
    """
    for t in spec["inactive_tenants"]:
        tenants[t].is_active = False
        tenants[t].save(update_fields=["is_active"])
    for u in spec["inactive_users"]:
        users[u].is_active = False
        users[u].save(update_fields=["is_active"])
    roles = []
    for r, (t, codenames) in enumerate(spec["roles"]):
        role = Role.objects.create(
            name=f"role-{r}", tenant=None if t is None else tenants[t]
        )
        role.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="rbac_testapp", codename__in=codenames
            )
        )
        roles.append(role)

    active: dict[tuple[int, int], bool] = {}
    for u, t, is_active in spec["members"]:
        Membership.objects.update_or_create(
            user=users[u], tenant=tenants[t], defaults={"is_active": is_active}
        )
        active[u, t] = is_active
    lasting: dict[tuple[int, int, int], bool] = {}
    now = timezone.now()
    for u, t, r, expiry in spec["grants"]:
        membership, _ = Membership.objects.get_or_create(
            user=users[u], tenant=tenants[t]
        )
        active.setdefault((u, t), True)
        r %= len(roles)
        expires_at = None if expiry is None else now + expiry
        if spec["roles"][r][0] not in (None, t):
            with pytest.raises(GrantTenantMismatch):
                Grant.objects.update_or_create(
                    membership=membership,
                    role=roles[r],
                    defaults={"expires_at": expires_at},
                )
            continue
        Grant.objects.update_or_create(
            membership=membership, role=roles[r], defaults={"expires_at": expires_at}
        )
        lasting[u, t, r] = expiry is None or expiry > timedelta(0)

    held: dict[tuple[int, int], set[str]] = {}
    for u in range(USERS):
        for t in range(TENANTS):
            counts = (
                u not in spec["inactive_users"]
                and t not in spec["inactive_tenants"]
                and active.get((u, t), False)
            )
            held[u, t] = {
                f"rbac_testapp.{codename}"
                for (gu, gt, r), unexpired in lasting.items()
                if counts and unexpired and (gu, gt) == (u, t)
                for codename in spec["roles"][r][1]
            }
    return held


def _build(spec, users, tenants):
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
        held = _build_access(spec, users, tenants)
        _build(spec, users, tenants)
        with unscoped(reason="property test"):
            everything = {model: list(model.objects.all()) for _, model in CHECKED}
        for t, tenant in enumerate(tenants):
            with use_tenant(tenant):
                viewers: list = [*users, AnonymousUser()]
                for u, user in enumerate(viewers):
                    if user.is_authenticated:
                        forget(user)
                        assert permissions_in(user, tenant) == held[u, t], (u, t)
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
