"""API tokens: short-lived access tokens and rotating refresh tokens.

Clients obtain a pair at ``auth/token/``, present the access token as
``Authorization: Bearer <token>`` to views wrapped in
:func:`bearer_token_required`, and exchange the refresh token at
``auth/token/refresh/`` for a new pair. A refresh token works once; using
one again revokes every token descended from the same sign-in.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, JsonResponse

from hardened_auth.exceptions import TokenRefused
from hardened_auth.internal import audit
from hardened_auth.internal.tokens import user_for_access_token

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def _unauthorized(reason: str) -> JsonResponse:
    response = JsonResponse({"error": "invalid_token"}, status=401)
    response["WWW-Authenticate"] = (
        f'Bearer error="invalid_token", error_description="{reason}"'
    )
    response["Cache-Control"] = "no-store"
    return response


def bearer_token_required(view: ViewFunc) -> ViewFunc:
    """Run the view as the user of a valid ``Authorization: Bearer`` token."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return _unauthorized("missing")
        try:
            user = user_for_access_token(presented.strip())
        except TokenRefused as refused:
            audit.emit(
                "authn_token_invalid",
                outcome="denied",
                request=request,
                cause=refused.reason,
            )
            return _unauthorized(refused.reason)
        request.user = user  # type: ignore[assignment]
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
