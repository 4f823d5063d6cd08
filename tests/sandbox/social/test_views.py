import pytest
from django.test import Client
from social.models import (
    Conversation,
    Follow,
    Group,
    GroupMembership,
    GroupPost,
    Message,
    Post,
)

from hardened_rbac.tenancy import use_tenant

pytestmark = pytest.mark.django_db


def test_outside_a_community_the_page_lists_only_the_visitors_own(world, signed_in):
    response = signed_in(world.alice).get("/social/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'href="/t/acme/social/feed/"' in body
    assert "globex" not in body


def test_inside_a_community_the_home_page_opens_the_feed(world, signed_in):
    response = signed_in(world.alice).get("/t/acme/social/")
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/social/feed/"


def test_pages_that_need_a_community_answer_404_without_one(world, signed_in):
    client = signed_in(world.alice)
    for path in ("/social/feed/", "/social/groups/", "/social/friends/"):
        assert client.get(path).status_code == 404


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(world):
    response = Client().get("/social/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Client().get("/t/acme/social/feed/").status_code == 404


def test_a_member_posts_to_the_feed(world, signed_in):
    client = signed_in(world.alice)
    response = client.post(
        "/t/acme/social/feed/", {"body": "Hello, Acme.", "visibility": "tenant"}
    )
    assert response.status_code == 302
    with use_tenant(world.acme):
        post = Post.objects.get()
    assert (post.author, post.body, post.visibility) == (
        world.alice,
        "Hello, Acme.",
        "tenant",
    )
    assert "Hello, Acme." in client.get("/t/acme/social/feed/").content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"body": "x" * 2001, "visibility": "tenant"},
        {"body": "Hi", "visibility": "everyone"},
        {"body": "", "visibility": "public"},
    ],
)
def test_an_oversized_or_malformed_post_is_refused(world, signed_in, data):
    response = signed_in(world.alice).post("/t/acme/social/feed/", data)
    assert response.status_code == 400
    with use_tenant(world.acme):
        assert not Post.objects.exists()


def test_a_post_without_a_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    response = client.post(
        "/t/acme/social/feed/", {"body": "Hi", "visibility": "public"}
    )
    assert response.status_code == 403
    with use_tenant(world.acme):
        assert not Post.objects.exists()


def test_only_the_author_deletes_a_post(world, signed_in):
    with use_tenant(world.acme):
        post = Post.objects.create(author=world.alice, body="Mine", visibility="tenant")
    path = f"/t/acme/social/posts/{post.pk}/delete/"
    assert signed_in(world.carol).post(path).status_code == 404
    assert signed_in(world.alice).get(path).status_code == 405
    assert signed_in(world.alice).post(path).status_code == 302
    with use_tenant(world.acme):
        assert not Post.objects.exists()


def test_another_communitys_post_answers_like_a_missing_one(world, signed_in):
    with use_tenant(world.acme):
        post = Post.objects.create(author=world.alice, body="Open", visibility="public")
    bob = signed_in(world.bob)
    missing = bob.get("/t/globex/social/posts/987654321/")
    for path in (
        f"/t/globex/social/posts/{post.pk}/",
        f"/t/acme/social/posts/{post.pk}/",
        "/t/acme/social/posts/987654321/",
    ):
        response = bob.get(path)
        assert response.status_code == missing.status_code == 404
        assert response.content == missing.content


def test_a_member_follows_and_unfollows_only_members_of_the_community(world, signed_in):
    client = signed_in(world.carol)
    assert (
        client.post(f"/t/acme/social/members/{world.alice.pk}/follow/").status_code
        == 302
    )
    with use_tenant(world.acme):
        assert Follow.objects.filter(
            follower=world.carol, followee=world.alice
        ).exists()
    assert (
        client.post(f"/t/acme/social/members/{world.bob.pk}/follow/").status_code == 404
    )
    assert (
        client.post(f"/t/acme/social/members/{world.carol.pk}/follow/").status_code
        == 404
    )
    client.post(f"/t/acme/social/members/{world.alice.pk}/follow/", {"unfollow": "1"})
    with use_tenant(world.acme):
        assert not Follow.objects.exists()
    members = client.get("/t/acme/social/members/").content.decode()
    assert "alice" in members
    assert "dave" in members
    assert "bob" not in members


