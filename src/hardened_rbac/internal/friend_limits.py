"""Fixed-window counters of friend requests per sender and per address."""

from __future__ import annotations

import logging
import time

from django.core.cache import caches
from django.http import HttpRequest

from hardened_auth.client_ip import get_client_ip
from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import (
    FriendRequestLimited,
    FriendRequestLimiterUnavailable,
)
from hardened_rbac.internal import audit

logger = logging.getLogger(__name__)

PREFIX = "hardened_rbac:friend:v1"


def _count(key: str, period: int) -> int:
    window = int(time.time()) // period
    full_key = f"{PREFIX}:{key}:{period}:{window}"
    cache = caches[app_settings.FRIEND_REQUEST_CACHE]
    cache.add(full_key, 0, timeout=period + 1)
    return int(cache.incr(full_key))


def count_friend_request(request: HttpRequest) -> None:
    """Count one friend request; raise when the sender or address is over."""
    user = getattr(request, "user", None)
    sender = str(user.pk) if user is not None and user.is_authenticated else "anon"
    address = get_client_ip(request) or "unknown"
    limits = app_settings.FRIEND_REQUEST_LIMITS
    for dimension, owner in (("sender", sender), ("ip", address)):
        limit, period = limits[dimension]
        try:
            used = _count(f"{dimension}:{owner}", int(period))
        except Exception as exc:
            logger.error("friend request limiter failed: %s", type(exc).__name__)
            raise FriendRequestLimiterUnavailable(
                "Friend requests cannot be counted now; the request is refused."
            ) from exc
        if used > int(limit):
            audit.emit(
                "excess_rate_limit_exceeded",
                outcome="denied",
                actor=sender if sender != "anon" else None,
                ip=address,
                action="friend_request",
                dimension=dimension,
            )
            raise FriendRequestLimited("Too many friend requests; try again later.")
