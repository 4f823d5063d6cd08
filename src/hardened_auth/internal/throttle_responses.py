"""Responses for attempts the limiter refuses."""

from functools import lru_cache

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language

from hardened_auth.internal.identifiers import MAX_IDENTIFIER_LENGTH
from hardened_auth.internal.limiter import IDENTIFIER_FIELDS
from hardened_auth.internal.responses import safe_next, wants_json

UNAVAILABLE_RETRY_AFTER = 30


@lru_cache(maxsize=1024)
def _refusal_page(template: str, retry_after: int, language: str | None) -> str:
    """A refusal page, rendered once per template, wait and language.

    Refusals come in floods and their pages say nothing but how long to
    wait, so they are rendered without the request's context and kept.
    """
    return render_to_string(template, {"retry_after": retry_after})


def _as_json(request: HttpRequest, as_json: bool | None) -> bool:
    """``as_json`` when the view fixes the format, else what the client asked."""
    return wants_json(request) if as_json is None else as_json


def _respond(
    request: HttpRequest,
    status: int,
    error: str,
    template: str,
    retry_after: int,
    as_json: bool | None,
) -> HttpResponse:
    response: HttpResponse
    if _as_json(request, as_json):
        response = JsonResponse(
            {"error": error, "retry_after": retry_after}, status=status
        )
    else:
        body = _refusal_page(template, retry_after, get_language())
        response = HttpResponse(body, status=status)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited_response(
    request: HttpRequest, retry_after: int, as_json: bool | None = None
) -> HttpResponse:
    """``429`` with ``Retry-After``, as an HTML page or as JSON.

    With ``as_json`` left as ``None`` the client's headers choose the format.
    """
    return _respond(
        request,
        429,
        "rate_limited",
        "hardened_auth/rate_limited.html",
        retry_after,
        as_json,
    )


def limiter_unavailable_response(
    request: HttpRequest, as_json: bool | None = None
) -> HttpResponse:
    """``503``: the limiter cannot count, so the attempt is not let through."""
    return _respond(
        request,
        503,
        "rate_limiter_unavailable",
        "hardened_auth/limiter_unavailable.html",
        UNAVAILABLE_RETRY_AFTER,
        as_json,
    )


def challenge_required_response(
    request: HttpRequest,
    challenge: dict[str, object],
    retry_after: int = 0,
    as_json: bool | None = None,
) -> HttpResponse:
    """``429`` asking for a solved proof-of-work challenge with the next try.

    A browser gets a page that solves the challenge and asks again for the
    identifier (filled in) and the password; ``retry_after`` tells a visitor
    without JavaScript how long the challenge stays required.
    """
    response: HttpResponse
    if _as_json(request, as_json):
        response = JsonResponse(
            {"error": "challenge_required", "challenge": challenge}, status=429
        )
    else:
        body = render_to_string(
            "hardened_auth/challenge_required.html",
            {"challenge_json": challenge, "retry_after": retry_after}
            | _resubmission(request),
            request=request,
        )
        response = HttpResponse(body, status=429)
    response["Cache-Control"] = "no-store"
    return response


def _resubmission(request: HttpRequest) -> dict[str, object]:
    """What the challenge page carries over from the refused attempt.

    Only the identifier is filled in again; the password and any code are
    asked for afresh, never echoed into the page.
    """
    field = next((f for f in IDENTIFIER_FIELDS if f in request.POST), "login")
    next_url = safe_next(request, request.POST.get("next"))
    otp_device = request.POST.get("otp_device") if "otp_token" in request.POST else None
    return {
        "action": request.get_full_path(),
        "identifier_field": field,
        "identifier": str(request.POST.get(field, ""))[:MAX_IDENTIFIER_LENGTH],
        "next": next_url or "",
        "otp_device": None if otp_device is None else str(otp_device)[:200],
    }