def test_a_member_creates_a_group_joins_and_posts(world, signed_in):
    alice, carol = signed_in(world.alice), signed_in(world.carol)
    response = alice.post(
        "/t/acme/social/groups/",
        {"name": "Gardeners", "description": "", "visibility": "tenant"},
    )
    assert response.status_code == 302
    with use_tenant(world.acme):
        group = Group.objects.get()
        assert GroupMembership.objects.get().role == "owner"
    path = f"/t/acme/social/groups/{group.pk}/"
    assert carol.post(path, {"body": "Let me in"}).status_code == 403
    assert "Join this group" in carol.get(path).content.decode()
    assert carol.post(path + "join/").status_code == 302
    assert carol.post(path, {"body": "Hello gardeners"}).status_code == 302
    with use_tenant(world.acme):
        assert list(GroupPost.objects.values_list("body", flat=True)) == [
            "Hello gardeners"
        ]
    assert "Hello gardeners" in alice.get(path).content.decode()


def test_a_duplicate_group_name_is_a_form_error(world, signed_in):
    client = signed_in(world.alice)
    data = {"name": "Gardeners", "description": "", "visibility": "tenant"}
    client.post("/t/acme/social/groups/", data)
    response = client.post("/t/acme/social/groups/", data | {"name": "gardeners"})
    assert response.status_code == 400
    with use_tenant(world.acme):
        assert Group.objects.count() == 1


def test_a_private_group_is_hidden_from_non_members(world, signed_in):
    with use_tenant(world.acme):
        group = Group.objects.create(
            name="Board", visibility="private", created_by=world.alice
        )
        GroupMembership.objects.create(group=group, user=world.alice, role="owner")
        GroupPost.objects.create(group=group, author=world.alice, body="Budget")
    carol = signed_in(world.carol)
    assert "Board" not in carol.get("/t/acme/social/groups/").content.decode()
    assert carol.get(f"/t/acme/social/groups/{group.pk}/").status_code == 404
    assert carol.post(f"/t/acme/social/groups/{group.pk}/join/").status_code == 404
    assert (
        "Budget"
        in signed_in(world.alice)
        .get(f"/t/acme/social/groups/{group.pk}/")
        .content.decode()
    )


def test_direct_messages_are_read_by_their_participants_only(world, signed_in):
    alice = signed_in(world.alice)
    response = alice.post(
        "/t/acme/social/messages/",
        {"recipient": world.carol.pk, "body": "Shed at noon?"},
    )
    assert response.status_code == 302
    with use_tenant(world.acme):
        conversation = Conversation.objects.get()
    path = f"/t/acme/social/messages/{conversation.pk}/"
    assert response["Location"] == path
    carol = signed_in(world.carol)
    assert "Shed at noon?" in carol.get(path).content.decode()
    assert carol.post(path, {"body": "Yes"}).status_code == 302
    assert signed_in(world.dave).get(path).status_code == 404
    assert signed_in(world.dave).post(path, {"body": "Me too"}).status_code == 404
    with use_tenant(world.acme):
        assert list(Message.objects.values_list("body", flat=True)) == [
            "Shed at noon?",
            "Yes",
        ]


def test_a_second_message_to_the_same_member_joins_the_conversation(world, signed_in):
    alice = signed_in(world.alice)
    for body in ("One", "Two"):
        alice.post(
            "/t/acme/social/messages/", {"recipient": world.carol.pk, "body": body}
        )
    with use_tenant(world.acme):
        assert Conversation.objects.count() == 1
        assert Message.objects.count() == 2


def test_a_message_to_another_communitys_member_is_refused(world, signed_in):
    response = signed_in(world.alice).post(
        "/t/acme/social/messages/", {"recipient": world.bob.pk, "body": "Hi"}
    )
    assert response.status_code == 400
    with use_tenant(world.acme):
        assert not Conversation.objects.exists()
