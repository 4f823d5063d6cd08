"""System checks for the ``HARDENED_AUTH_*`` settings."""

import ipaddress
import re
from typing import Any

from django.core.checks import CheckMessage, Error
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch

from hardened_auth.conf import app_settings

E001_MSG = "HARDENED_AUTH_TRUSTED_PROXIES must be a list of IP addresses or networks."
E002_MSG = "HARDENED_AUTH_TRUSTED_PROXIES holds an invalid address or network: {!r}."
E003_MSG = "HARDENED_AUTH_CLIENT_IP_HEADER must be an HTTP header name."

_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def check_trusted_proxies(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.TRUSTED_PROXIES
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return [
            Error(
                E001_MSG,
                hint="For example ['10.0.0.0/8'], or [] when no proxy is trusted.",
                id="hardened_auth.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for entry in value:
        try:
            ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            errors.append(
                Error(
                    E002_MSG.format(entry),
                    hint="Use addresses such as '10.0.0.5' or networks such as "
                    "'10.0.0.0/8'.",
                    id="hardened_auth.E002",
                )
            )
    return errors


def check_client_ip_header(**kwargs: Any) -> list[CheckMessage]:
    if _HEADER_NAME.match(app_settings.CLIENT_IP_HEADER):
        return []
    return [
        Error(
            E003_MSG,
            hint="For example 'X-Forwarded-For' or 'X-Real-IP'.",
            id="hardened_auth.E003",
        )
    ]


E004_MSG = "HARDENED_AUTH_STEP_UP_MAX_AGE must be a positive number of seconds."
E005_MSG = "HARDENED_AUTH_STEP_UP_URL must be a URL path or a URL name that resolves."


def check_step_up(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    max_age = app_settings.STEP_UP_MAX_AGE
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        errors.append(
            Error(
                E004_MSG,
                hint="For example 300 (five minutes).",
                id="hardened_auth.E004",
            )
        )
    url = app_settings.STEP_UP_URL
    try:
        resolved = resolve_url(url) if isinstance(url, str) and url else ""
    except NoReverseMatch:
        resolved = ""
    if not resolved:
        errors.append(
            Error(
                E005_MSG,
                hint="Include hardened_auth.urls and keep the default "
                "'hardened_auth:step_up', or name your own verification view.",
                id="hardened_auth.E005",
            )
        )
    return errors
