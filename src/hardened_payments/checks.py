"""System checks for the ``HARDENED_PAYMENTS_*`` settings."""

import re
from typing import Any

from django.core.checks import CheckMessage, Error

from hardened_payments.conf import app_settings

E001_MSG = "HARDENED_PAYMENTS_DEFAULT_CURRENCY must be an ISO 4217 code."

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def check_default_currency(**kwargs: Any) -> list[CheckMessage]:
    if _CURRENCY_CODE.match(app_settings.DEFAULT_CURRENCY):
        return []
    return [
        Error(
            E001_MSG,
            hint="Use three upper-case letters, such as 'USD' or 'EUR'.",
            id="hardened_payments.E001",
        )
    ]
