"""The Stripe webhook endpoint.

A request is believed only when it comes from an allowed address (seen
through trusted proxies), is no larger than the limit, carries a signature
made with a configured secret by the official ``stripe`` library's scheme, and
its timestamp is within the tolerance in either direction. ``DEBUG`` changes
none of this.
"""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from hardened_payments.internal import audit
from hardened_payments.internal import webhooks as _webhooks

logger = logging.getLogger(__name__)


def _refuse(request: HttpRequest, refused: _webhooks.Refused) -> JsonResponse:
    audit.emit(
        "webhook_refused",
        outcome="denied",
        request=request,
        target="stripe",
        refusal=refused.code,
    )
    return JsonResponse({"error": refused.code}, status=refused.status)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify, store and process one Stripe event."""
    try:
        if not _webhooks.source_allowed(request):
            raise _webhooks.Refused(403, "source_not_allowed")
        body = _webhooks.read_body(request)
        header = request.META.get(_webhooks.SIGNATURE_HEADER)
        event = _webhooks.verify(body, header)
        assert header is not None
        stored = _webhooks.record(event, body, header)
    except _webhooks.Refused as refused:
        return _refuse(request, refused)

    if stored is None:
        return JsonResponse({"status": "duplicate"})
    audit.emit(
        "webhook_received",
        outcome="success",
        request=request,
        target=stored.type,
        provider_event_id=stored.event_id,
    )
    processed = _webhooks.process(stored.pk)
    return JsonResponse({"status": "processed" if processed else "queued"})
