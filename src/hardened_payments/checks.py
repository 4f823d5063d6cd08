"""System checks for the ``HARDENED_PAYMENTS_*`` settings."""

import ipaddress
import re
from typing import Any

from django.core.checks import CheckMessage, Error

from hardened_payments.conf import app_settings

E001_MSG = "HARDENED_PAYMENTS_DEFAULT_CURRENCY must be an ISO 4217 code."
E002_MSG = "HARDENED_PAYMENTS_IDEMPOTENCY_KEY_TTL must be a positive integer."
E003_MSG = "HARDENED_PAYMENTS_WEBHOOK_SECRETS must be a list of 'whsec_' secrets."
E004_MSG = "HARDENED_PAYMENTS_WEBHOOK_TOLERANCE must be an integer from 1 to 600."
E005_MSG = "HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS must list IP addresses or networks."
E006_MSG = "HARDENED_PAYMENTS_WEBHOOK_MAX_BODY_BYTES must be a positive integer."
E007_MSG = "HARDENED_PAYMENTS_WEBHOOK_MAX_ATTEMPTS must be a positive integer."
E008_MSG = "HARDENED_PAYMENTS_STRIPE_API_KEY must be a Stripe secret or restricted key."

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _positive_int(value: object) -> bool:
    return type(value) is int and value > 0


def _error(msg: str, hint: str, number: int) -> list[CheckMessage]:
    return [Error(msg, hint=hint, id=f"hardened_payments.E{number:03d}")]


def check_default_currency(**kwargs: Any) -> list[CheckMessage]:
    if _CURRENCY_CODE.match(app_settings.DEFAULT_CURRENCY):
        return []
    return _error(E001_MSG, "Use three upper-case letters, such as 'USD'.", 1)


def check_idempotency_key_ttl(**kwargs: Any) -> list[CheckMessage]:
    if _positive_int(app_settings.IDEMPOTENCY_KEY_TTL):
        return []
    return _error(E002_MSG, "Use seconds, such as 86400 for 24 hours.", 2)


def check_webhook_secrets(**kwargs: Any) -> list[CheckMessage]:
    secrets = app_settings.WEBHOOK_SECRETS
    if isinstance(secrets, list | tuple) and all(
        isinstance(s, str) and s.startswith("whsec_") and len(s) > 10 for s in secrets
    ):
        return []
    return _error(
        E003_MSG, "Copy the signing secret from the Stripe webhook endpoint.", 3
    )


def check_webhook_tolerance(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.WEBHOOK_TOLERANCE
    if _positive_int(value) and value <= 600:
        return []
    return _error(E004_MSG, "Stripe's libraries use 300 seconds.", 4)


def _is_network(value: object) -> bool:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return isinstance(value, str)


def check_webhook_allowed_ips(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.WEBHOOK_ALLOWED_IPS
    if isinstance(value, list | tuple) and value and all(map(_is_network, value)):
        return []
    return _error(
        E005_MSG, "Keep the default (Stripe's published webhook addresses).", 5
    )


def check_webhook_max_body_bytes(**kwargs: Any) -> list[CheckMessage]:
    if _positive_int(app_settings.WEBHOOK_MAX_BODY_BYTES):
        return []
    return _error(E006_MSG, "Stripe's events are far below 262144 bytes.", 6)


def check_webhook_max_attempts(**kwargs: Any) -> list[CheckMessage]:
    if _positive_int(app_settings.WEBHOOK_MAX_ATTEMPTS):
        return []
    return _error(E007_MSG, "Use a small number such as 5.", 7)


def check_stripe_api_key(**kwargs: Any) -> list[CheckMessage]:
    key = app_settings.STRIPE_API_KEY
    if key == "" or (isinstance(key, str) and key.startswith(("sk_", "rk_"))):
        return []
    return _error(
        E008_MSG, "Use the key starting with 'sk_' or 'rk_', never the 'pk_' one.", 8
    )


ALL_CHECKS = [
    check_default_currency,
    check_idempotency_key_ttl,
    check_webhook_secrets,
    check_webhook_tolerance,
    check_webhook_allowed_ips,
    check_webhook_max_body_bytes,
    check_webhook_max_attempts,
    check_stripe_api_key,
]
