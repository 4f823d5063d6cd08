"""Sandbox settings for development: SQLite and local memory by default.

``DATABASE_URL`` and ``REDIS_URL`` switch the site to PostgreSQL and Redis;
``sandbox.settings.production`` adds what a public deployment needs.
"""

import os
from pathlib import Path

import dj_database_url
from enterprise import idp_settings as demo_idp
from enterprise.oidc import provider_settings

from hardened_rbac.conf import DEFAULT_POLICY_EXEMPT_MODULES

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "sandbox-insecure-development-key-never-use-in-production"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    # django.contrib.admin, with the admin site that asks for a second factor.
    "sandbox.apps.SecondFactorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp_webauthn",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "hardened_privacy",
    "hardened_auth",
    "hardened_rbac",
    "guardian",
    "hardened_payments",
    "demo",
    "enterprise",
    "social",
    "market",
]

MIDDLEWARE = [
    # First, so every audit event a request causes carries its id.
    "hardened_privacy.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "demo.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Sessions are checked before the tenant is resolved, so a deprovisioned
    # user's next request ends their session whatever page it asks for.
    "hardened_auth.middleware.SessionBindingMiddleware",
    "hardened_auth.middleware.RateLimitMiddleware",
    "hardened_auth.middleware.SecondFactorMiddleware",
    "hardened_rbac.middleware.TenantMiddleware",
    "hardened_rbac.middleware.PolicyRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "sandbox.urls"

# Called by manage.py sandbox_demo after the core tenants and users exist,
# each with tenants=, users= and stdout=; one per scenario app.
SANDBOX_SEEDERS: list[str] = [
    "social.seed.seed",
    "demo.seed_auth.seed",
    "enterprise.seed.seed",
]
WSGI_APPLICATION = "sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The sandbox's own pages for allauth, such as the sign-in page.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'sandbox.sqlite3'}",
        conn_max_age=0,
    )
}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "sandbox",
        }
    }

PASSWORD_HASHERS = [
    "hardened_auth.hashers.HardenedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

_VALIDATORS = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _VALIDATORS + "UserAttributeSimilarityValidator"},
    {"NAME": _VALIDATORS + "MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": _VALIDATORS + "CommonPasswordValidator"},
    {"NAME": _VALIDATORS + "NumericPasswordValidator"},
]

# OpenID Connect through hardened_auth's provider: PKCE, nonce, fixed scopes.
# SANDBOX_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET add Initech's provider.
SOCIALACCOUNT_PROVIDERS = {"openid_connect": provider_settings(os.environ)}
# Without them the sandbox serves Initech's demo provider itself at /idp/
# (SANDBOX_DEMO_IDP_ISSUER, default http://127.0.0.1:8000/idp); the
# production profile turns it off.
SANDBOX_DEMO_IDP = demo_idp.wanted(os.environ)
if SANDBOX_DEMO_IDP:
    SANDBOX_DEMO_IDP_ISSUER = demo_idp.issuer(os.environ)
    INSTALLED_APPS += ["oauth2_provider"]
    MIDDLEWARE = demo_idp.with_idp_sessions(MIDDLEWARE)
    OAUTH2_PROVIDER = demo_idp.oauth2_provider_settings(SANDBOX_DEMO_IDP_ISSUER)
    SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": demo_idp.provider_settings(
            SANDBOX_DEMO_IDP_ISSUER, SECRET_KEY
        )
    }
# A provider's verified email signs into an existing account only when a
# tenant mapped to that provider provisioned it over SCIM.
SOCIALACCOUNT_ADAPTER = "hardened_auth.social_adapter.SocialAccountAdapter"
HARDENED_AUTH_OIDC_EMAIL_MATCH = "enterprise.accounts.provisioned_by"

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "django_otp_webauthn.backends.WebAuthnBackend",
    "hardened_rbac.backends.TenantRoleBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# django-guardian: object permissions; no anonymous user row is created.
