"""System checks for the ``HARDENED_PRIVACY_*`` settings."""

import re
from typing import Any

from django.core.checks import CheckMessage, Error

from hardened_privacy.conf import app_settings

E001_MSG = "HARDENED_PRIVACY_ENVIRONMENT must be a short lower-case name."

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def check_environment(**kwargs: Any) -> list[CheckMessage]:
    if _ENVIRONMENT.match(app_settings.ENVIRONMENT):
        return []
    return [
        Error(
            E001_MSG,
            hint="For example 'development', 'staging' or 'production'.",
            id="hardened_privacy.E001",
        )
    ]
