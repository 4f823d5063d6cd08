"""Seed the social scenario: posts of each visibility, a group, a DM, a request.

``manage.py sandbox_demo`` calls ``seed`` after the core tenants and users
exist. Running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from django.urls import reverse

from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import use_tenant
from social.internal.community import path_in
from social.models import (
    Conversation,
    Follow,
    FriendRequest,
    Group,
    GroupMembership,
    GroupPost,
    Message,
    Post,
    Visibility,
)

SITE = "http://127.0.0.1:8000"

ACME_POSTS = [
    ("alice", Visibility.PUBLIC, "Acme's garden opens on Saturday; all welcome."),
    ("alice", Visibility.TENANT, "Members: the tool shed code changes on Monday."),
    ("alice", Visibility.FOLLOWERS, "For my followers: photos from the harvest."),
    ("alice", Visibility.PRIVATE, "Note to self: bring the spare keys."),
    ("carol", Visibility.TENANT, "Carol here, happy to help with the garden."),
]
GLOBEX_POSTS = [
    ("bob", Visibility.TENANT, "Globex members: the workshop is booked on Thursday."),
    ("bob", Visibility.PRIVATE, "Reminder: order more solder."),
]


def _posts(users: dict[str, Any], posts: Sequence[tuple[str, str, str]]) -> None:
    for author, visibility, body in posts:
        Post.objects.get_or_create(
            author=users[author], body=body, defaults={"visibility": visibility}
        )


def _say(stdout: TextIO, tenant: Tenant, name: str, hint: str) -> None:
    stdout.write(f"  {hint}: {SITE}{path_in(tenant, reverse(name))}\n")


def seed(*, tenants: dict[str, Tenant], users: dict[str, Any], stdout: TextIO) -> None:
    acme, globex = tenants["acme"], tenants["globex"]
    alice, bob, carol = users["alice"], users["bob"], users["carol"]

    with use_tenant(acme):
        _posts(users, ACME_POSTS)
        group, _ = Group.objects.get_or_create(
            name="Gardeners",
            defaults={
                "created_by": alice,
                "description": "Who waters what, and when.",
            },
        )
        GroupMembership.objects.get_or_create(
            group=group, user=alice, defaults={"role": GroupMembership.Role.OWNER}
        )
        GroupPost.objects.get_or_create(
            group=group, author=alice, body="Tomatoes need water every evening."
        )
        conversation = (
            Conversation.objects.filter(participants=alice)
            .filter(participants=carol)
            .first()
            or Conversation.objects.create()
        )
        conversation.participants.add(alice, carol)
        Message.objects.get_or_create(
            conversation=conversation,
            sender=carol,
            body="Alice, can you open the shed on Saturday?",
        )
        FriendRequest.objects.get_or_create(sender=carol, recipient=alice)

    with use_tenant(globex):
        _posts(users, GLOBEX_POSTS)
        Follow.objects.get_or_create(follower=carol, followee=bob)

    stdout.write("Social launch: sign in, then try:\n")
    _say(stdout, acme, "social:feed", "alice sees her 4 posts, carol 2 of them")
    _say(stdout, acme, "social:friends", "alice accepts carol's friend request")
    _say(stdout, acme, "social:feed", "then carol sees alice's followers post")
    _say(stdout, acme, "social:groups", "carol joins alice's Gardeners group")
    _say(stdout, acme, "social:conversations", "alice answers carol's message")
    _say(stdout, globex, "social:feed", "bob reads Globex; Acme's pages are 404")
    _say(stdout, acme, "social:friends", "any address gets the same answer")
