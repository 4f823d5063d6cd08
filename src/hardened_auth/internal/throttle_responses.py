"""Responses for attempts the limiter refuses."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from hardened_auth.internal.responses import wants_json

UNAVAILABLE_RETRY_AFTER = 30


def _respond(
    request: HttpRequest, status: int, error: str, template: str, retry_after: int
) -> HttpResponse:
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {"error": error, "retry_after": retry_after}, status=status
        )
    else:
        body = render_to_string(template, {"retry_after": retry_after}, request=request)
        response = HttpResponse(body, status=status)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    """``429`` with ``Retry-After``, as an HTML page or as JSON."""
    return _respond(
        request, 429, "rate_limited", "hardened_auth/rate_limited.html", retry_after
    )


def limiter_unavailable_response(request: HttpRequest) -> HttpResponse:
    """``503``: the limiter cannot count, so the attempt is not let through."""
    return _respond(
        request,
        503,
        "rate_limiter_unavailable",
        "hardened_auth/limiter_unavailable.html",
        UNAVAILABLE_RETRY_AFTER,
    )


def challenge_required_response(
    request: HttpRequest, challenge: dict[str, object]
) -> HttpResponse:
    """``429`` asking for a solved proof-of-work challenge with the next try."""
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {"error": "challenge_required", "challenge": challenge}, status=429
        )
    else:
        body = render_to_string(
            "hardened_auth/challenge_required.html",
            {"challenge_json": challenge},
            request=request,
        )
        response = HttpResponse(body, status=429)
    response["Cache-Control"] = "no-store"
    return response