ANONYMOUS_USER_NAME = None
OTP_WEBAUTHN_RP_ID = os.environ.get("OTP_WEBAUTHN_RP_ID", "localhost")
OTP_WEBAUTHN_RP_NAME = "django-hardened sandbox"
OTP_WEBAUTHN_ALLOWED_ORIGINS = os.environ.get(
    "OTP_WEBAUTHN_ALLOWED_ORIGINS", "http://localhost:8000"
).split(",")
HARDENED_AUTH_TOTP_ISSUER = "django-hardened sandbox"
# Accounts are found by email only: a username chosen at signup could be
# probed. Every answer is the same whether or not the account exists.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_ADAPTER = "hardened_auth.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "hardened_auth.forms.LoginForm",
    "reset_password": "hardened_auth.forms.ResetPasswordForm",
    "signup": "hardened_auth.forms.SignupForm",
    "add_email": "hardened_auth.forms.AddEmailForm",
}
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Absolute, so pages under /t/<slug>/ do not put the tenant prefix in front.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Payments run in Stripe test mode when STRIPE_SECRET_KEY and
# STRIPE_WEBHOOK_SECRET are set, with events from Stripe or forwarded by
# `stripe listen` on this machine. Without them the market app plays Stripe
# here: its provider keeps Stripe-shaped objects in the database and its
# pages sign events with the public development secret below and hand them
# to the webhook endpoint as requests from this machine.
HARDENED_PAYMENTS_STRIPE_API_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
if HARDENED_PAYMENTS_STRIPE_API_KEY:
    from hardened_payments.conf import STRIPE_WEBHOOK_IPS

    HARDENED_PAYMENTS_WEBHOOK_SECRETS = [os.environ.get("STRIPE_WEBHOOK_SECRET", "")]
    HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = [*STRIPE_WEBHOOK_IPS, "127.0.0.1", "::1"]
else:
    HARDENED_PAYMENTS_PROVIDER = "market.provider.LocalProvider"
    HARDENED_PAYMENTS_WEBHOOK_SECRETS = ["whsec_sandbox_local_development"]
    HARDENED_PAYMENTS_WEBHOOK_ALLOWED_IPS = ["127.0.0.1", "::1"]
SANDBOX_SEEDERS += ["market.seed.seed"]

HARDENED_AUTH_TRUSTED_PROXIES = [
    p for p in os.environ.get("HARDENED_AUTH_TRUSTED_PROXIES", "").split(",") if p
]
HARDENED_PRIVACY_ENVIRONMENT = os.environ.get(
    "HARDENED_PRIVACY_ENVIRONMENT", "development"
)
# Keys come from the environment. The DEVELOPMENT_DEFAULTS below are public,
# for the sandbox and the tests only: the provider ignores them outside the
# development and test environments and a deploy check reports them.
HARDENED_PRIVACY_KEY_PROVIDERS = {
    "env": {
        "BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider",
        "OPTIONS": {
            "DEVELOPMENT_DEFAULTS": {
                "HARDENED_PRIVACY_MASTER_KEY": (
                    "3OwonBnAfRsR5Jf14-yWPpi-Hl8BxavlGZQ1WfmK5qE="
                ),
                "HARDENED_PRIVACY_BLIND_INDEX_KEY": (
                    "S9L3uOnpc5L1qZYvtzOTzBWuhH4Tcx9J7XuMDfk5Xyc="
                ),
                "HARDENED_PRIVACY_AUDIT_KEY": (
                    "0x9XR43yUXYGtARLLmWjeWC8UpwEwcXY-cYvqAAlg3I="
                ),
            },
        },
    },
}
HARDENED_PRIVACY_ACTIVE_KEY = f"{HARDENED_PRIVACY_ENVIRONMENT}/master-1"
HARDENED_PRIVACY_KEYS = {
    HARDENED_PRIVACY_ACTIVE_KEY: {
        "PROVIDER": "env",
        "REFERENCE": "HARDENED_PRIVACY_MASTER_KEY",
    },
}
HARDENED_PRIVACY_BLIND_INDEX_KEY = {
    "PROVIDER": "env",
    "REFERENCE": "HARDENED_PRIVACY_BLIND_INDEX_KEY",
}
HARDENED_PRIVACY_AUDIT_KEY = {
    "PROVIDER": "env",
    "REFERENCE": "HARDENED_PRIVACY_AUDIT_KEY",
}
# hardened_payments filters by tenant in every service and its webhook
# receiver looks payments up across tenants (docs/hardened_payments.md).
HARDENED_RBAC_UNSCOPED_MODELS = [
    "hardened_payments.LedgerAccount",
    "hardened_payments.LedgerTransfer",
    "hardened_payments.Payment",
    "hardened_payments.Payout",
    "hardened_payments.PayoutDestination",
    "hardened_payments.CheckoutSession",
]
# Routes manage.py hardened_rbac_routes accepts without a sign-in it can see.
HARDENED_RBAC_PUBLIC_ROUTES = [
    # Sign-in endpoints: the credentials come in the request itself.
    "hardened_auth:challenge",
    "hardened_auth:token",
    "hardened_auth:token_refresh",
    "hardened_auth:token_revoke",
    "otp_webauthn:credential-authentication-*",
    # Registering a passkey refuses, inside the view, a visitor not signed in.
    "otp_webauthn:credential-registration-*",
    "otp_webauthn:js-i18n-catalog",
    # allauth's sign-in error page and the old social URLs it redirects.
    "socialaccount_login_error",
    "/accounts/social/*",
    # Stripe signs each delivery; the view verifies the signature.
    "hardened_payments:stripe_webhook",
    # The demo identity provider signs its own people in (SANDBOX_DEMO_IDP).
    "oauth2_provider:*",
]
# PolicyRequiredMiddleware refuses views without a policy; the demo identity
# provider's sign-in and consent pages act only on the person signing in.
HARDENED_RBAC_POLICY_EXEMPT_MODULES = [*DEFAULT_POLICY_EXEMPT_MODULES, "enterprise.idp"]

