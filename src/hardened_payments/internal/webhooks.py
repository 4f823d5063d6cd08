"""Verifying, recording and processing provider webhooks.

Nothing is written before :func:`verify` accepts the request. Each stored
event is processed by :func:`process` in one transaction together with the
row that marks it processed, so a handler's effects happen exactly once; a
failing handler leaves the event for ``hardened_payments_process_webhooks``.
"""

import hashlib
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from hardened_auth.client_ip import get_client_ip
from hardened_payments.conf import app_settings
from hardened_payments.internal import checkout, djstripe_mirror, flows
from hardened_payments.models import WebhookEvent
from hardened_payments.money import Money

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_STRIPE_SIGNATURE"
RETRY_BASE_SECONDS = 30


class Refused(Exception):
    """The request is not a verified event; ``status`` and ``code`` say why."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def source_allowed(request: HttpRequest) -> bool:
    address = get_client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in app_settings.WEBHOOK_ALLOWED_IPS:
        if ip in ipaddress.ip_network(entry, strict=False):
            return True
    return False


def read_body(request: HttpRequest) -> bytes:
    limit = app_settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "bad_content_length") from None
    if declared < 0:
        raise Refused(400, "bad_content_length")
    if declared > limit:
        raise Refused(413, "body_too_large")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise Refused(413, "body_too_large")
    return body


def _timestamp(header: str) -> int:
    stamps = [
        item.partition("=")[2] for item in header.split(",") if item.startswith("t=")
    ]
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise Refused(400, "bad_signature_header")
    return int(stamps[0])


def verify(body: bytes, header: str | None) -> dict[str, Any]:
    """Return the event if one configured secret signed it recently."""
    secrets = list(app_settings.WEBHOOK_SECRETS)
    if not secrets:
        raise Refused(503, "webhooks_not_configured")
    if not header:
        raise Refused(400, "missing_signature")
    tolerance = app_settings.WEBHOOK_TOLERANCE
    if abs(time.time() - _timestamp(header)) > tolerance:
        raise Refused(400, "timestamp_out_of_tolerance")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "bad_encoding") from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        break
    else:
        raise Refused(400, "bad_signature")

    try:
        event = json.loads(payload)
    except ValueError:
        raise Refused(400, "malformed_json") from None
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and event["id"].startswith("evt_")
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise Refused(400, "malformed_event")
    if event["type"] not in HANDLERS:
        raise Refused(400, "unhandled_event_type")
    return event


def signed_digest(body: bytes, header: str) -> str:
    """Digest of what the signature covers: the timestamp and the body.

    Entries added to the header (junk, extra ``v1=`` values, other schemes)
    do not change it, so a replay cannot be disguised as a new delivery.
    """
    signed = str(_timestamp(header)).encode() + b"." + body
    return hashlib.sha256(signed).hexdigest()


def record(event: dict[str, Any], body: bytes, header: str) -> WebhookEvent | None:
    """Store a verified event; ``None`` when its id was already stored.

    A signed timestamp and body seen before is a replay of the very same
    request and is refused, whatever else the header carries; the same event
    id under a new signature is the provider delivering again and is
    acknowledged without processing it twice.
    """
    digest = signed_digest(body, header)
    if WebhookEvent.objects.filter(signature_digest=digest).exists():
        raise Refused(409, "replayed_signature")
    if WebhookEvent.objects.filter(event_id=event["id"]).exists():
        return None
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                event_id=event["id"],
                type=event["type"],
                payload=event,
                signature_digest=digest,
            )
    except IntegrityError:
        if WebhookEvent.objects.filter(signature_digest=digest).exists():
            raise Refused(409, "replayed_signature") from None
        return None


def process(event_pk: int) -> bool:
    """Run the event's handler once; return whether it is now processed."""
    now = timezone.now()
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(
                pk=event_pk,
                status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED],
            )
            .first()
        )
        if event is None:
            return False
        event.attempts += 1
        try:
            with transaction.atomic():
                HANDLERS[event.type](event.payload, event.event_id)
        except Exception as exc:
            dead = event.attempts >= app_settings.WEBHOOK_MAX_ATTEMPTS
            event.status = (
                WebhookEvent.Status.DEAD if dead else WebhookEvent.Status.FAILED
            )
            event.last_error = type(exc).__name__
            delay = RETRY_BASE_SECONDS * 2 ** (event.attempts - 1)
            event.next_attempt_at = None if dead else now + timedelta(seconds=delay)
            event.save()
            logger.warning(
                "Webhook %s handler failed (attempt %d): %s",
                event.event_id,
                event.attempts,
                event.last_error,
            )
            return False
        event.status = WebhookEvent.Status.PROCESSED
        event.processed_at = now
        event.next_attempt_at = None
        event.last_error = ""
        event.save()
    logger.info("Webhook %s processed", event.event_id)
    if djstripe_mirror.enabled():
        djstripe_mirror.mirror(event.payload)
    return True


def _payment_succeeded(event: dict[str, Any], event_id: str) -> None:
    intent = event["data"]["object"]
    metadata = intent.get("metadata")
    if isinstance(metadata, dict) and checkout.METADATA_REFERENCE in metadata:
        # A checkout's intent is paid by checkout.session.completed.
        return
    amount = Money(intent["amount"], str(intent["currency"]).upper())
    flows.mark_payment_succeeded(intent["id"], amount, event_id)


def _payment_failed(event: dict[str, Any], event_id: str) -> None:
    flows.mark_payment_failed(event["data"]["object"]["id"], event_id)


def _payout_settled(event: dict[str, Any], event_id: str) -> None:
    from hardened_payments.internal import payouts
    from hardened_payments.providers import get_provider

    payouts.settle(
        get_provider(),
        event["data"]["object"]["id"],
        event_id,
        timeout=app_settings.WEBHOOK_PROVIDER_TIMEOUT,
    )


def _checkout_paid(event: dict[str, Any], event_id: str) -> None:
    checkout.complete(event["data"]["object"], event_id)


def _checkout_expired(event: dict[str, Any], event_id: str) -> None:
    checkout.expire(event["data"]["object"], event_id)


HANDLERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "checkout.session.completed": _checkout_paid,
    "checkout.session.async_payment_succeeded": _checkout_paid,
    "checkout.session.expired": _checkout_expired,
    "payment_intent.succeeded": _payment_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "payout.paid": _payout_settled,
    "payout.failed": _payout_settled,
}
