"""Hypothesis throws signed and unsigned garbage at the webhook endpoint.

A fixed, small number of examples runs in CI. For a longer run, raise the
budget with ``HYPOTHESIS_WEBHOOK_EXAMPLES=2000``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_payments.models import LedgerTransfer
from tests.attacks.test_webhook_abuse import everything, payment
from tests.hardened_payments.test_webhooks import (
    OLD_SECRET,
    SECRET,
    deliver,
    sign,
    stripe_event,
)

EXAMPLES = int(os.environ.get("HYPOTHESIS_WEBHOOK_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

PATHS = [
    ("id",),
    ("object",),
    ("type",),
    ("created",),
    ("data",),
    ("data", "object"),
    ("data", "object", "id"),
    ("data", "object", "amount"),
    ("data", "object", "amount_received"),
    ("data", "object", "currency"),
    ("data", "object", "status"),
    ("data", "object", "metadata"),
    ("livemode",),
]


__all__ = ["payment"]


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.HARDENED_PAYMENTS_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = event
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _answers_cleanly(response: Any) -> dict[str, Any]:
    assert response.status_code in {200, 400, 409, 413}, response.status_code
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert set(body) & {"error", "status"}
    return body


@pytest.mark.django_db
@FUZZ
@given(payload=st.text(max_size=300))
def test_signed_arbitrary_text_is_answered_without_a_crash(client, payload):
    before = everything()
    response = deliver(client, payload=payload, header=sign(payload))
    _answers_cleanly(response)
    if response.status_code != 200:
        assert everything() == before


@pytest.mark.django_db
@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3
    ),
    event_type=st.sampled_from(
        ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.x"]
    ),
    serial=st.integers(min_value=0, max_value=10**9),
)
def test_signed_mutated_events_are_answered_without_a_crash(
    client, payment, changes, event_type, serial
):
    """Mutated events about a real payment; its ledger never disagrees with it."""
    event = stripe_event(event_type, event_id=f"evt_fuzz{serial}")
    for path, value in changes:
        _set(event, path, value)
    payload = json.dumps(event)
    before = everything()
    response = deliver(client, payload=payload, header=sign(payload))
    body = _answers_cleanly(response)
    if response.status_code != 200:
        assert everything() == before
    else:
        assert body["status"] in {"processed", "duplicate", "queued"}
    payment.refresh_from_db()
    for transfer in LedgerTransfer.objects.filter(transfer_id="payment:pi_3Mtw"):
        credited = sum(e.amount for e in transfer.entries.all() if e.amount > 0)
        assert credited == payment.amount


@pytest.mark.django_db
@FUZZ
@given(header=st.text(max_size=200))
def test_arbitrary_signature_headers_are_refused(client, header):
    before = everything()
    response = deliver(client, payload=json.dumps(stripe_event()), header=header)
    assert response.status_code == 400
    assert "error" in response.json()
    assert everything() == before
