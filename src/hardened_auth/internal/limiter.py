"""Count attempts per client IP and per submitted identifier.

Counting is delegated to django-ratelimit's ``get_usage``, which keeps a
fixed-window counter per key in the cache named by ``RATELIMIT_USE_CACHE``
and hashes the key. This module adds what the login limiter needs on top:
any cache failure raises :class:`RateLimiterUnavailable` instead of letting
the attempt through, and the time left in the window becomes Retry-After.
"""

import logging
from dataclasses import dataclass

from django.http import HttpRequest
from django_ratelimit.core import get_usage

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings
from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal.identifiers import fold_email, normalise_identifier

logger = logging.getLogger(__name__)

IDENTIFIER_FIELDS = ("login", "username", "email")
REFRESH_TOKEN_FIELD = "refresh_token"


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
        usage = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=rate,
            increment=True,
        )
    except Exception as exc:
        logger.error("rate limit cache failed for %s: %s", group, type(exc).__name__)
        raise RateLimiterUnavailable(group) from exc
    if usage is None or usage["time_left"] < 0:
        logger.error("rate limit cache could not count %s", group)
        raise RateLimiterUnavailable(group)
    if usage["should_limit"]:
        return Decision(False, max(1, int(usage["time_left"])))
    return Decision(True)


def check(request: HttpRequest, scope: str) -> Decision:
    """Count one attempt in ``scope``; refuse it if any dimension is exhausted.

    Every dimension is counted even when an earlier one already refuses, so an
    attacker cannot save budget on one key by exhausting another.
    """
    rates = app_settings.RATE_LIMITS.get(scope, {})
    values = {"ip": get_client_ip(request), "identifier": submitted_identifier(request)}
    refusal: Decision | None = None
    for dimension, rate in sorted(rates.items()):
        value = values.get(dimension)
        if value is None:
            continue
        decision = _count(request, f"hardened_auth.{scope}.{dimension}", value, rate)
        if not decision.allowed and (
            refusal is None or decision.retry_after > refusal.retry_after
        ):
            refusal = Decision(False, decision.retry_after, dimension)
    return refusal or Decision(True)
