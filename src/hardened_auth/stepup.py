"""Require a recent second-factor verification before a sensitive view.

A view wrapped in :func:`step_up_required` (or a class-based view using
:class:`StepUpRequiredMixin`) runs only when the session proved a second
factor no more than ``max_age`` seconds ago. Otherwise an HTML client is sent
to the verification page with a ``next`` parameter that brings it back, and
a JSON client gets ``401 {"error": "step_up_required"}``.
"""

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url

from hardened_auth.conf import app_settings
from hardened_auth.internal import audit
from hardened_auth.internal.responses import safe_next, wants_json

SESSION_KEY = "hardened_auth.verified_at"

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def mark_second_factor_verified(request: HttpRequest) -> None:
    """Record that the session just proved a second factor; rotate its key."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = int(time.time())


def verified_within(request: HttpRequest, max_age_seconds: int) -> bool:
    """Tell whether the session proved a second factor in the last N seconds."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    verified_at = request.session.get(SESSION_KEY)
    if not isinstance(verified_at, int) or isinstance(verified_at, bool):
        return False
    age = int(time.time()) - verified_at
    return 0 <= age <= max_age_seconds


def step_up_response(request: HttpRequest) -> HttpResponse:
    """Answer a request whose step-up is missing or too old."""
    return _verification_response(request, "step_up_required")


def second_factor_required_response(request: HttpRequest) -> HttpResponse:
    """Answer a request of a session that has not verified its second factor."""
    return _verification_response(request, "second_factor_required")


def _verification_response(request: HttpRequest, reason: str) -> HttpResponse:
    audit.emit(
        "authz_fail",
        outcome="denied",
        request=request,
        target=request.path,
        cause=reason,
    )
    if wants_json(request):
        return JsonResponse({"error": reason}, status=401)
    url = resolve_url(app_settings.STEP_UP_URL)
    next_url = safe_next(request, _return_to(request))
    if next_url is not None:
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}{urlencode({'next': next_url})}"
    return HttpResponseRedirect(url)


def _return_to(request: HttpRequest) -> str | None:
    """Where verification should send the browser back to.

    A refused ``GET`` is repeated; a refused form post cannot be, since the
    return is a ``GET``, so the browser goes back to the page that held the
    form (its same-site ``Referer``) and submits it again from there.
    """
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return request.headers.get("Referer")


def _max_age(max_age: int | None) -> int:
    return app_settings.STEP_UP_MAX_AGE if max_age is None else max_age


def step_up_required(max_age: int | None = None) -> Callable[[ViewFunc], ViewFunc]:
    """Decorate a view so it needs a second factor verified within max_age s."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not verified_within(request, _max_age(max_age)):
                return step_up_response(request)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


class StepUpRequiredMixin:
    """Class-based view mixin; set ``step_up_max_age`` to override the default."""

    step_up_max_age: int | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not verified_within(request, _max_age(self.step_up_max_age)):
            return step_up_response(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
