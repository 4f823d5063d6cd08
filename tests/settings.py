"""Settings for the test suite: the sandbox's, made quick and isolated.

``DATABASE_URL`` and ``REDIS_URL`` switch the suite to PostgreSQL and Redis,
exactly as they do for the sandbox.
"""

import os

from enterprise import idp_settings as demo_idp

from hardened_payments.conf import DEFAULT_PROVIDER, STRIPE_WEBHOOK_IPS
from sandbox.settings.base import *  # noqa: F403
from sandbox.settings.base import (
    CACHES,
    DATABASES,
    HARDENED_PRIVACY_CLASSIFICATION,
    INSTALLED_APPS,
)

SECRET_KEY = "tests-only-secret-key-with-enough-length-to-satisfy-checks-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# django-oauth-toolkit plays the OpenID Connect provider in the sign-in tests
# (tests/hardened_auth/oidc_provider.py configures it with a fresh RSA key)
# and claims the URL namespace of the sandbox's demo provider at /idp/, so
# the demo provider is off here; tests/sandbox/enterprise/demo_idp.py turns
# it on for the tests about it.
demo_idp.turn_off(globals(), os.environ)
INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider"]
HARDENED_PRIVACY_CLASSIFICATION.update(demo_idp.CLASSIFICATION)

# Models that exist only to exercise hardened_privacy's fields and commands.
INSTALLED_APPS += ["tests.hardened_privacy.testapp"]

# Models that exist only to exercise hardened_rbac's tenant scope and policies.
INSTALLED_APPS += ["tests.hardened_rbac.testapp"]

# The payments tests call Stripe's stand-in and deliver webhooks from Stripe's
# addresses; the market tests switch to the sandbox's local provider.
HARDENED_PAYMENTS_PROVIDER = DEFAULT_PROVIDER
HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = list(STRIPE_WEBHOOK_IPS)

_suffix = os.environ.get("HARDENED_TEST_DB_SUFFIX")
if _suffix and "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {
        "NAME": f"test_{DATABASES['default']['NAME']}_{_suffix}"
    }

# The audit table refuses TRUNCATE unless the session allows it; the test
# database is emptied with TRUNCATE between transactional tests.
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c hardened_privacy.allow_truncate=on"
    )

if os.environ.get("REDIS_URL"):
    CACHES["default"]["KEY_PREFIX"] = f"tests-{os.getpid()}"

# The review gate's own tests scan temporary projects with the defaults: a
# manifest at each project's root and the default exclusions.
HARDENED_PRIVACY_REVIEW_MANIFEST = "review-manifest.json"
globals().pop("HARDENED_PRIVACY_REVIEW_EXCLUDE", None)
