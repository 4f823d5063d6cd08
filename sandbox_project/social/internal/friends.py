"""Friend requests: sent by address, accepted once through a signed link.

Sending never tells the sender whether the address belongs to a member: the
lookup, the checks, the work and the answer are the same either way, and
only a member of the current community with that verified address is asked.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from hardened_rbac.action_links import action_link, make_token
from hardened_rbac.conf import app_settings as rbac_settings
from hardened_rbac.tenancy import require_tenant
from social.internal.community import members
from social.models import Follow, FriendRequest

logger = logging.getLogger(__name__)

ACCEPT_ACTION = "accept_friend_request"


def member_with_address(address: str) -> Any | None:
    """The active member of the current tenant with this verified address."""
    owner = (
        EmailAddress.objects.filter(email__iexact=address.strip(), verified=True)
        .values("user_id")
        .first()
    )
    return members().filter(pk=owner["user_id"] if owner else None).first()


def _already_linked(sender: Any, recipient: Any) -> bool:
    return bool(
        FriendRequest.objects.filter(
            Q(sender=sender, recipient=recipient)
            | Q(sender=recipient, recipient=sender)
        ).exists()
    )


def accept_path(friend_request: FriendRequest) -> str:
    return reverse("social:accept_friend_request", args=[friend_request.pk])


def accept_token(friend_request: FriendRequest) -> str:
    """The token of a fresh accept link, for a form that posts it."""
    return make_token(
        friend_request.recipient,
        ACCEPT_ACTION,
        friend_request,
        accept_path(friend_request),
    )


def accept_link(friend_request: FriendRequest) -> str:
    """A signed, single-use link for the recipient to accept with."""
    return action_link(
        friend_request.recipient,
        ACCEPT_ACTION,
        friend_request,
        accept_path(friend_request),
    )


def _mail(request: HttpRequest, friend_request: FriendRequest) -> EmailMessage:
    """The mail that asks the recipient, with a signed accept link."""
    link = request.build_absolute_uri(accept_link(friend_request))
    minutes = max(1, rbac_settings.ACTION_LINK_MAX_AGE // 60)
    return EmailMessage(
        "A friend request",
        f"{friend_request.sender.get_username()} would like to be your friend in "
        f"{require_tenant().name}.\n\nAccept within {minutes} minutes: {link}\n",
        None,
        [friend_request.recipient.email],
    )


def _rehearse(request: HttpRequest, sender: Any) -> None:
    """Make, sign and render a request to the sender, then undo it all."""
    with transaction.atomic():
        rehearsal = FriendRequest.objects.create(sender=sender, recipient=sender)
        _mail(request, rehearsal).message()
        transaction.set_rollback(True)


def send_request(request: HttpRequest, address: str) -> None:
    """Ask the member with ``address`` to be friends, if there is one.

    Every address costs the same work. Where nobody is to be asked (no such
    member, the sender, or a pair already linked) a request to the sender
    is saved, its link signed and its mail rendered inside a savepoint that
    is rolled back, and nothing is sent.
    """
    sender = request.user
    recipient = member_with_address(address)
    if recipient is not None and recipient.pk == sender.pk:
        recipient = None
    with transaction.atomic():
        linked = _already_linked(sender, recipient or sender)
        if recipient is None or linked:
            _rehearse(request, sender)
            return
        friend_request = FriendRequest.objects.create(
            sender=sender, recipient=recipient
        )
    _mail(request, friend_request).send()
    logger.info("friend request %s sent", friend_request.pk)


def accept(friend_request: FriendRequest) -> bool:
    """Accept a pending request; each then follows the other. False if done."""
    with transaction.atomic():
        updated = FriendRequest.objects.filter(
            pk=friend_request.pk, status=FriendRequest.Status.PENDING
        ).update(status=FriendRequest.Status.ACCEPTED, answered_at=timezone.now())
        if not updated:
            return False
        sender, recipient = friend_request.sender, friend_request.recipient
        Follow.objects.get_or_create(follower=sender, followee=recipient)
        Follow.objects.get_or_create(follower=recipient, followee=sender)
    logger.info("friend request %s accepted", friend_request.pk)
    return True


def friends_of(user: Any) -> QuerySet[Any]:
    """The user's friends in the current tenant."""
    accepted = FriendRequest.objects.filter(status=FriendRequest.Status.ACCEPTED)
    return (
        get_user_model()
        .objects.filter(
            Q(pk__in=accepted.filter(sender=user).values("recipient_id"))
            | Q(pk__in=accepted.filter(recipient=user).values("sender_id"))
        )
        .order_by("username")
    )
