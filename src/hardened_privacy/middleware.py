"""Give every request an id that its audit records and its response carry."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from hardened_privacy.conf import app_settings
from hardened_privacy.internal import request_id

RESPONSE_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Bind a request id for the duration of each request.

    The id is fresh unless ``HARDENED_PRIVACY_REQUEST_ID_HEADER`` names a
    header that a trusted proxy sets; a well-formed value there is kept so
    one id follows the request through the proxy's logs and ours. Place it
    first in ``MIDDLEWARE`` so every later audit event carries the id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = app_settings.REQUEST_ID_HEADER
        upstream = request.headers.get(header) if header else None
        with request_id.bound(request_id.accept(upstream)) as current:
            request.request_id = current  # type: ignore[attr-defined]
            response = self.get_response(request)
        response[RESPONSE_HEADER] = current
        return response
