"""Count attempts per client IP and per submitted identifier.

Each attempt is counted by :mod:`hardened_auth.internal.counters` in
django-ratelimit's fixed-window counters, in the cache named by
``RATELIMIT_USE_CACHE``. This module adds what the login limiter needs on top:
any cache failure raises :class:`RateLimiterUnavailable` instead of letting
the attempt through, and the time left in the window becomes Retry-After.
"""

import logging
from dataclasses import dataclass

from django.http import HttpRequest

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings
from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import counters
from hardened_auth.internal.identifiers import fold_email, normalise_identifier

logger = logging.getLogger(__name__)

IDENTIFIER_FIELDS = ("login", "username", "email")
REFRESH_TOKEN_FIELD = "refresh_token"
DIMENSIONS = ("ip", "identifier")


@dataclass(frozen=True)
class Decision:
    """The outcome of counting one attempt."""

    allowed: bool
    retry_after: int = 0
    dimension: str | None = None


def submitted_identifier(request: HttpRequest) -> str | None:
    """Return the account an attempt is about, normalised, or ``None``.

    That is the submitted identifier, else the token family of a submitted
    refresh token, else the signed-in user. An unknown refresh token has no
    family and is limited by its client's address alone.
    """
    for field in IDENTIFIER_FIELDS:
        value = request.POST.get(field)
        if value:
            return "id:" + normalise_identifier(fold_email(value))
    presented = request.POST.get(REFRESH_TOKEN_FIELD)
    if presented:
        from hardened_auth.internal.tokens import family_of

        family = family_of(str(presented))
        return None if family is None else f"family:{family}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _count(request: HttpRequest, group: str, value: str, rate: str) -> Decision:
    try:
        usage = counters.count(request, group, value, rate)
    except Exception as exc:
        logger.error("rate limit cache failed for %s: %s", group, type(exc).__name__)
        raise RateLimiterUnavailable(group) from exc
    if usage is None:
        logger.error("rate limit cache could not count %s", group)
        raise RateLimiterUnavailable(group)
    if usage.exhausted:
        return Decision(False, max(1, usage.time_left))
    return Decision(True)


def check(request: HttpRequest, scope: str) -> Decision:
    """Count one attempt in ``scope``; refuse it at the first exhausted dimension.

    The client's address is counted first, so an attempt from an address
    over its limit is refused before its body is parsed for an identifier.
    An attempt goes through only once every dimension has counted it, so no
    key lets more attempts through than its rate; a refused attempt is no
    guess, whichever dimensions counted it.
    """
    rates = app_settings.RATE_LIMITS.get(scope, {})
    for dimension in DIMENSIONS:
        rate = rates.get(dimension)
        if rate is None:
            continue
        if dimension == "ip":
            value: str | None = get_client_ip(request)
        else:
            value = submitted_identifier(request)
        if value is None:
            continue
        decision = _count(request, f"hardened_auth.{scope}.{dimension}", value, rate)
        if not decision.allowed:
            return Decision(False, decision.retry_after, dimension)
    return Decision(True)
