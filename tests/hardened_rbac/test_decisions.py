import json
import logging
import os
import pickle
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from hardened_rbac import checks, policies
from hardened_rbac.internal import decisions, invalidation
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
    with mock.patch.object(decisions, "read", side_effect=ConnectionError):
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


def _entry_key(tenant, user, action, obj):
    return decisions.decision_key(user.pk, tenant.pk, action, obj)


def _decides(tenant, user, action, obj):
    """The answer and whether the policy engine was asked for it."""
    from hardened_rbac.internal import policy

    with (
        mock.patch.object(policy, "decide", wraps=policy.decide) as decide,
        use_tenant(tenant),
    ):
        answer = policies.is_allowed(user, action, obj)
    return answer, decide.called


def _elsewhere(fn, *args):
    """Run ``fn`` in another thread, with its own cache connection."""
    worker = threading.Thread(target=fn, args=args)
    worker.start()
    worker.join()


@pytest.fixture
def unreachable(settings):
    """The decision cache is a Redis client pointed where nothing listens."""
    settings.CACHES = {
        **settings.CACHES,
        "gone": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    settings.HARDENED_RBAC_DECISION_CACHE = "gone"


def test_an_unreachable_cache_decides_every_time_from_the_database(
    scene, unreachable, caplog
):
    tenant, _, reader, _, document = scene
    assign_perm("view_document", reader, document)
    assert _decides(tenant, reader, "view", document) == (True, True)
    remove_perm("view_document", reader, document)
    assert _decides(tenant, reader, "view", document) == (False, True)
    assert _decides(tenant, reader, "view", document) == (False, True)
    warnings = {
        r.getMessage()
        for r in caplog.records
        if r.name == decisions.logger.name and r.levelno == logging.WARNING
    }
    assert warnings == {"Decision cache unavailable; deciding without it"}


def test_a_revocation_in_another_process_is_seen_by_the_next_decision(scene):
    """Only the other side's token replacement tells this side of the change."""
    tenant, _, reader, _, document = scene
    assign_perm("view_document", reader, document)
    assert _decides(tenant, reader, "view", document) == (True, True)
    with mock.patch.object(invalidation, "bump"):
        remove_perm("view_document", reader, document)
    assert _decides(tenant, reader, "view", document) == (True, False)

    _elsewhere(decisions.bump, decisions.SITE)
    assert _decides(tenant, reader, "view", document) == (False, True)
    assert _decides(tenant, reader, "view", document) == (False, False)


@pytest.mark.parametrize("scope", ["site", "tenant", "user"])
def test_each_replaced_token_ends_the_cached_decision(scene, scope):
    tenant, _, reader, post, _ = scene
    names = ("site", "tenant", "user")
    keys = dict(zip(names, decisions.scope_keys(tenant.pk, reader.pk), strict=True))
    assert _decides(tenant, reader, "view", post) == (False, True)
    assert _decides(tenant, reader, "view", post) == (False, False)
    _elsewhere(decisions.bump, keys[scope])
    assert _decides(tenant, reader, "view", post) == (False, True)


@pytest.mark.redis
def test_a_token_written_by_another_redis_client_is_seen_at_once(scene):
    import redis

    tenant, _, reader, _, document = scene
    assign_perm("view_document", reader, document)
    assert _decides(tenant, reader, "view", document) == (True, True)
    with mock.patch.object(invalidation, "bump"):
        remove_perm("view_document", reader, document)
    cache = decisions._cache()
    other = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        other.set(
            cache.make_key(decisions.user_key(reader.pk)),
            pickle.dumps(decisions._new_token()),
        )
    finally:
        other.close()
    assert _decides(tenant, reader, "view", document) == (False, True)


def test_an_altered_answer_is_a_miss(scene):
    tenant, _, reader, post, _ = scene
    assert _decides(tenant, reader, "view", post) == (False, True)
    key = _entry_key(tenant, reader, "view", post)
    cache = decisions._cache()
    stored = cache.get(key)
    assert stored.startswith("0:")
    cache.set(key, "1" + stored[1:])
    assert _decides(tenant, reader, "view", post) == (False, True)
    assert cache.get(key).startswith("0:")


def test_an_extended_moment_is_a_miss(scene):
    tenant, _, reader, post, _ = scene
    assert _decides(tenant, reader, "view", post) == (False, True)
    key = _entry_key(tenant, reader, "view", post)
    cache = decisions._cache()
    answer, _, mac = cache.get(key).split(":")
    cache.set(key, f"{answer}:{time.time() + 10**6!r}:{mac}")
    assert _decides(tenant, reader, "view", post) == (False, True)


def test_an_entry_moved_from_another_key_is_a_miss(scene):
    """The author may view the post; the reader gains nothing from the copy."""
    tenant, author, reader, post, _ = scene
    assert _decides(tenant, author, "view", post) == (True, True)
    cache = decisions._cache()
    allowed = cache.get(_entry_key(tenant, author, "view", post))
    cache.set(_entry_key(tenant, reader, "view", post), allowed)
    assert _decides(tenant, reader, "view", post) == (False, True)


def test_an_entry_signed_with_another_secret_is_a_miss(scene, settings):
    tenant, author, _, post, _ = scene
    assert _decides(tenant, author, "view", post) == (True, True)
    settings.SECRET_KEY = (
        "another-secret-key-of-enough-length-for-the-checks-9876543210"
    )
    assert _decides(tenant, author, "view", post) == (True, True)
    assert _decides(tenant, author, "view", post) == (True, False)


@pytest.mark.parametrize(
    "value",
    [
        "1",
        "1:x",
        "1:x:y",
        "yes:9999999999.0:" + "0" * 64,
        "1:9999999999.0:" + "0" * 64,
        "1:9999999999.0:" + "0" * 64 + ":extra",
        "1:9999999999.0:" + "\u00e9" * 64,
        1,
        True,
        b"1",
        ("site", True, None),
        None,
    ],
)
def test_an_entry_of_another_form_is_a_miss_and_is_replaced(scene, value):
    tenant, _, reader, post, _ = scene
    versions = decisions.versions(tenant.pk, reader.pk)
    key = _entry_key(tenant, reader, "view", post)
    decisions._cache().set(key, value)
    assert decisions.stored_answer(value, key, versions) is None
    assert _decides(tenant, reader, "view", post) == (False, True)
    assert _decides(tenant, reader, "view", post) == (False, False)


def test_an_entry_ends_with_its_timeout_whatever_the_cache_keeps(scene, settings):
    settings.HARDENED_RBAC_DECISION_CACHE_TIMEOUT = 60
    tenant, author, _, post, _ = scene
    assert _decides(tenant, author, "view", post) == (True, True)
    later = time.time() + 61
    with mock.patch("time.time", return_value=later):
        assert _decides(tenant, author, "view", post) == (True, True)


@pytest.mark.parametrize("garbage", [5, "not a token", b"\x00" * 32])
def test_a_version_that_is_not_a_token_is_replaced(scene, garbage):
    tenant, _, reader, post, _ = scene
    before = decisions.versions(tenant.pk, reader.pk)
    assert _decides(tenant, reader, "view", post) == (False, True)
    decisions._cache().set(decisions.user_key(reader.pk), garbage)
    after = decisions.versions(tenant.pk, reader.pk)
    assert after[:2] == before[:2]
    assert len(after[2]) == decisions.TOKEN_LENGTH
    assert after[2] != before[2]
    assert decisions.versions(tenant.pk, reader.pk) == after
    assert _decides(tenant, reader, "view", post) == (False, True)


def test_a_cache_that_keeps_nothing_never_answers(scene, settings):
    settings.CACHES = {
        **settings.CACHES,
        "nothing": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.HARDENED_RBAC_DECISION_CACHE = "nothing"
    tenant, author, _, post, _ = scene
    assert decisions.versions(tenant.pk, author.pk) != decisions.versions(
        tenant.pk, author.pk
    )
    assert _decides(tenant, author, "view", post) == (True, True)
    assert _decides(tenant, author, "view", post) == (True, True)


def _redis_client(cache):
    primary = decisions._primary(cache)
    assert primary is not None
    return primary.client


@pytest.mark.redis
def test_an_unreadable_redis_value_is_a_miss(scene, caplog):
    tenant, _, reader, post, _ = scene
    cache = decisions._cache()
    key = _entry_key(tenant, reader, "view", post)
    decisions.versions(tenant.pk, reader.pk)
    client = _redis_client(cache)
    client.set(cache.make_key(key), b"\x80\x05garbled")
    client.set(cache.make_key(decisions.user_key(reader.pk)), b"\x80\x05garbled")
    assert _decides(tenant, reader, "view", post) == (False, True)
    assert _decides(tenant, reader, "view", post) == (False, False)
    assert "Unreadable decision cache value" in caplog.text


@pytest.mark.redis
def test_a_cached_decision_is_one_round_trip_to_the_first_server(scene):
    tenant, author, _, post, _ = scene
    assert _decides(tenant, author, "view", post) == (True, True)
    cache = decisions._cache()
    client = _redis_client(cache)
    assert _redis_client(cache) is client
    assert isinstance(cache, RedisCache)
    assert client.connection_pool is cache._cache.get_client(write=True).connection_pool
    with mock.patch.object(
        client, "execute_command", wraps=client.execute_command
    ) as sent:
        assert _decides(tenant, author, "view", post) == (True, False)
    assert [call.args[0] for call in sent.call_args_list] == ["MGET"]


class JsonSerializer:
    def dumps(self, obj):
        return json.dumps(obj).encode()

    def loads(self, data):
        return json.loads(data)


class ShardingClient(RedisCacheClient):
    """A client of a site's own, free to choose a server per key."""


class ShardingCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ShardingClient


def test_only_djangos_own_redis_client_is_read_directly(settings):
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
        "sharded": {
            "BACKEND": f"{__name__}.ShardingCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
        "json": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"serializer": f"{__name__}.JsonSerializer"},
        },
    }
    assert decisions._primary(caches["local"]) is None
    assert decisions._primary(caches["sharded"]) is None
    primary = decisions._primary(caches["redis"])
    assert primary is not None
    assert primary.client.connection_pool.connection_kwargs["port"] == 1
    assert primary.loads(pickle.dumps("token")) == "token"
    assert primary.loads is pickle.loads
    json_primary = decisions._primary(caches["json"])
    assert json_primary is not None
    assert json_primary.loads(b'"token"') == "token"
