"""Middleware of hardened_auth."""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from hardened_auth.conf import app_settings
from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import audit, limiter
from hardened_auth.internal.throttle_responses import (
    limiter_unavailable_response,
    rate_limited_response,
)

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class RateLimitMiddleware:
    """Count each POST to a rate-limited view before the view runs.

    The view, and so any password hashing, runs only when the attempt is
    within every limit of its scope. When the cache cannot count, the attempt
    is refused with ``503``: a limiter that cannot count must not let
    guesses through.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS or request.resolver_match is None:
            return None
        scope = app_settings.RATE_LIMITED_VIEWS.get(request.resolver_match.view_name)
        if scope is None:
            return None

        try:
            decision = limiter.check(request, scope)
        except RateLimiterUnavailable:
            audit.emit(
                "excess_rate_limit_exceeded",
                outcome="denied",
                request=request,
                target=scope,
                reason="limiter_unavailable",
            )
            return limiter_unavailable_response(request)

        if decision.allowed:
            return None
        audit.emit(
            "excess_rate_limit_exceeded",
            outcome="denied",
            request=request,
            target=scope,
            dimension=decision.dimension,
            retry_after=decision.retry_after,
        )
        logger.warning("rate limit %s.%s exceeded", scope, decision.dimension)
        return rate_limited_response(request, decision.retry_after)