# How sensitive each field of the sandbox's own models is; the shipped apps
# classify theirs. Names classified personal are also masked in log records.
_PERSONAL = {"level": "personal"}
HARDENED_PRIVACY_CLASSIFICATION: dict[str, dict[str, object]] = {
    "demo.Post": {
        "tenant": "internal",
        "author": "internal",
        "body": _PERSONAL,
        "created_at": "internal",
    },
    "social.Follow": dict.fromkeys(
        ("tenant", "follower", "followee", "created_at"), "internal"
    ),
    "social.Post": {
        **dict.fromkeys(("tenant", "author", "visibility", "created_at"), "internal"),
        "body": _PERSONAL,
    },
    "social.Group": dict.fromkeys(
        ("tenant", "name", "description", "visibility", "created_by", "created_at"),
        "internal",
    ),
    "social.GroupMembership": dict.fromkeys(
        ("tenant", "group", "user", "role", "joined_at"), "internal"
    ),
    "social.GroupPost": {
        **dict.fromkeys(("tenant", "group", "author", "created_at"), "internal"),
        "body": _PERSONAL,
    },
    "social.Conversation": dict.fromkeys(("tenant", "created_at"), "internal"),
    "social.Message": {
        **dict.fromkeys(("tenant", "conversation", "sender", "created_at"), "internal"),
        "body": _PERSONAL,
    },
    "social.FriendRequest": dict.fromkeys(
        ("tenant", "sender", "recipient", "status", "created_at", "answered_at"),
        "internal",
    ),
    "market.Listing": dict.fromkeys(
        (
            "tenant",
            "seller",
            "title",
            "description",
            "price",
            "currency",
            "is_active",
            "created_at",
        ),
        "internal",
    ),
    "market.Order": dict.fromkeys(
        (
            "tenant",
            "listing",
            "buyer",
            "seller",
            "amount",
            "fee",
            "currency",
            "status",
            "checkout",
            "idempotency_key",
            "created_at",
            "paid_at",
        ),
        "internal",
    ),
    "enterprise.IdpPerson": {
        "user": "internal",
        "email": _PERSONAL,
        "name": _PERSONAL,
        "groups": "internal",
    },
    "market.LocalProviderObject": dict.fromkeys(
        (
            "kind",
            "object_id",
            "idempotency_key",
            "request_digest",
            "data",
            "created_at",
        ),
        "internal",
    ),
}

if SANDBOX_DEMO_IDP:
    HARDENED_PRIVACY_CLASSIFICATION.update(demo_idp.CLASSIFICATION)

# Versioned prompt templates; check with manage.py hardened_privacy_lint_prompts.
HARDENED_PRIVACY_PROMPT_DIRS = ["prompts"]

# The review gate covers this repository: its migrations, auth gates and
# payment handlers wait for a recorded review. Test code is not shipped.
HARDENED_PRIVACY_REVIEW_MANIFEST = str(BASE_DIR.parent / "review-manifest.json")
HARDENED_PRIVACY_REVIEW_EXCLUDE = [
    "**/.*/**",
    "**/node_modules/**",
    "**/__pycache__/**",
    "**/site-packages/**",
    "build/**",
    "dist/**",
    "venv/**",
    "**/migrations/__init__.py",
    "tests/**",
    "benchmarks/**",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask": {"()": "hardened_privacy.masking.MaskingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "hardened_privacy.audit.AuditJSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask"],
        },
        "audit_store": {
            "class": "hardened_privacy.audit.AuditLogHandler",
            "filters": ["mask"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "hardened_auth": {"level": "INFO"},
        "hardened_rbac": {"level": "INFO"},
        "hardened_payments": {"level": "INFO"},
        "hardened_privacy": {"level": "INFO"},
        "hardened_auth.audit": {"handlers": ["audit_store"], "level": "INFO"},
        "hardened_rbac.audit": {"handlers": ["audit_store"], "level": "INFO"},
        "hardened_payments.audit": {"handlers": ["audit_store"], "level": "INFO"},
        "hardened_privacy.audit": {"handlers": ["audit_store"], "level": "INFO"},
        "enterprise.audit": {"handlers": ["audit_store"], "level": "INFO"},
        # Django's own handlers would bypass the masking filter.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
        },
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = (
    "hardened_privacy.masking.MaskingExceptionReporterFilter"
)
