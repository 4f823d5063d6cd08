import threading
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.db import connection

from hardened_rbac import checks
from hardened_rbac.action_links import action_link
from hardened_rbac.internal.action_links import SALT
from hardened_rbac.models import ActionLinkUse
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import FriendRequest

pytestmark = pytest.mark.django_db

MIDDLEWARE = [*django_settings.MIDDLEWARE, "hardened_rbac.middleware.TenantMiddleware"]


@pytest.fixture
def people(settings, client):
    settings.ROOT_URLCONF = "tests.hardened_rbac.urls"
    settings.MIDDLEWARE = MIDDLEWARE
    tenant = TenantFactory(slug="acme")
    sender = MembershipFactory(tenant=tenant).user
    recipient = MembershipFactory(tenant=tenant).user
    return tenant, sender, recipient


def _link(client, sender, recipient):
    client.force_login(sender)
    response = client.get(f"/t/acme/friends/{recipient.pk}/request/")
    assert response.status_code == 200
    return response.json()["link"]


def _refusals(caplog):
    return [
        e["refusal"]
        for e in audit_events(caplog)
        if e.get("action") == "action_link_refused"
    ]


def test_the_recipient_accepts_once(client, people, caplog):
    tenant, sender, recipient = people
    link = _link(client, sender, recipient)
    assert link.startswith("/t/acme/friends/accept/?token=")
    client.force_login(recipient)
    capture_audit(caplog)
    first = client.get(link)
    assert first.status_code == 200
    with use_tenant(tenant):
        assert FriendRequest.objects.get().accepted
    assert client.get(link).status_code == 403
    assert client.post(link).status_code == 403
    assert _refusals(caplog) == ["replayed", "replayed"]


def test_another_user_cannot_use_the_link(client, people, caplog):
    tenant, sender, recipient = people
    link = _link(client, sender, recipient)
    intruder = MembershipFactory(tenant=tenant).user
    client.force_login(intruder)
    capture_audit(caplog)
    assert client.get(link).status_code == 403
    client.logout()
    assert client.get(link).status_code == 404
    client.force_login(recipient)
    assert client.get(link).status_code == 200
    assert _refusals(caplog) == ["wrong_user"]


def test_a_tampered_token_is_refused(client, people, caplog):
    _, sender, recipient = people
    link = _link(client, sender, recipient)
    client.force_login(recipient)
    capture_audit(caplog)
    path, token = link.split("?token=")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    forged_payload = signing.dumps({"a": "accept_friend_request"}, salt="other")
    for bad in [flipped, forged_payload, "", "x" * 5000, "..."]:
        assert client.get(f"{path}?token={bad}").status_code == 403
    assert client.get(link).status_code == 200
    assert _refusals(caplog) == [
        "tampered",
        "tampered",
        "malformed",
        "malformed",
        "tampered",
    ]


def test_an_expired_link_is_refused(client, people, caplog, settings):
    _, sender, recipient = people
    settings.HARDENED_RBAC_ACTION_LINK_MAX_AGE = 60
    link = _link(client, sender, recipient)
    client.force_login(recipient)
    capture_audit(caplog)
    import time

    later = time.time() + 61
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert client.get(link).status_code == 403
    assert _refusals(caplog) == ["expired"]


def test_the_link_is_scoped_to_its_path_action_and_tenant(client, people, caplog):
    tenant, sender, recipient = people
    link = _link(client, sender, recipient)
    token = link.split("?token=")[1]
    other = TenantFactory(slug="globex")
    MembershipFactory(tenant=other, user=recipient)
    client.force_login(recipient)
    capture_audit(caplog)
    assert client.get(f"/t/acme/friends/other-accept/?token={token}").status_code == 403
    assert client.get(f"/t/globex/friends/accept/?token={token}").status_code == 403
    with use_tenant(tenant):
        friend_request = FriendRequest.objects.get()
        wrong_action = action_link(
            recipient, "join_group", friend_request, "/t/acme/friends/accept/"
        )
    assert client.get(wrong_action).status_code == 403
    assert _refusals(caplog) == ["wrong_path", "wrong_tenant", "wrong_action"]


