"""Copying processed Stripe events into dj-stripe's models.

With ``HARDENED_PAYMENTS_DJSTRIPE_MIRROR`` on, :func:`mirror` runs once
:func:`hardened_payments.internal.webhooks.process` has committed an event's
processing, so only events the receiver verified and handled are copied. The
event becomes a ``djstripe.Event`` and its ``data.object`` is stored through
the matching dj-stripe model's ``sync_from_stripe_data``, all in one
transaction of its own: a copy that fails leaves nothing behind in dj-stripe's
tables, changes nothing of this app's, and is done again by
``hardened_payments_mirror_djstripe``.

dj-stripe's webhook handlers and signals are not run: they would fetch every
object again from Stripe and act on it outside this app's verification.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import transaction

from hardened_payments.conf import app_settings
from hardened_payments.internal import audit

logger = logging.getLogger(__name__)

# The dj-stripe model that holds each kind of object the handled events carry.
MODELS = {
    "checkout.session": "Session",
    "payment_intent": "PaymentIntent",
    "payout": "Payout",
}


def enabled() -> bool:
    """Whether the mirror is switched on and dj-stripe is installed."""
    return app_settings.DJSTRIPE_MIRROR is True and apps.is_installed("djstripe")


def mirror(event: dict[str, Any]) -> bool:
    """Copy one processed event; return whether dj-stripe now holds it.

    A failure is rolled back, logged and audited as ``webhook_mirror_failed``;
    it never reaches the caller, whose processing has already committed.
    """
    try:
        with transaction.atomic():
            copied = _copy(event)
    except Exception as exc:
        logger.warning(
            "Webhook %s not mirrored into dj-stripe: %s",
            event["id"],
            type(exc).__name__,
        )
        audit.emit(
            "webhook_mirror_failed",
            outcome="failure",
            target=event["type"],
            provider_event_id=event["id"],
            error=type(exc).__name__,
        )
        return False

    if copied:
        logger.info("Webhook %s mirrored into dj-stripe", event["id"])
    return True


def missing(event_ids: Iterable[str]) -> set[str]:
    """The ids among ``event_ids`` that dj-stripe does not hold yet."""
    wanted = set(event_ids)
    held = _model("Event").objects.filter(id__in=wanted).values_list("id", flat=True)
    return wanted - set(held)


def _model(name: str) -> Any:
    return apps.get_model("djstripe", name)


def _copy(event: dict[str, Any]) -> bool:
    dj_event = _model("Event")
    if dj_event.objects.filter(id=event["id"]).exists():
        return False

    api_key = app_settings.STRIPE_API_KEY
    obj = event["data"]["object"]
    name = MODELS.get(obj.get("object"))
    if name is not None and not _newer_event_held(dj_event, event):
        _model(name).sync_from_stripe_data(obj, api_key=api_key)
    dj_event.sync_from_stripe_data(event, api_key=api_key)
    return True


def _newer_event_held(dj_event: Any, event: dict[str, Any]) -> bool:
    """Whether dj-stripe holds a later event about the same object.

    Stripe does not deliver events in order; an older snapshot of an object
    must not overwrite the newer one already copied.
    """
    from djstripe.utils import convert_tstamp

    created = event.get("created")
    if type(created) is not int:
        return False
    later = dj_event.objects.filter(
        data__object__id=event["data"]["object"].get("id"),
        created__gt=convert_tstamp(created),
    )
    return bool(later.exists())
