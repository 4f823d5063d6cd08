"""Who sees which post, group post and message, in pages and in the policy."""

import pytest
from social.models import Follow, Post

from hardened_rbac import policies as p
from hardened_rbac.tenancy import use_tenant

pytestmark = pytest.mark.django_db

BODIES = {
    v: f"a {v} post by alice" for v in ("public", "tenant", "followers", "private")
}


@pytest.fixture
def posts(world):
    with use_tenant(world.acme):
        return {
            visibility: Post.objects.create(
                author=world.alice, body=body, visibility=visibility
            )
            for visibility, body in BODIES.items()
        }


def _seen_in_feed(client) -> set[str]:
    body = client.get("/t/acme/social/feed/").content.decode()
    return {v for v, text in BODIES.items() if text in body}


def _opens(client, post) -> bool:
    response = client.get(f"/t/acme/social/posts/{post.pk}/")
    assert response.status_code in (200, 404)
    return bool(response.status_code == 200)


def test_the_author_sees_every_visibility(world, posts, signed_in):
    client = signed_in(world.alice)
    assert _seen_in_feed(client) == set(BODIES)
    assert all(_opens(client, post) for post in posts.values())


def test_a_member_sees_public_and_community_posts(world, posts, signed_in):
    client = signed_in(world.carol)
    assert _seen_in_feed(client) == {"public", "tenant"}
    assert {v for v, post in posts.items() if _opens(client, post)} == {
        "public",
        "tenant",
    }


def test_a_follower_also_sees_followers_posts(world, posts, signed_in):
    with use_tenant(world.acme):
        Follow.objects.create(follower=world.carol, followee=world.alice)
    client = signed_in(world.carol)
    assert _seen_in_feed(client) == {"public", "tenant", "followers"}
    assert not _opens(client, posts["private"])


def test_following_through_the_page_reveals_followers_posts(world, posts, signed_in):
    client = signed_in(world.dave)
    assert "followers" not in _seen_in_feed(client)
    client.post(f"/t/acme/social/members/{world.alice.pk}/follow/")
    assert "followers" in _seen_in_feed(client)
    client.post(f"/t/acme/social/members/{world.alice.pk}/follow/", {"unfollow": "1"})
    assert "followers" not in _seen_in_feed(client)


def test_a_member_of_another_community_sees_none_of_them(world, posts, signed_in):
    client = signed_in(world.bob)
    assert client.get("/t/acme/social/feed/").status_code == 404
    feed = client.get("/t/globex/social/feed/").content.decode()
    assert not any(text in feed for text in BODIES.values())
    for post in posts.values():
        assert client.get(f"/t/globex/social/posts/{post.pk}/").status_code == 404


def test_a_follow_in_another_community_does_not_count(world, posts, signed_in):
    """Carol is in both; following alice in globex opens nothing in acme."""
    from tests.factories import MembershipFactory

    MembershipFactory(tenant=world.globex, user=world.carol)
    with use_tenant(world.globex):
        Follow.objects.create(follower=world.carol, followee=world.alice)
    assert _seen_in_feed(signed_in(world.carol)) == {"public", "tenant"}


def test_the_feed_and_the_decision_agree_for_every_post(world, posts):
    with use_tenant(world.acme):
        Follow.objects.create(follower=world.dave, followee=world.alice)
        for user in (world.alice, world.carol, world.dave, world.bob):
            listed = set(p.allowed(user, "view", Post).values_list("pk", flat=True))
            decided = {
                post.pk for post in posts.values() if p.authorize(user, "view", post)
            }
            assert listed == decided
    with use_tenant(world.acme):
        decision = p.authorize(world.carol, "view", posts["private"])
    assert not decision
    assert "private" in decision.explain()


def test_an_inactive_membership_sees_nothing(world, posts, signed_in):
    from hardened_rbac.models import Membership

    Membership.objects.filter(user=world.carol).update(is_active=False)
    assert signed_in(world.carol).get("/t/acme/social/feed/").status_code == 404
