"""System checks for the ``HARDENED_PAYMENTS_*`` settings."""

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from hardened_payments.conf import app_settings
from hardened_payments.internal.currencies import EXPONENTS

E001_MSG = (
    "HARDENED_PAYMENTS_DEFAULT_CURRENCY must be an ISO 4217 code with a minor unit."
)
E002_MSG = "HARDENED_PAYMENTS_IDEMPOTENCY_KEY_TTL must be a positive integer."
E003_MSG = "HARDENED_PAYMENTS_WEBHOOK_SECRETS must be a list of 'whsec_' secrets."
E004_MSG = "HARDENED_PAYMENTS_WEBHOOK_TOLERANCE must be an integer from 1 to 600."
E005_MSG = "HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS must list IP addresses or networks."
E006_MSG = "HARDENED_PAYMENTS_WEBHOOK_MAX_BODY_BYTES must be a positive integer."
E007_MSG = "HARDENED_PAYMENTS_WEBHOOK_MAX_ATTEMPTS must be a positive integer."
E008_MSG = "HARDENED_PAYMENTS_STRIPE_API_KEY must be a Stripe secret or restricted key."

E009_MSG = (
    "HARDENED_PAYMENTS_REFUND_STEP_UP_ABOVE must map ISO 4217 codes to "
    "non-negative integers of minor units."
)
E010_MSG = (
    "%s looks like it stores card data; card numbers must never reach the server."
)

E012_MSG = (
    "HARDENED_PAYMENTS_IDEMPOTENCY_LOCK_TIMEOUT must be a positive integer "
    "smaller than HARDENED_PAYMENTS_IDEMPOTENCY_KEY_TTL."
)
E011_MSG = "hardened_payments needs %s in INSTALLED_APPS."
E015_MSG = (
    "HARDENED_PAYMENTS_WEBHOOK_PROVIDER_TIMEOUT must be a number of seconds "
    "above 0 and at most 10."
)
MAX_WEBHOOK_PROVIDER_TIMEOUT = 10
E016_MSG = "HARDENED_PAYMENTS_DJSTRIPE_MIRROR must be True or False."
E017_MSG = "HARDENED_PAYMENTS_DJSTRIPE_MIRROR is on, but djstripe is not installed."
E018_MSG = (
    "HARDENED_PAYMENTS_DJSTRIPE_MIRROR is on, but HARDENED_PAYMENTS_STRIPE_API_KEY "
    "is not a full Stripe secret or restricted key."
)
E019_MSG = (
    "dj-stripe's webhook endpoint is routed at %r; only hardened_payments' "
    "receiver may accept Stripe events."
)
# The keys dj-stripe accepts when it ties mirrored objects to their account.
DJSTRIPE_API_KEY = re.compile(r"(sk|rk)_(test|live)_[a-zA-Z0-9]{24,}")
DJSTRIPE_WEBHOOK_VIEW = "djstripe.views.ProcessWebhookView"
E013_MSG = (
    "HARDENED_PAYMENTS_PROVIDER must be the dotted path of a payment provider class."
)
E014_MSG = (
    "HARDENED_AUTH_SYNTHETIC_TENANT turns on synthetic charges, but "
    "HARDENED_PAYMENTS_STRIPE_API_KEY is a live key."
)

REQUIRED_APPS = {
    "hardened_rbac": "Ledger accounts and payments belong to a tenant.",
    "hardened_auth": "Step-up and client addresses come from hardened_auth.",
}

_CARD_FIELD = re.compile(
    r"(^|_)(card_?(number|num|no|code|cvc|cvv|exp\w*)|cc_?(number|num|no)|"
    r"pan|cvv2?|cvc2?|csc|security_?code|expiry(_date)?|exp_(month|year))$",
    re.IGNORECASE,
)

PROVIDER_METHODS = (
    "create_payment",
    "create_refund",
    "create_payout",
    "create_transfer",
    "reverse_transfer",
    "retrieve_payout",
    "create_checkout_session",
    "balance_transactions",
    "payouts",
)


def _positive_int(value: object) -> bool:
    return type(value) is int and value > 0


def _error(msg: str, hint: str, number: int) -> list[CheckMessage]:
    return [Error(msg, hint=hint, id=f"hardened_payments.E{number:03d}")]


def check_default_currency(**kwargs: Any) -> list[CheckMessage]:
    if app_settings.DEFAULT_CURRENCY in EXPONENTS:
        return []
    return _error(
        E001_MSG, "Use an upper-case code with a minor unit, such as 'USD'.", 1
    )


def check_idempotency_key_ttl(**kwargs: Any) -> list[CheckMessage]:
    if _positive_int(app_settings.IDEMPOTENCY_KEY_TTL):
        return []
    return _error(E002_MSG, "Use seconds, such as 86400 for 24 hours.", 2)


