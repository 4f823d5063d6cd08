"""System checks for the ``HARDENED_AUTH_*`` settings."""

import ipaddress
import re
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hashers
from django.contrib.sessions.backends import signed_cookies
from django.core.checks import CheckMessage, Error, Warning
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


E006_MSG = "The first entry of PASSWORD_HASHERS must be an argon2id hasher."
E007_MSG = "argon2-cffi is not installed, so argon2id passwords cannot be hashed."
E008_MSG = (
    "The argon2id parameters are below OWASP's minimum "
    "(memory {memory} KiB, time {time}, parallelism {lanes})."
)

MIN_ARGON2_MEMORY_KIB = 19456
MIN_ARGON2_TIME_COST = 2
MIN_ARGON2_PARALLELISM = 1


def _argon2_installed() -> bool:
    try:
        import argon2  # noqa: F401
    except ImportError:
        return False
    return True


def _is_positive_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_password_hasher(**kwargs: Any) -> list[CheckMessage]:
    if not _argon2_installed():
        return [
            Error(
                E007_MSG,
                hint="pip install argon2-cffi (django-hardened depends on it).",
                id="hardened_auth.E007",
            )
        ]
    from argon2.low_level import Type

    hashers = get_hashers()
    first = hashers[0] if hashers else None
    params = first.params() if isinstance(first, Argon2PasswordHasher) else None
    if params is None or params.type != Type.ID:
        return [
            Error(
                E006_MSG,
                hint="Put 'hardened_auth.hashers.HardenedArgon2PasswordHasher' "
                "first in PASSWORD_HASHERS and keep older hashers after it.",
                id="hardened_auth.E006",
            )
        ]
    memory, time_cost, lanes = params.memory_cost, params.time_cost, params.parallelism
    if not (
        _is_positive_int(memory, MIN_ARGON2_MEMORY_KIB)
        and _is_positive_int(time_cost, MIN_ARGON2_TIME_COST)
        and _is_positive_int(lanes, MIN_ARGON2_PARALLELISM)
    ):
        return [
            Error(
                E008_MSG.format(memory=memory, time=time_cost, lanes=lanes),
                hint="Set HARDENED_AUTH_ARGON2_MEMORY_COST >= 19456, "
                "HARDENED_AUTH_ARGON2_TIME_COST >= 2 and "
                "HARDENED_AUTH_ARGON2_PARALLELISM >= 1.",
                id="hardened_auth.E008",
            )
        ]
    return []


E009_MSG = (
    "HARDENED_AUTH_RATE_LIMITS entry {!r} must map 'ip' and 'identifier' to "
    "django-ratelimit rates."
)
E010_MSG = "HARDENED_AUTH_RATE_LIMITED_VIEWS maps {!r} to an unknown scope."
E011_MSG = (
    "django-ratelimit is set to let attempts through; the limiter must fail closed."
)
E012_MSG = (
    "hardened_auth.middleware.RateLimitMiddleware must be in MIDDLEWARE, after "
    "AuthenticationMiddleware."
)

RATE_DIMENSIONS = frozenset({"ip", "identifier"})
_RATE = re.compile(r"^[1-9][0-9]*/[1-9]?[0-9]*[smhd]$")
RATE_LIMIT_MIDDLEWARE = "hardened_auth.middleware.RateLimitMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _valid_rates(rates: object) -> bool:
    return isinstance(rates, Mapping) and all(
        key in RATE_DIMENSIONS and isinstance(rate, str) and _RATE.match(rate)
        for key, rate in rates.items()
    )


