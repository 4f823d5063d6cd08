"""Friend requests: one answer for every address, single-use links, limits."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from social.internal.limits import seconds_until_windows_reset
from social.models import Follow, FriendRequest

from hardened_rbac.tenancy import use_tenant
from tests.sandbox.social.conftest import member

pytestmark = pytest.mark.django_db

SEND = "/t/acme/social/friends/request/"
CSRF_VALUE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
STATEMENT = re.compile(
    r'^(SELECT|INSERT|UPDATE|DELETE)\b.*?\b(?:FROM|INTO) "(\w+)"', re.S
)


def _link() -> str:
    """The accept link of the last friend request mail, without the host."""
    found = re.search(r"http://testserver(/\S+)", str(mail.outbox[-1].body))
    assert found is not None
    return found.group(1)


def _parts(link: str) -> tuple[str, str]:
    """The link's path and its token."""
    parts = urlsplit(link)
    return parts.path, parse_qs(parts.query)["token"][0]


def _requests(world) -> list[tuple[str, str, str]]:
    with use_tenant(world.acme):
        return [
            (r.sender.username, r.recipient.username, r.status)
            for r in FriendRequest.objects.order_by("pk")
        ]


def test_a_request_to_a_members_address_mails_them_a_link(world, signed_in):
    response = signed_in(world.carol).post(SEND, {"email": "ALICE@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/social/friends/?sent=1"
    assert _requests(world) == [("carol", "alice", "pending")]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert _link().startswith("/t/acme/social/friends/requests/")


def _answer(client, email: str) -> tuple:
    response = client.post(SEND, {"email": email})
    page = client.get(response["Location"])
    return (
        response.status_code,
        response["Location"],
        response.content,
        page.status_code,
        CSRF_VALUE.sub(b"", page.content),
    )


def test_the_answer_is_the_same_whether_or_not_the_address_exists(world, signed_in):
    member(world.acme, "erin", verified=False)
    client = signed_in(world.carol)
    answers = [
        _answer(client, email)
        for email in (
            "alice@example.com",  # a member: asked
            "alice@example.com",  # asked before: nothing new
            "nobody@example.com",  # no account
            "bob@example.com",  # a member of another community
            "erin@example.com",  # an address that is not verified
            "carol@example.com",  # the sender's own
        )
    ]
    assert len(answers) == 6
    assert len(set(answers)) == 1
    assert b"If a member of this community uses that address" in answers[0][4]
    assert _requests(world) == [("carol", "alice", "pending")]
    assert len(mail.outbox) == 1


def _statements(client, email: str) -> list[tuple[str, str]]:
    """The kind and table of each statement a send runs, savepoints aside."""
    with CaptureQueriesContext(connection) as queries:
        client.post(SEND, {"email": email})
    found = (STATEMENT.match(query["sql"]) for query in queries.captured_queries)
    return [(m.group(1), m.group(2)) for m in found if m is not None]


def test_every_address_costs_the_same_statements(world, signed_in):
    member(world.acme, "erin", verified=False)
    client = signed_in(world.carol)
    _statements(client, "first@example.com")  # the session's first request
    asked = _statements(client, "alice@example.com")
    assert ("INSERT", "social_friendrequest") in asked
    for email in (
        "alice@example.com",
        "nobody@example.com",
        "bob@example.com",
        "erin@example.com",
        "carol@example.com",
    ):
        assert _statements(client, email) == asked, email
    assert _requests(world) == [("carol", "alice", "pending")]
    assert len(mail.outbox) == 1


def test_a_malformed_address_is_a_form_error(world, signed_in):
    client = signed_in(world.carol)
    for email in ("not-an-address", "a" * 250 + "@example.com", ""):
        assert client.post(SEND, {"email": email}).status_code == 400
    assert _requests(world) == []


def test_the_recipient_accepts_once_through_the_link(world, signed_in):
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    link = _link()
    path, token = _parts(link)
    alice = signed_in(world.alice)
    confirm = alice.get(link)
    assert confirm.status_code == 200
    assert token in confirm.content.decode()
    assert _requests(world) == [("carol", "alice", "pending")]

    accepted = alice.post(path, {"token": token})
    assert accepted.status_code == 302
    assert accepted["Location"] == "/t/acme/social/friends/"
    assert _requests(world) == [("carol", "alice", "accepted")]
    with use_tenant(world.acme):
        pairs = set(Follow.objects.values_list("follower", "followee"))
    assert pairs == {(world.carol.pk, world.alice.pk), (world.alice.pk, world.carol.pk)}
    assert "carol" in alice.get("/t/acme/social/friends/").content.decode()

    assert alice.post(path, {"token": token}).status_code == 403
    assert alice.post(link).status_code == 403


def test_the_friends_page_offers_a_fresh_single_use_accept_form(world, signed_in):
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    alice = signed_in(world.alice)
    page = alice.get("/t/acme/social/friends/").content.decode()
    form = re.search(
        r'action="(/t/acme/social/friends/requests/\d+/accept/)".*?'
        r'name="token" value="([^"]+)"',
        page,
        re.DOTALL,
    )
    assert form is not None
    path, token = form.groups()
    assert alice.post(path, {"token": token}).status_code == 302
    assert alice.post(path, {"token": token}).status_code == 403
    assert _requests(world) == [("carol", "alice", "accepted")]


def test_another_member_cannot_use_the_link(world, signed_in):
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    link = _link()
    path, token = _parts(link)
    dave = signed_in(world.dave)
    missing = dave.get("/t/acme/social/friends/requests/987654321/accept/")
    assert dave.get(link).status_code == missing.status_code == 404
    assert dave.post(path, {"token": token}).status_code == 404
    assert _requests(world) == [("carol", "alice", "pending")]


def test_another_community_gets_the_missing_answer_for_the_link(world, signed_in):
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    link = _link()
    path, token = _parts(link)
    bob = signed_in(world.bob)
    missing = bob.get("/t/globex/social/friends/requests/987654321/accept/")
    for attempt in (
        bob.get(link),
        bob.post(path, {"token": token}),
        bob.get(link.replace("/t/acme/", "/t/globex/")),
        bob.post(path.replace("/t/acme/", "/t/globex/"), {"token": token}),
    ):
        assert attempt.status_code == missing.status_code == 404
        assert attempt.content == missing.content
    assert _requests(world) == [("carol", "alice", "pending")]


def test_a_link_used_in_another_community_of_the_same_recipient_is_refused(
    world, signed_in
):
    """Alice belongs to both; the acme link does nothing under globex."""
    from tests.factories import MembershipFactory

    MembershipFactory(tenant=world.globex, user=world.alice)
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    path, token = _parts(_link())
    alice = signed_in(world.alice)
    other = path.replace("/t/acme/", "/t/globex/")
    missing = alice.get("/t/globex/social/friends/requests/987654321/accept/")
    response = alice.post(other, {"token": token})
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert _requests(world) == [("carol", "alice", "pending")]


def test_a_tampered_or_foreign_token_is_refused(world, signed_in):
    signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    first_path, first_token = _parts(_link())
    signed_in(world.dave).post(SEND, {"email": "alice@example.com"})
    second_path, second_token = _parts(_link())
    alice = signed_in(world.alice)
    for path, token in (
        (first_path, first_token[:-2] + ("AA" if first_token[-2:] != "AA" else "BB")),
        (first_path, second_token),
        (first_path, ""),
        (first_path, "x" * 5000),
    ):
        assert alice.post(path, {"token": token}).status_code == 403
    assert _requests(world) == [
        ("carol", "alice", "pending"),
        ("dave", "alice", "pending"),
    ]
    assert alice.post(second_path, {"token": second_token}).status_code == 302


def test_the_sender_cannot_accept_their_own_request(world, signed_in):
    carol = signed_in(world.carol)
    carol.post(SEND, {"email": "alice@example.com"})
    path, token = _parts(_link())
    assert carol.post(path, {"token": token}).status_code == 404
    assert _requests(world) == [("carol", "alice", "pending")]


def test_a_sender_over_the_limit_gets_429_with_retry_after(world, signed_in, settings):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {
        "sender": (2, 3600),
        "ip": (100, 3600),
    }
    carol = signed_in(world.carol)
    for email in ("nobody@example.com", "someone@example.com"):
        assert carol.post(SEND, {"email": email}).status_code == 302
    refused = carol.post(SEND, {"email": "alice@example.com"})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert _requests(world) == []
    assert mail.outbox == []
    assert (
        signed_in(world.dave).post(SEND, {"email": "x@example.com"}).status_code == 302
    )


def test_an_address_over_the_limit_gets_429_whatever_it_forwards(
    world, signed_in, settings
):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {
        "sender": (100, 3600),
        "ip": (2, 60),
    }
    carol = signed_in(world.carol, address="10.99.0.1")
    dave = signed_in(world.dave, address="10.99.0.1")
    assert carol.post(SEND, {"email": "x@example.com"}).status_code == 302
    assert dave.post(SEND, {"email": "y@example.com"}).status_code == 302
    refused = dave.post(
        SEND,
        {"email": "alice@example.com"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert _requests(world) == []


def test_a_limiter_that_cannot_count_refuses_with_503(world, signed_in, settings):
    settings.HARDENED_RBAC_FRIEND_REQUEST_CACHE = "no-such-cache"
    refused = signed_in(world.carol).post(SEND, {"email": "alice@example.com"})
    assert refused.status_code == 503
    assert refused["Retry-After"] == "30"
    assert _requests(world) == []


def test_retry_after_counts_to_the_end_of_the_longest_window(settings):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {
        "sender": (20, 3600),
        "ip": (50, 60),
    }
    assert seconds_until_windows_reset(now=7200) == 3600
    assert seconds_until_windows_reset(now=7200 + 3000) == 600
    assert seconds_until_windows_reset(now=7200 + 3599) == 1