def check_idempotency_lock_timeout(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.IDEMPOTENCY_LOCK_TIMEOUT
    ttl = app_settings.IDEMPOTENCY_KEY_TTL
    if _positive_int(value) and (not _positive_int(ttl) or value < ttl):
        return []
    return _error(E012_MSG, "Use a little more than the slowest request, e.g. 300.", 12)


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


def check_webhook_provider_timeout(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.WEBHOOK_PROVIDER_TIMEOUT
    if type(value) in (int, float) and 0 < value <= MAX_WEBHOOK_PROVIDER_TIMEOUT:
        return []
    return _error(
        E015_MSG, "Stripe gives up on a slow endpoint; 3 seconds is plenty.", 15
    )


def check_stripe_api_key(**kwargs: Any) -> list[CheckMessage]:
    key = app_settings.STRIPE_API_KEY
    if key == "" or (isinstance(key, str) and key.startswith(("sk_", "rk_"))):
        return []
    return _error(
        E008_MSG, "Use the key starting with 'sk_' or 'rk_', never the 'pk_' one.", 8
    )


def check_synthetic_charges_in_test_mode(**kwargs: Any) -> list[CheckMessage]:
    key = app_settings.STRIPE_API_KEY
    tenant = getattr(settings, "HARDENED_AUTH_SYNTHETIC_TENANT", "")
    if not tenant or not isinstance(key, str) or "_live_" not in key:
        return []
    return _error(
        E014_MSG,
        "Run the synthetic checks against a deployment with Stripe test keys, "
        "or leave HARDENED_AUTH_SYNTHETIC_TENANT empty to skip the charge.",
        14,
    )


def check_djstripe_mirror(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.DJSTRIPE_MIRROR
    if type(value) is not bool:
        return _error(E016_MSG, "Set it to True to copy events into dj-stripe.", 16)
    if not value:
        return []
    if not apps.is_installed("djstripe"):
        return _error(
            E017_MSG,
            "Install the 'stripe' extra and add 'djstripe' to INSTALLED_APPS, "
            "or leave HARDENED_PAYMENTS_DJSTRIPE_MIRROR off.",
            17,
        )
    key = app_settings.STRIPE_API_KEY
    if not isinstance(key, str) or not DJSTRIPE_API_KEY.fullmatch(key):
        return _error(
            E018_MSG,
            "dj-stripe looks up the account that owns each object with this key; "
            "copy the whole 'sk_' or 'rk_' key from the Stripe dashboard.",
            18,
        )
    return []


def _routes(
    patterns: Sequence[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        else:
            yield route, entry


def _view_path(pattern: URLPattern) -> str:
    view = getattr(pattern.callback, "view_class", pattern.callback)
    return f"{view.__module__}.{view.__qualname__}"


def check_djstripe_webhook_not_routed(**kwargs: Any) -> list[CheckMessage]:
    """dj-stripe's endpoint would accept events outside this app's checks."""
    if not apps.is_installed("djstripe"):
        return []
    return [
        Error(
            E019_MSG % route,
            hint="Remove include('djstripe.urls') from the URLconf; turn on "
            "HARDENED_PAYMENTS_DJSTRIPE_MIRROR to fill dj-stripe's tables.",
            id="hardened_payments.E019",
        )
        for route, pattern in _routes(get_resolver().url_patterns)
        if _view_path(pattern) == DJSTRIPE_WEBHOOK_VIEW
    ]


def check_provider(**kwargs: Any) -> list[CheckMessage]:
    path = app_settings.PROVIDER
    try:
        provider = import_string(path)
    except ImportError:
        provider = None
    if isinstance(provider, type) and all(
        callable(getattr(provider, name, None)) for name in PROVIDER_METHODS
    ):
        return []
    return _error(
        E013_MSG,
        "Keep the default, 'hardened_payments.internal.stripe_provider."
        "StripeProvider', or name a class with the same methods.",
        13,
    )


def check_refund_step_up_above(**kwargs: Any) -> list[CheckMessage]:
    value = app_settings.REFUND_STEP_UP_ABOVE
    if isinstance(value, dict) and all(
        isinstance(code, str)
        and code in EXPONENTS
        and type(limit) is int
        and limit >= 0
        for code, limit in value.items()
    ):
        return []
    return _error(E009_MSG, "For example {'USD': 10000} for 100.00 dollars.", 9)


def _form_classes() -> list[type[forms.BaseForm]]:
    found: list[type[forms.BaseForm]] = []
    pending: list[type[forms.BaseForm]] = [forms.BaseForm]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def check_no_card_data_fields(**kwargs: Any) -> list[CheckMessage]:
    """Fail on model or form fields whose names say they hold card data."""
    errors: list[CheckMessage] = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if _CARD_FIELD.search(field.name):
                label = f"{model._meta.label}.{field.name}"
                errors.append(_card_error(label, model))
    for form in _form_classes():
        for name in getattr(form, "base_fields", {}):
            if _CARD_FIELD.search(name):
                label = f"{form.__module__}.{form.__qualname__}.{name}"
                errors.append(_card_error(label, form))
    return errors


def _card_error(label: str, obj: object) -> CheckMessage:
    return Error(
        E010_MSG % label,
        hint="Collect cards with Stripe Elements or Checkout and keep only "
        "the provider's token (pm_..., pi_...).",
        obj=obj,
        id="hardened_payments.E010",
    )


def check_required_apps(**kwargs: Any) -> list[CheckMessage]:
    """hardened_payments leans on hardened_rbac and hardened_auth."""
    return [
        Error(E011_MSG % label, hint=why, id="hardened_payments.E011")
        for label, why in REQUIRED_APPS.items()
        if not apps.is_installed(label)
    ]


ALL_CHECKS = [
    check_required_apps,
    check_default_currency,
    check_idempotency_key_ttl,
    check_idempotency_lock_timeout,
    check_webhook_secrets,
    check_webhook_tolerance,
    check_webhook_allowed_ips,
    check_webhook_max_body_bytes,
    check_webhook_max_attempts,
    check_webhook_provider_timeout,
    check_stripe_api_key,
    check_synthetic_charges_in_test_mode,
    check_provider,
    check_djstripe_mirror,
    check_djstripe_webhook_not_routed,
    check_refund_step_up_above,
    check_no_card_data_fields,
]