def check_rate_limits(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    limits = app_settings.RATE_LIMITS
    if not isinstance(limits, Mapping):
        limits = {}
        errors.append(
            Error(
                E009_MSG.format("HARDENED_AUTH_RATE_LIMITS"),
                hint="For example {'login': {'ip': '30/15m', 'identifier': '10/15m'}}.",
                id="hardened_auth.E009",
            )
        )
    for scope, rates in limits.items():
        if not _valid_rates(rates):
            errors.append(
                Error(
                    E009_MSG.format(scope),
                    hint="Rates are django-ratelimit rates such as '10/15m' or "
                    "'5/h'; dimensions are 'ip' and 'identifier'.",
                    id="hardened_auth.E009",
                )
            )
    views = app_settings.RATE_LIMITED_VIEWS
    view_items = views.items() if isinstance(views, Mapping) else [(views, None)]
    for name, scope in view_items:
        if scope not in limits:
            errors.append(
                Error(
                    E010_MSG.format(name),
                    hint="Use a scope defined in HARDENED_AUTH_RATE_LIMITS.",
                    id="hardened_auth.E010",
                )
            )
    if not getattr(settings, "RATELIMIT_ENABLE", True) or getattr(
        settings, "RATELIMIT_FAIL_OPEN", False
    ):
        errors.append(
            Error(
                E011_MSG,
                hint="Remove RATELIMIT_ENABLE = False and RATELIMIT_FAIL_OPEN = True.",
                id="hardened_auth.E011",
            )
        )
    middleware = list(settings.MIDDLEWARE)
    if RATE_LIMIT_MIDDLEWARE not in middleware or (
        AUTH_MIDDLEWARE in middleware
        and middleware.index(RATE_LIMIT_MIDDLEWARE) < middleware.index(AUTH_MIDDLEWARE)
    ):
        errors.append(
            Error(
                E012_MSG,
                hint="Add it right after AuthenticationMiddleware.",
                id="hardened_auth.E012",
            )
        )
    return errors


E013_MSG = "SMS is offered as the only second factor."
E014_MSG = "HARDENED_AUTH_SECOND_FACTORS offers no usable second factor."
E015_MSG = "HARDENED_AUTH_SECOND_FACTORS has an unknown entry: {!r}."
E016_MSG = "'{}' must be in INSTALLED_APPS for the second factor '{}'."
E017_MSG = (
    "hardened_auth.middleware.SecondFactorMiddleware must be in MIDDLEWARE, "
    "after django_otp.middleware.OTPMiddleware."
)
W001_MSG = "The admin site does not require a verified second factor."
E032_MSG = "HARDENED_AUTH_TOTP_ISSUER must be a non-empty string without ':'."

STRONG_FACTORS = frozenset({"totp", "webauthn"})
KNOWN_FACTORS = STRONG_FACTORS | {"recovery_codes", "sms"}
SMS_DEVICE_APPS = frozenset(
    {"otp_twilio", "two_factor.plugins.phonenumber", "django_otp_sms", "otp_sms"}
)
FACTOR_APPS = {
    "totp": "hardened_privacy",
    "webauthn": "django_otp_webauthn",
}
OTP_MIDDLEWARE = "django_otp.middleware.OTPMiddleware"
SECOND_FACTOR_MIDDLEWARE = "hardened_auth.middleware.SecondFactorMiddleware"


def check_second_factors(**kwargs: Any) -> list[CheckMessage]:
    factors = app_settings.SECOND_FACTORS
    if isinstance(factors, str) or not isinstance(factors, list | tuple):
        factors = [str(factors)]
    errors: list[CheckMessage] = [
        Error(
            E015_MSG.format(name),
            hint=f"Choose from {sorted(KNOWN_FACTORS)}.",
            id="hardened_auth.E015",
        )
        for name in factors
        if name not in KNOWN_FACTORS
    ]
    offered = set(factors)
    if any(apps.is_installed(app) for app in SMS_DEVICE_APPS):
        offered.add("sms")
    if not offered & STRONG_FACTORS:
        if "sms" in offered:
            errors.append(
                Error(
                    E013_MSG,
                    hint="SMS codes can be intercepted or redirected; offer "
                    "'webauthn' or 'totp' as well.",
                    id="hardened_auth.E013",
                )
            )
        else:
            errors.append(
                Error(
                    E014_MSG,
                    hint="Include 'webauthn' or 'totp'.",
                    id="hardened_auth.E014",
                )
            )
    for factor, app in FACTOR_APPS.items():
        if factor in offered and not apps.is_installed(app):
            errors.append(
                Error(
                    E016_MSG.format(app, factor),
                    hint="hardened_auth keeps TOTP secrets in hardened_privacy's "
                    "encrypted fields and passkeys in django-otp-webauthn.",
                    id="hardened_auth.E016",
                )
            )
    middleware = list(settings.MIDDLEWARE)
    if (
        SECOND_FACTOR_MIDDLEWARE not in middleware
        or OTP_MIDDLEWARE not in middleware
        or middleware.index(SECOND_FACTOR_MIDDLEWARE) < middleware.index(OTP_MIDDLEWARE)
    ):
        errors.append(
            Error(
                E017_MSG,
                hint="Add both, OTPMiddleware first, after AuthenticationMiddleware.",
                id="hardened_auth.E017",
            )
        )
    issuer = app_settings.TOTP_ISSUER
    if not isinstance(issuer, str) or not issuer.strip() or ":" in issuer:
        errors.append(
            Error(
                E032_MSG,
                hint="Authenticator apps show it next to the account and read "
                "'issuer:account' from the label; for example 'Example Shop'.",
                id="hardened_auth.E032",
            )
        )
    return errors


def check_admin_site(**kwargs: Any) -> list[CheckMessage]:
    from django.contrib import admin
    from django_otp.admin import OTPAdminSite

    if not apps.is_installed("django.contrib.admin") or isinstance(
        admin.site, OTPAdminSite
    ):
        return []
    return [
        Warning(
            W001_MSG,
            hint="Use hardened_auth.admin_site.SecondFactorAdminSite as the "
            "default admin site.",
            id="hardened_auth.W001",
        )
    ]


E018_MSG = (
    "HARDENED_AUTH_SESSION_IDLE_TIMEOUT and HARDENED_AUTH_SESSION_ABSOLUTE_TIMEOUT "
    "must be positive seconds, the idle one no longer than the absolute one."
)
E019_MSG = (
    "HARDENED_AUTH_SESSION_FINGERPRINT_HEADERS must be a non-empty list of headers."
)
E020_MSG = (
    "hardened_auth.middleware.SessionBindingMiddleware must be in MIDDLEWARE, "
    "after AuthenticationMiddleware."
)
E033_MSG = (
    "SESSION_ENGINE stores sessions in signed cookies, which "
    "hardened_auth.middleware.SessionBindingMiddleware cannot end."
)
SESSION_MIDDLEWARE = "hardened_auth.middleware.SessionBindingMiddleware"
SIGNED_COOKIE_SESSIONS = "django.contrib.sessions.backends.signed_cookies"


def _stores_in_cookies(engine: str) -> bool:
    """Tell whether ``engine``'s session store is Django's signed-cookie one.

    An engine that cannot be imported is left to Django, which fails on the
    first request that uses a session.
    """
    if engine == SIGNED_COOKIE_SESSIONS:
        return True
    try:
        store = import_module(engine).SessionStore
    except (ImportError, AttributeError):
        return False
    return isinstance(store, type) and issubclass(store, signed_cookies.SessionStore)


def check_sessions(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    idle = app_settings.SESSION_IDLE_TIMEOUT
    absolute = app_settings.SESSION_ABSOLUTE_TIMEOUT
    if not (
        _is_positive_int(idle, 1) and _is_positive_int(absolute, 1) and idle <= absolute
    ):
        errors.append(
            Error(
                E018_MSG,
                hint="For example 1800 (idle) and 43200 (absolute).",
                id="hardened_auth.E018",
            )
        )
    headers = app_settings.SESSION_FINGERPRINT_HEADERS
    if (
        isinstance(headers, str)
        or not isinstance(headers, list | tuple)
        or not headers
        or not all(isinstance(h, str) and _HEADER_NAME.match(h) for h in headers)
    ):
        errors.append(
            Error(
                E019_MSG,
                hint="For example ['User-Agent', 'Sec-CH-UA', 'Sec-CH-UA-Platform'].",
                id="hardened_auth.E019",
            )
        )
    middleware = list(settings.MIDDLEWARE)
    if SESSION_MIDDLEWARE not in middleware or (
        AUTH_MIDDLEWARE in middleware
        and middleware.index(SESSION_MIDDLEWARE) < middleware.index(AUTH_MIDDLEWARE)
    ):
        errors.append(
            Error(
                E020_MSG,
                hint="Add it after OTPMiddleware.",
                id="hardened_auth.E020",
            )
        )
    if SESSION_MIDDLEWARE in middleware and _stores_in_cookies(settings.SESSION_ENGINE):
        errors.append(
            Error(
                E033_MSG,
                hint=(
                    "Use a server-side engine such as "
                    "django.contrib.sessions.backends.db or "
                    "django.contrib.sessions.backends.cache."
                ),
                id="hardened_auth.E033",
            )
        )
    return errors


E021_MSG = (
    "HARDENED_AUTH_ACCESS_TOKEN_TTL must be 1 to 3600 seconds and "
    "HARDENED_AUTH_REFRESH_TOKEN_TTL positive and longer."
)
MAX_ACCESS_TOKEN_TTL = 3600


def check_tokens(**kwargs: Any) -> list[CheckMessage]:
    access = app_settings.ACCESS_TOKEN_TTL
    refresh = app_settings.REFRESH_TOKEN_TTL
    if (
        _is_positive_int(access, 1)
        and access <= MAX_ACCESS_TOKEN_TTL
        and _is_positive_int(refresh, 1)
        and refresh > access
    ):
        return []
    return [
        Error(
            E021_MSG,
            hint="Access tokens should live minutes: for example 600 and 1209600.",
            id="hardened_auth.E021",
        )
    ]


E022_MSG = (
    "HARDENED_AUTH_VELOCITY_THRESHOLDS must map 'identifier', 'ip' and 'site' "
    "to rising 'delay', 'challenge' and 'lock' counts (or None), and the site "
    "must never lock."
)
E030_MSG = "HARDENED_AUTH_ALTCHA_MAX_NUMBER must be an integer from 1000 to 10000000."
E031_MSG = "HARDENED_AUTH_ALTCHA_TTL must be a positive number of seconds."
MIN_ALTCHA_MAX_NUMBER = 1_000
MAX_ALTCHA_MAX_NUMBER = 10_000_000
VELOCITY_DIMENSIONS = frozenset({"identifier", "ip", "site"})
VELOCITY_STAGES = ("delay", "challenge", "lock")


def _valid_stages(stages: object) -> bool:
    if not isinstance(stages, Mapping) or set(stages) - set(VELOCITY_STAGES):
        return False
    counts = [stages.get(stage) for stage in VELOCITY_STAGES]
    present = [c for c in counts if c is not None]
    return all(_is_positive_int(c, 1) for c in present) and present == sorted(
        set(present)
    )


def check_velocity(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    thresholds = app_settings.VELOCITY_THRESHOLDS
    valid = (
        isinstance(thresholds, Mapping)
        and not set(thresholds) - VELOCITY_DIMENSIONS
        and all(_valid_stages(stages) for stages in thresholds.values())
        and (thresholds.get("site") or {}).get("lock") is None
        and _is_positive_int(app_settings.VELOCITY_WINDOW, 1)
    )
    if not valid:
        errors.append(
            Error(
                E022_MSG,
                hint="For example {'identifier': {'delay': 3, 'challenge': 5, "
                "'lock': 10}, 'site': {'challenge': 500}}.",
                id="hardened_auth.E022",
            )
        )
    max_number = app_settings.ALTCHA_MAX_NUMBER
    if not (
        _is_positive_int(max_number, MIN_ALTCHA_MAX_NUMBER)
        and max_number <= MAX_ALTCHA_MAX_NUMBER
    ):
        errors.append(
            Error(
                E030_MSG,
                hint="Below 1000 the proof of work costs an attacker nothing; "
                "above 10000000 a phone takes too long. The default is 100000.",
                id="hardened_auth.E030",
            )
        )
    if not _is_positive_int(app_settings.ALTCHA_TTL, 1):
        errors.append(
            Error(
                E031_MSG,
                hint="For example 300 (five minutes); a challenge that has "
                "expired can never be solved.",
                id="hardened_auth.E031",
            )
        )
    return errors


E023_MSG = (
    "allauth's OpenID Connect provider must be "
    "hardened_auth.oidc_provider.HardenedOpenIDConnectProvider."
)
E024_MSG = "The OpenID Connect app {!r} has PKCE turned off."
E025_MSG = "The OpenID Connect app {!r} asks for scopes it should not: {}."
E026_MSG = "HARDENED_AUTH_OIDC_ALLOWED_SCOPES must be a list of scopes with 'openid'."
E027_MSG = "The OpenID Connect app {!r} sets parameters the flow owns: {}."
W002_MSG = "The OpenID Connect app {!r} discovers its provider over plain HTTP."
OIDC_PROVIDER_APP = "allauth.socialaccount.providers.openid_connect"

_PROBLEM_MESSAGES = {
    "pkce": (
        E024_MSG,
        "hardened_auth.E024",
        "Remove oauth_pkce_enabled=False and OAUTH_PKCE_ENABLED=False; the "
        "provider must verify an S256 code_verifier.",
    ),
    "scope": (
        E025_MSG,
        "hardened_auth.E025",
        "Ask for 'openid', 'email' and 'profile', plus 'groups' if roles follow "
        "the provider's groups; widen HARDENED_AUTH_OIDC_ALLOWED_SCOPES only "
        "for a scope the site reads.",
    ),
    "auth_params": (
        E027_MSG,
        "hardened_auth.E027",
        "Drop redirect_uri, nonce, state, scope and PKCE parameters from "
        "auth_params; the provider class sets them.",
    ),
}


def _oidc_app_messages(name: str, app_config: object) -> list[CheckMessage]:
    from hardened_auth.internal.oidc import app_problems, provider_settings

    messages: list[CheckMessage] = []
    allowed = app_settings.OIDC_ALLOWED_SCOPES
    allowed_list = list(allowed) if isinstance(allowed, list | tuple) else []
    for problem in app_problems(app_config, provider_settings(), allowed_list):
        template, check_id, hint = _PROBLEM_MESSAGES[problem.kind]
        text = (
            template.format(name)
            if problem.kind == "pkce"
            else (template.format(name, problem.detail))
        )
        messages.append(Error(text, hint=hint, id=check_id))
    return messages


def _settings_oidc_apps() -> list[tuple[str, object]]:
    from hardened_auth.internal.oidc import provider_settings

    configured = provider_settings().get("APPS", [])
    if not isinstance(configured, list | tuple):
        return []
    return [
        (
            str(app.get("provider_id") or app.get("name") or "?"),
            app.get("settings", {}),
        )
        for app in configured
        if isinstance(app, Mapping)
    ]


def check_oidc(**kwargs: Any) -> list[CheckMessage]:
    from hardened_auth.internal.oidc import PROVIDER_CLASS, provider_settings

    errors: list[CheckMessage] = []
    allowed = app_settings.OIDC_ALLOWED_SCOPES
    if (
        isinstance(allowed, str)
        or not isinstance(allowed, list | tuple)
        or not all(isinstance(scope, str) and scope for scope in allowed)
        or "openid" not in allowed
    ):
        errors.append(
            Error(
                E026_MSG,
                hint="For example ['openid', 'email', 'profile', 'groups'].",
                id="hardened_auth.E026",
            )
        )
    if not apps.is_installed(OIDC_PROVIDER_APP):
        return errors

    if provider_settings().get("provider_class") != PROVIDER_CLASS:
        errors.append(
            Error(
                E023_MSG,
                hint="Build SOCIALACCOUNT_PROVIDERS['openid_connect'] with "
                "hardened_auth.oidc.openid_connect_settings(), or set its "
                f"'provider_class' to {PROVIDER_CLASS!r}.",
                id="hardened_auth.E023",
            )
        )
    for name, app_config in _settings_oidc_apps():
        errors.extend(_oidc_app_messages(name, app_config))
    return errors


def check_oidc_database_apps(
    databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """The same checks for OpenID Connect apps stored as ``SocialApp`` rows."""
    if not databases or not apps.is_installed(OIDC_PROVIDER_APP):
        return []
    from allauth.socialaccount.models import SocialApp
    from django.db import DatabaseError

    errors: list[CheckMessage] = []
    for database in databases:
        try:
            rows = list(
                SocialApp.objects.using(database)
                .filter(provider="openid_connect")
                .values_list("provider_id", "name", "settings")
            )
        except DatabaseError:
            continue
        for provider_id, name, app_config in rows:
            errors.extend(_oidc_app_messages(str(provider_id or name), app_config))
    return errors


def check_oidc_transport(**kwargs: Any) -> list[CheckMessage]:
    from hardened_auth.internal.oidc import is_insecure_server_url

    if not apps.is_installed(OIDC_PROVIDER_APP):
        return []
    return [
        Warning(
            W002_MSG.format(name),
            hint="Use the provider's https:// issuer URL as server_url.",
            id="hardened_auth.W002",
        )
        for name, app_config in _settings_oidc_apps()
        if isinstance(app_config, Mapping)
        and is_insecure_server_url(app_config.get("server_url"))
    ]


E028_MSG = (
    "HARDENED_AUTH_SYNTHETIC_EMAIL, HARDENED_AUTH_SYNTHETIC_PASSWORD and "
    "HARDENED_AUTH_SYNTHETIC_TENANT must be strings, and the email and "
    "password are set together."
)


def check_synthetic(**kwargs: Any) -> list[CheckMessage]:
    values = (
        app_settings.SYNTHETIC_EMAIL,
        app_settings.SYNTHETIC_PASSWORD,
        app_settings.SYNTHETIC_TENANT,
    )
    if all(isinstance(v, str) for v in values) and bool(values[0]) == bool(values[1]):
        return []
    return [
        Error(
            E028_MSG,
            hint="Set both from the environment, for example "
            "HARDENED_AUTH_SYNTHETIC_PASSWORD = os.environ.get("
            "'SYNTHETIC_PASSWORD', ''), or leave all three empty.",
            id="hardened_auth.E028",
        )
    ]


E029_MSG = (
    "HARDENED_AUTH_OIDC_EMAIL_MATCH must be None or the dotted path of a callable."
)
W003_MSG = (
    "The OpenID Connect app {!r} signs in by email, but SOCIALACCOUNT_ADAPTER "
    "does not check which accounts a provider may sign in to."
)
SOCIAL_ADAPTER = "hardened_auth.social_adapter.SocialAccountAdapter"


def check_oidc_email_match(**kwargs: Any) -> list[CheckMessage]:
    from django.utils.module_loading import import_string

    path = app_settings.OIDC_EMAIL_MATCH
    if path is None:
        return []
    try:
        value = import_string(path) if isinstance(path, str) and path else None
    except ImportError:
        value = None
    if callable(value):
        return []
    return [
        Error(
            E029_MSG,
            hint="Name a function taking (provider_id, user, email) that "
            "returns True only for accounts that provider provisioned.",
            id="hardened_auth.E029",
        )
    ]


def _adapter_checks_email_match() -> bool:
    from django.utils.module_loading import import_string

    from hardened_auth.social_adapter import SocialAccountAdapter

    path = getattr(settings, "SOCIALACCOUNT_ADAPTER", "")
    try:
        adapter = import_string(path) if isinstance(path, str) and path else None
    except ImportError:
        return False
    return isinstance(adapter, type) and issubclass(adapter, SocialAccountAdapter)


def check_oidc_email_authentication(**kwargs: Any) -> list[CheckMessage]:
    from hardened_auth.internal.oidc import provider_settings

    if not apps.is_installed(OIDC_PROVIDER_APP):
        return []
    global_on = bool(
        getattr(settings, "SOCIALACCOUNT_EMAIL_AUTHENTICATION", False)
        or provider_settings().get("EMAIL_AUTHENTICATION", False)
    )
    names = []
    for name, app_config in _settings_oidc_apps():
        if not isinstance(app_config, Mapping):
            continue
        own = app_config.get("email_authentication")
        if global_on if own is None else bool(own):
            names.append(name)
    if not names or _adapter_checks_email_match():
        return []
    return [
        Warning(
            W003_MSG.format(name),
            hint=f"Set SOCIALACCOUNT_ADAPTER = {SOCIAL_ADAPTER!r} and "
            "HARDENED_AUTH_OIDC_EMAIL_MATCH, or turn email_authentication off.",
            id="hardened_auth.W003",
        )
        for name in names
    ]
