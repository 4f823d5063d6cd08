"""Reading and checking the JSON bodies of the money endpoints."""

import json
import re
from typing import Any

from django.http import HttpRequest

from hardened_payments.exceptions import UnknownCurrency
from hardened_payments.money import Money

PAYMENT_METHOD = re.compile(r"^pm_[A-Za-z0-9_]{1,200}$")
MAX_AMOUNT = 10**12


class BadRequest(ValueError):
    """The body is not what the endpoint accepts; the message says why."""


def json_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadRequest("Send application/json.")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def money_from(body: dict[str, Any], default_currency: str | None = None) -> Money:
    amount = body.get("amount")
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise BadRequest("amount must be a positive integer of minor units.")
    currency = body.get("currency", default_currency)
    try:
        return Money(amount, str(currency))
    except UnknownCurrency:
        raise BadRequest("currency must be an ISO 4217 code.") from None


def payment_method_from(body: dict[str, Any]) -> str:
    value = body.get("payment_method")
    if not isinstance(value, str) or not PAYMENT_METHOD.match(value):
        raise BadRequest("payment_method must be a provider token (pm_...).")
    return value
