"""Middleware of hardened_auth."""

import logging
import time
from collections.abc import Callable

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse

from hardened_auth.conf import app_settings
from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import audit, limiter, routing, velocity
from hardened_auth.internal import sessions as session_binding
from hardened_auth.internal.second_factor import has_second_factor
from hardened_auth.internal.throttle_responses import (
    challenge_required_response,
    limiter_unavailable_response,
    rate_limited_response,
)
from hardened_auth.stepup import second_factor_required_response

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

NO_DEVICE_CHECKED_KEY = "hardened_auth.no_device_checked_at"
NO_DEVICE_RECHECK_SECONDS = 60

# The view RateLimitMiddleware counted a request for before Django resolved it.
CHECKED_VIEW_ATTR = "_hardened_auth_rate_checked_view"

TOKEN_OBTAIN_VIEW = "hardened_auth:token"
API_VIEWS = frozenset(
    {TOKEN_OBTAIN_VIEW, "hardened_auth:token_refresh", "hardened_auth:token_revoke"}
)

SECOND_FACTOR_EXEMPT_VIEWS = frozenset(
    {
        "hardened_auth:step_up",
        "account_logout",
        "admin:logout",
        "otp_webauthn:credential-authentication-begin",
        "otp_webauthn:credential-authentication-complete",
        "otp_webauthn:js-i18n-catalog",
    }
)


class RateLimitMiddleware:
    """Count each POST to a rate-limited view before the view runs.

    The view, and so any password hashing, runs only when the attempt is
    within every limit of its scope. The attempt is counted as soon as the
    request reaches this middleware, before the middleware after it run and
    before the form is parsed for the CSRF check; when a middleware after it
    sends the request to another view (by rewriting its path), that view's
    limits are applied once Django has resolved it. When the cache cannot
    count, the attempt is refused with ``503``: a limiter that cannot count
    must not let guesses through. Sign-ins (the ``login`` scope and the API
    token endpoint) also pass the velocity friction: delay, challenge, lock.
    The token endpoints always answer in JSON.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            view_name = routing.view_name(request)
            if view_name is not None:
                setattr(request, CHECKED_VIEW_ATTR, view_name)
                refusal = self._check(request, view_name)
                if refusal is not None:
                    return refusal
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
        view_name = request.resolver_match.view_name
        if getattr(request, CHECKED_VIEW_ATTR, None) == view_name:
            return None
        return self._check(request, view_name)

    def _check(self, request: HttpRequest, view_name: str) -> HttpResponse | None:
        scope = app_settings.RATE_LIMITED_VIEWS.get(view_name)
        if scope is None:
            return None
        as_json = True if view_name in API_VIEWS else None

        try:
            decision = limiter.check(request, scope)
        except RateLimiterUnavailable:
            audit.emit(
                "excess_rate_limit_exceeded",
                outcome="denied",
                request=request,
                target=scope,
                cause="limiter_unavailable",
            )
            return limiter_unavailable_response(request, as_json)

        if decision.allowed:
            if scope == "login" or view_name == TOKEN_OBTAIN_VIEW:
                return self._apply_friction(request, scope, as_json)
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
        return rate_limited_response(request, decision.retry_after, as_json)

    @staticmethod
    def _apply_friction(
        request: HttpRequest, scope: str, as_json: bool | None
    ) -> HttpResponse | None:
        try:
            current = velocity.friction(request)
            if current.stage is None or (
                current.stage == "challenge" and velocity.challenge_solved(request)
            ):
                return None
        except RateLimiterUnavailable:
            return limiter_unavailable_response(request, as_json)

        event = {
            "delay": "excess_rate_limit_exceeded",
            "challenge": "authn_challenge_required",
            "lock": "authn_login_lock",
        }[current.stage]
        audit.emit(
            event,
            outcome="denied",
            request=request,
            target=scope,
            dimension=current.dimension,
            stage=current.stage,
        )
        if current.stage == "challenge":
            return challenge_required_response(
                request, velocity.new_challenge(), current.retry_after, as_json
            )
        return rate_limited_response(request, current.retry_after, as_json)


class SecondFactorMiddleware:
    """Hold a signed-in user who has a device until the device is verified.

    Between the password and the second factor the session may reach only
    the verification page, sign-out and the passkey endpoints; any other
    request is sent to verification (or answered ``401`` for JSON clients).
    Place it after ``django_otp.middleware.OTPMiddleware``.
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
        user = request.user
        if not isinstance(user, AbstractBaseUser) or user.is_verified():  # type: ignore[attr-defined]
            return None
        match = request.resolver_match
        if match is not None and match.view_name in SECOND_FACTOR_EXEMPT_VIEWS:
            return None
        if self._has_no_device(request, user):
            return None
        return second_factor_required_response(request)

    @staticmethod
    def _has_no_device(request: HttpRequest, user: AbstractBaseUser) -> bool:
        """Look the user's devices up at most once a minute per session.

        A device enrolled in this session verifies it at once; one enrolled
        in another session reaches this one within a minute.
        """
        now = int(time.time())
        checked = request.session.get(NO_DEVICE_CHECKED_KEY)
        if isinstance(checked, int) and 0 <= now - checked < NO_DEVICE_RECHECK_SECONDS:
            return True
        if has_second_factor(user):
            request.session.pop(NO_DEVICE_CHECKED_KEY, None)
            return False
        request.session[NO_DEVICE_CHECKED_KEY] = now
        return True


class SessionBindingMiddleware:
    """End sessions that are revoked, idle, too old or on another device.

    Before the view it checks the session's data; after the view, when the
    session is about to be saved or its key changed, it confirms the
    session's row and records the current key in it. Place it after
    ``django_otp.middleware.OTPMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            session_binding.check(request)
        response = self.get_response(request)
        session_binding.settle(request)
        return response
