"""The local provider's side of a payment: settle, sign, deliver.

When the buyer confirms on the local checkout page (or the seller's bank
"pays" a payout), the stand-in records the outcome, builds the event Stripe
would send, in Stripe's event shape, signs it with the first configured
webhook secret by Stripe's scheme, and hands it to the webhook endpoint's
view as a request from this machine. The endpoint checks it exactly as it
checks Stripe's: source address, size, signature, timestamp and replay.
"""

import io
import json
import logging
import time
from typing import Any

import stripe
from django.core.handlers.wsgi import WSGIRequest
from django.db import transaction

from hardened_payments.conf import app_settings
from hardened_payments.webhooks import stripe_webhook
from market.models import LocalProviderObject
from market.provider import new_id

logger = logging.getLogger(__name__)

API_VERSION = "2024-06-20"
WEBHOOK_PATH = "/payments/webhooks/stripe/"
LOOPBACK = "127.0.0.1"


class DeliveryRefused(Exception):
    """The webhook endpoint did not accept the local provider's event."""


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An event in the shape Stripe delivers for ``obj``."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def deliver(payload: dict[str, Any]) -> dict[str, Any]:
    """Sign ``payload`` and post it to the webhook endpoint; return its answer."""
    secrets = list(app_settings.WEBHOOK_SECRETS)
    if not secrets:
        raise DeliveryRefused("No webhook secret is configured.")
    body = json.dumps(payload).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secrets[0]
    )
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": WEBHOOK_PATH,
            "SCRIPT_NAME": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_STRIPE_SIGNATURE": header,
            "REMOTE_ADDR": LOOPBACK,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
    )
    response = stripe_webhook(request)
    answer: dict[str, Any] = json.loads(response.content)
    if response.status_code != 200:
        logger.warning("The webhook endpoint refused %s", payload["type"])
        raise DeliveryRefused(str(answer.get("error")))
    return answer


def pay_checkout(session_id: str) -> dict[str, Any] | None:
    """Mark an open local session paid and return its completion event.

    ``None`` when the session was already paid: a second confirmation sends
    nothing.
    """
    with transaction.atomic():
        stored = (
            LocalProviderObject.objects.select_for_update()
            .filter(kind="checkout.session", object_id=session_id)
            .first()
        )
        if stored is None or stored.data.get("status") != "open":
            return None
        data = dict(stored.data)
        data |= {
            "status": "complete",
            "payment_status": "paid",
            "payment_intent": new_id("pi"),
            "settled": int(time.time()),
        }
        stored.data = data
        stored.save(update_fields=["data"])
    return event("checkout.session.completed", data)


def pay_payout(payout_id: str) -> dict[str, Any] | None:
    """Mark a pending local payout paid and return its ``payout.paid`` event."""
    return _settle_payout(payout_id, "paid")


def fail_payout(payout_id: str) -> dict[str, Any] | None:
    """Let the seller's bank refuse a pending payout: ``payout.failed``.

    The amount goes back to the connected account's balance, where the
    payments app reverses the transfer that funded it.
    """
    return _settle_payout(payout_id, "failed")


def _settle_payout(payout_id: str, status: str) -> dict[str, Any] | None:
    with transaction.atomic():
        stored = (
            LocalProviderObject.objects.select_for_update()
            .filter(kind="payout", object_id=payout_id)
            .first()
        )
        if stored is None or stored.data.get("status") != "pending":
            return None
        data = dict(stored.data) | {"status": status, "settled": int(time.time())}
        stored.data = data
        stored.save(update_fields=["data"])
    return event(f"payout.{status}", data)
