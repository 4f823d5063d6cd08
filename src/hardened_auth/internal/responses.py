"""Small helpers shared by the views: content negotiation and safe redirects."""

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

_JSON_TYPES = ("application/json", "+json")


def wants_json(request: HttpRequest) -> bool:
    """Tell whether the client asked for JSON rather than an HTML page.

    The headers are read from ``META`` directly: refusals answer floods of
    requests, and ``request.headers`` would copy every header of each one.
    """
    meta = request.META
    accept = str(meta.get("HTTP_ACCEPT", ""))
    if "text/html" in accept:
        return False
    if any(kind in accept for kind in _JSON_TYPES):
        return True
    if str(meta.get("CONTENT_TYPE", "")).startswith("application/json"):
        return True
    return meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest"


def safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """Return ``candidate`` when it stays on this site, otherwise ``None``."""
    if not candidate:
        return None
    if url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return None
