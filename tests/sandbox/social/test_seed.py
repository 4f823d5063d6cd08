import re

import pytest
from django.core.management import call_command
from social.models import Conversation, FriendRequest, Group, Message, Post

from hardened_rbac import policies as p
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import unscoped, use_tenant

pytestmark = pytest.mark.django_db


def _run(capsys) -> str:
    call_command("sandbox_demo", skip_migrate=True)
    return str(capsys.readouterr().out)


def test_the_seed_shows_every_part_of_the_scenario(capsys):
    out = _run(capsys)
    acme = Tenant.objects.get(slug="acme")
    with use_tenant(acme):
        assert set(Post.objects.values_list("visibility", flat=True)) == {
            "public",
            "tenant",
            "followers",
            "private",
        }
        group = Group.objects.get(name="Gardeners")
        assert list(group.members.values_list("user__username", flat=True)) == ["alice"]
        conversation = Conversation.objects.get()
        assert sorted(conversation.participants.values_list("username", flat=True)) == [
            "alice",
            "carol",
        ]
        assert Message.objects.count() == 1
        request = FriendRequest.objects.get()
        assert (request.sender.username, request.recipient.username) == (
            "carol",
            "alice",
        )
        assert request.status == "pending"
    tries = re.findall(r"^  .+: (http://127\.0\.0\.1:8000/t/\S+)$", out, re.MULTILINE)
    assert "http://127.0.0.1:8000/t/acme/social/feed/" in tries
    assert "http://127.0.0.1:8000/t/globex/social/feed/" in tries
    assert len(tries) == 7


def test_alice_and_carol_see_different_parts_of_the_seeded_feed(capsys):
    _run(capsys)
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(["alice", "carol"], field_name="username")
    with use_tenant(Tenant.objects.get(slug="acme")):
        alice = p.allowed(users["alice"], "view", Post).filter(author=users["alice"])
        carol = p.allowed(users["carol"], "view", Post).filter(author=users["alice"])
        assert alice.count() == 4
        assert set(carol.values_list("visibility", flat=True)) == {"public", "tenant"}


def test_seeding_twice_adds_nothing(capsys):
    _run(capsys)
    with unscoped("the test counts every tenant's social rows"):
        before = [m.objects.count() for m in (Post, Group, Message, FriendRequest)]
    _run(capsys)
    with unscoped("the test counts every tenant's social rows"):
        after = [m.objects.count() for m in (Post, Group, Message, FriendRequest)]
    assert before == after
