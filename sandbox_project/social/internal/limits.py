"""Friend-request limits as HTTP answers: 429 or 503, each with Retry-After."""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import (
    FriendRequestLimited,
    FriendRequestLimiterUnavailable,
)
from hardened_rbac.friend_requests import limit_friend_request

logger = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER = 30


def seconds_until_windows_reset(now: float | None = None) -> int:
    """Seconds until every friend-request window starts again.

    The limiter counts in fixed windows aligned to multiples of each period,
    so once the longest remaining window has ended no counter is over.
    """
    current = int(time.time() if now is None else now)
    remaining = [
        int(period) - current % int(period)
        for _limit, period in app_settings.FRIEND_REQUEST_LIMITS.values()
    ]
    return max(remaining, default=1)


def _answer(request: HttpRequest, status: int, retry_after: int) -> HttpResponse:
    body = render_to_string(
        "social/limited.html",
        {"retry_after": retry_after, "unavailable": status == 503},
        request=request,
    )
    response = HttpResponse(body, status=status)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def refuse_if_limited(request: HttpRequest) -> HttpResponse | None:
    """Count one friend request; the answer to send instead when over a limit."""
    try:
        limit_friend_request(request)
    except FriendRequestLimiterUnavailable:
        return _answer(request, 503, UNAVAILABLE_RETRY_AFTER)
    except FriendRequestLimited:
        logger.warning("friend request refused: over a limit")
        return _answer(request, 429, seconds_until_windows_reset())
    return None