def test_a_link_for_a_deleted_object_is_refused(client, people, caplog):
    tenant, sender, recipient = people
    link = _link(client, sender, recipient)
    with use_tenant(tenant):
        FriendRequest.objects.all().delete()
    client.force_login(recipient)
    capture_audit(caplog)
    assert client.get(link).status_code == 403
    assert _refusals(caplog) == ["object_gone"]


def test_a_token_signed_with_another_salt_is_refused(client, people):
    tenant, _, recipient = people
    with use_tenant(tenant):
        friend_request = FriendRequest.objects.create(
            sender=recipient, recipient=recipient
        )
    payload = {
        "a": "accept_friend_request",
        "o": f"rbac_testapp.friendrequest:{friend_request.pk}",
        "u": str(recipient.pk),
        "t": str(tenant.pk),
        "p": "/t/acme/friends/accept/",
        "n": "n1",
    }
    client.force_login(recipient)
    wrong = signing.dumps(payload, salt="not-" + SALT)
    assert client.get(f"/t/acme/friends/accept/?token={wrong}").status_code == 403
    right = signing.dumps(payload, salt=SALT)
    assert client.get(f"/t/acme/friends/accept/?token={right}").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_uses_let_exactly_one_through(people):
    """Four clients spend one link at once on PostgreSQL; one wins."""
    tenant, sender, recipient = people
    from django.test import Client

    with use_tenant(tenant):
        friend_request = FriendRequest.objects.create(
            sender=sender, recipient=recipient
        )
        link = action_link(
            recipient,
            "accept_friend_request",
            friend_request,
            "/t/acme/friends/accept/",
        )
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def use() -> None:
        try:
            client = Client()
            client.force_login(recipient)
            barrier.wait(timeout=30)
            statuses.append(client.get(link).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 4
    assert sorted(statuses) == [200, 403, 403, 403]
    assert ActionLinkUse.objects.count() == 1
    with unscoped(reason="test cleanup"):
        FriendRequest.objects.all().delete()


def test_friend_requests_are_limited_per_sender(client, people, settings, caplog):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {"sender": (2, 60), "ip": (100, 60)}
    _, sender, recipient = people
    client.force_login(sender)
    capture_audit(caplog)
    codes = [
        client.get(f"/t/acme/friends/{recipient.pk}/request/").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 403]
    (event,) = [
        e for e in audit_events(caplog) if e["event"] == "excess_rate_limit_exceeded"
    ]
    assert event["dimension"] == "sender"
    assert event["actor"] == str(sender.pk)


def test_friend_requests_are_limited_per_address_whatever_the_header(
    client, people, settings
):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {"sender": (100, 60), "ip": (2, 60)}
    tenant, _, recipient = people
    codes = []
    for n in range(3):
        sender = MembershipFactory(tenant=tenant).user
        client.force_login(sender)
        codes.append(
            client.get(
                f"/t/acme/friends/{recipient.pk}/request/",
                REMOTE_ADDR="203.0.113.9",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            ).status_code
        )
    assert codes == [200, 200, 403]


def test_friend_requests_fail_closed_without_the_cache(client, people):
    _, sender, recipient = people
    client.force_login(sender)
    with mock.patch(
        "hardened_rbac.internal.friend_limits.caches",
        {"default": mock.Mock(add=mock.Mock(side_effect=ConnectionError))},
    ):
        assert client.get(f"/t/acme/friends/{recipient.pk}/request/").status_code == 403
    with use_tenant(people[0]):
        assert not FriendRequest.objects.exists()


def test_action_link_and_limit_checks(settings):
    assert checks.check_action_links_and_limits() == []
    settings.HARDENED_RBAC_ACTION_LINK_MAX_AGE = -1
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {"sender": (1, 0)}
    settings.HARDENED_RBAC_FRIEND_REQUEST_CACHE = "nowhere"
    assert [(m.id, m.msg) for m in checks.check_action_links_and_limits()] == [
        ("hardened_rbac.E010", checks.E010_MSG),
        ("hardened_rbac.E011", checks.E011_MSG),
        ("hardened_rbac.E012", checks.E012_MSG),
    ]


def test_outsiders_links_are_useless(client, people):
    _, sender, recipient = people
    link = _link(client, sender, recipient)
    client.force_login(UserFactory())
    assert client.get(link).status_code == 404
