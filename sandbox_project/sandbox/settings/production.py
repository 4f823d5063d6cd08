"""Sandbox settings for a public deployment behind TLS.

Every secret comes from the environment; a missing one stops the process.
"""

import os

from django.core.exceptions import ImproperlyConfigured
from enterprise import idp_settings as demo_idp

from hardened_payments.conf import DEFAULT_PROVIDER, STRIPE_WEBHOOK_IPS
from sandbox.settings.base import *  # noqa: F403

DEBUG = False


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} must be set.")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = _required("DJANGO_ALLOWED_HOSTS").split(",")
# The demo identity provider is for development only: here Initech signs in
# through the provider SANDBOX_OIDC_* names, or not at all.
demo_idp.turn_off(globals(), os.environ)
HARDENED_PRIVACY_ENVIRONMENT = os.environ.get(
    "HARDENED_PRIVACY_ENVIRONMENT", "production"
)
# Keys only from the environment (no development defaults), bound to this
# environment: HARDENED_PRIVACY_MASTER_KEY, _BLIND_INDEX_KEY and _AUDIT_KEY.
HARDENED_PRIVACY_KEY_PROVIDERS = {
    "env": {"BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider"},
}
HARDENED_PRIVACY_ACTIVE_KEY = f"{HARDENED_PRIVACY_ENVIRONMENT}/master-1"
HARDENED_PRIVACY_KEYS = {
    HARDENED_PRIVACY_ACTIVE_KEY: {
        "PROVIDER": "env",
        "REFERENCE": "HARDENED_PRIVACY_MASTER_KEY",
    },
}

# Payments go through Stripe only, and its events come only from its addresses.
HARDENED_PAYMENTS_STRIPE_API_KEY = _required("STRIPE_SECRET_KEY")
HARDENED_PAYMENTS_WEBHOOK_SECRETS = [_required("STRIPE_WEBHOOK_SECRET")]
HARDENED_PAYMENTS_PROVIDER = DEFAULT_PROVIDER
HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = list(STRIPE_WEBHOOK_IPS)

SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 63072000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
