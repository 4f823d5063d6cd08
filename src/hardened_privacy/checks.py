"""System checks for the ``HARDENED_PRIVACY_*`` settings."""

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error

from hardened_privacy.conf import app_settings
from hardened_privacy.internal.keyring import KEY_ID, key_environment

E001_MSG = "HARDENED_PRIVACY_ENVIRONMENT must be a short lower-case name."
E002_MSG = "HARDENED_PRIVACY_KEY_PROVIDERS must map aliases to {'BACKEND': ...}."
E003_MSG = (
    "HARDENED_PRIVACY_KEYS must map key ids like 'production/2026-01' to "
    "{'PROVIDER': alias, 'REFERENCE': name} with a configured provider."
)
E004_MSG = "HARDENED_PRIVACY_ACTIVE_KEY must name a key in HARDENED_PRIVACY_KEYS."
E005_MSG = "A key in HARDENED_PRIVACY_KEYS belongs to another environment."
E006_MSG = "Models use encrypted fields but HARDENED_PRIVACY_ACTIVE_KEY is not set."
E015_MSG = "Models use blind indexes but HARDENED_PRIVACY_BLIND_INDEX_KEY is not set."
E016_MSG = (
    "An AuditLogHandler is attached to a logger but HARDENED_PRIVACY_AUDIT_KEY "
    "is not set."
)

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


def _providers_valid(providers: object) -> bool:
    if not isinstance(providers, dict):
        return False
    return all(
        isinstance(alias, str)
        and isinstance(spec, dict)
        and isinstance(spec.get("BACKEND"), str)
        and isinstance(spec.get("OPTIONS", {}), dict)
        for alias, spec in providers.items()
    )


def _keys_valid(keys: object, providers: dict[str, Any]) -> bool:
    if not isinstance(keys, dict):
        return False
    return all(
        isinstance(key_id, str)
        and KEY_ID.match(key_id) is not None
        and isinstance(spec, dict)
        and spec.get("PROVIDER") in providers
        and isinstance(spec.get("REFERENCE"), str)
        and bool(spec["REFERENCE"])
        for key_id, spec in keys.items()
    )


def _models_use_encryption() -> bool:
    from hardened_privacy.fields import EncryptedFieldMixin

    return any(
        isinstance(field, EncryptedFieldMixin)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
    )


def _models_use_blind_index() -> list[str]:
    from hardened_privacy.fields import BlindIndexField

    return sorted(
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, BlindIndexField)
    )


def _audit_handler_loggers() -> list[str]:
    from hardened_privacy.audit import AuditLogHandler

    return sorted(
        {
            logger_.name or "root"
            for logger_ in _watched_loggers()
            for handler in logger_.handlers
            if isinstance(handler, AuditLogHandler)
        }
    )


def _missing_secret_keys() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    unset = (_MISSING, None)
    indexed = _models_use_blind_index() if _raw("BLIND_INDEX_KEY") in unset else []
    if indexed:
        messages.append(
            Error(
                E015_MSG,
                hint="Configure a key of at least 32 bytes for: "
                + ", ".join(indexed)
                + "; see docs/hardened_privacy_keys.md.",
                id="hardened_privacy.E015",
            )
        )
    audited = _audit_handler_loggers() if _raw("AUDIT_KEY") in unset else []
    if audited:
        messages.append(
            Error(
                E016_MSG,
                hint="Without it every audit event is lost; configure a key of at "
                "least 32 bytes. Loggers: " + ", ".join(audited) + ".",
                id="hardened_privacy.E016",
            )
        )
    return messages


def check_keys(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    providers = getattr(settings, "HARDENED_PRIVACY_KEY_PROVIDERS", {})
    keys = getattr(settings, "HARDENED_PRIVACY_KEYS", {})
    active = app_settings.ACTIVE_KEY
    if not _providers_valid(providers):
        messages.append(
            Error(
                E002_MSG,
                hint="For example {'env': {'BACKEND': "
                "'hardened_privacy.keys.EnvironmentKeyProvider'}}.",
                id="hardened_privacy.E002",
            )
        )
        providers = {}
    if not _keys_valid(keys, providers):
        messages.append(
            Error(
                E003_MSG,
                hint="Key ids start with the environment name and a slash.",
                id="hardened_privacy.E003",
            )
        )
        return messages + _missing_secret_keys()
    if active is not None and active not in keys:
        messages.append(
            Error(
                E004_MSG,
                hint="Add the key to HARDENED_PRIVACY_KEYS or fix the id.",
                id="hardened_privacy.E004",
            )
        )
    foreign = sorted(k for k in keys if key_environment(k) != app_settings.ENVIRONMENT)
    if foreign:
        messages.append(
            Error(
                E005_MSG,
                hint=f"HARDENED_PRIVACY_ENVIRONMENT is "
                f"{app_settings.ENVIRONMENT!r}; remove or replace: "
                f"{', '.join(foreign)}.",
                id="hardened_privacy.E005",
            )
        )
    if active is None and _models_use_encryption():
        messages.append(
            Error(
                E006_MSG,
                hint="Configure a master key; see docs/hardened_privacy_keys.md.",
                id="hardened_privacy.E006",
            )
        )
    return messages + _missing_secret_keys()


E050_MSG = (
    "HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS must be a list of host names, "
    "'*.' wildcard suffixes or IP literals, each with an optional port."
)
E051_MSG = (
    "HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES must be a non-empty list of "
    "'https' and 'http'."
)
W052_MSG = "HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES allows unencrypted http."
E053_MSG = "HARDENED_PRIVACY_EGRESS_PROXY must be an 'http://host:port' URL."
W055_MSG = (
    "HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS lists an internal address that the "
    "egress guard always refuses."
)
E054_MSG = (
    "HARDENED_PRIVACY_EGRESS_TIMEOUT and HARDENED_PRIVACY_EGRESS_MAX_RESPONSE_BYTES "
    "must be positive numbers and HARDENED_PRIVACY_EGRESS_MAX_REDIRECTS a "
    "non-negative integer."
)


def _positive(value: object, integer: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value > 0 and (not integer or isinstance(value, int))


def _internal_literal(entry: str) -> bool:
    from hardened_privacy.internal.egress_addresses import (
        parse_address,
        refusal_reason,
    )
    from hardened_privacy.internal.egress_policy import parse_entry

    address = parse_address(parse_entry(entry)[0])
    return address is not None and refusal_reason(address) is not None


def check_egress(**kwargs: Any) -> list[CheckMessage]:
    from django.core.checks import Warning

    from hardened_privacy.exceptions import EgressConnectionError
    from hardened_privacy.internal.egress_policy import entry_valid
    from hardened_privacy.internal.egress_transport import parse_proxy

    messages: list[CheckMessage] = []
    hosts = getattr(settings, "HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS", [])
    if not isinstance(hosts, list | tuple) or not all(entry_valid(h) for h in hosts):
        messages.append(
            Error(
                E050_MSG,
                hint="For example ['api.example.com', '*.example.org:8443'].",
                id="hardened_privacy.E050",
            )
        )
    elif any(_internal_literal(h) for h in hosts):
        messages.append(
            Warning(
                W055_MSG,
                hint="Remove it; internal services are not reachable through the "
                "guard.",
                id="hardened_privacy.W055",
            )
        )
    schemes = getattr(settings, "HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES", ["https"])
    if (
        not isinstance(schemes, list | tuple)
        or not schemes
        or not set(schemes) <= {"http", "https"}
    ):
        messages.append(
            Error(E051_MSG, hint="Use ['https'].", id="hardened_privacy.E051")
        )
    proxy = getattr(settings, "HARDENED_PRIVACY_EGRESS_PROXY", None)
    if proxy is not None:
        try:
            parse_proxy(proxy if isinstance(proxy, str) else "")
        except EgressConnectionError:
            messages.append(
                Error(
                    E053_MSG,
                    hint="For example 'http://egress-proxy.internal:3128', with "
                    "'user:password@' before the host if the proxy needs it, or "
                    "None.",
                    id="hardened_privacy.E053",
                )
            )
    redirects = getattr(settings, "HARDENED_PRIVACY_EGRESS_MAX_REDIRECTS", 3)
    if not (
        _positive(getattr(settings, "HARDENED_PRIVACY_EGRESS_TIMEOUT", 10))
        and _positive(
            getattr(settings, "HARDENED_PRIVACY_EGRESS_MAX_RESPONSE_BYTES", 1),
            integer=True,
        )
        and (redirects == 0 or _positive(redirects, integer=True))
        and not isinstance(redirects, bool)
    ):
        messages.append(
            Error(
                E054_MSG,
                hint="For example 10 seconds, 10485760 bytes and 3 redirects.",
                id="hardened_privacy.E054",
            )
        )
    return messages


def check_egress_schemes(**kwargs: Any) -> list[CheckMessage]:
    from django.core.checks import Warning

    schemes = getattr(settings, "HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES", ["https"])
    if isinstance(schemes, list | tuple) and "http" in schemes:
        return [
            Warning(
                W052_MSG,
                hint="Remove 'http' so requests and responses stay encrypted.",
                id="hardened_privacy.W052",
            )
        ]
    return []


W001_MSG = "Rows still depend on a retired key; run hardened_privacy_rotate_keys."
W002_MSG = "Some model fields have no data classification."


def check_retired_keys(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    from django.core.checks import Warning
    from django.db import DatabaseError

    from hardened_privacy.internal.rotation import encrypted_models, legacy, under_key

    retired = [k for k in app_settings.KEYS if k != app_settings.ACTIVE_KEY]
    findings: list[str] = []
    for alias in databases or []:
        for model, fields in encrypted_models():
            rows = model._base_manager.using(alias)
            try:
                for key_id in retired:
                    count = rows.filter(under_key(fields, key_id)).count()
                    if count:
                        findings.append(f"{model._meta.label}: {count} under {key_id}")
                count = rows.filter(legacy(fields)).count()
            except DatabaseError:
                continue
            if count:
                findings.append(f"{model._meta.label}: {count} in a legacy format")
    if not findings:
        return []
    return [
        Warning(
            W001_MSG,
            hint="; ".join(findings) + ".",
            id="hardened_privacy.W001",
        )
    ]


def check_classification(**kwargs: Any) -> list[CheckMessage]:
    from django.core.checks import Warning

    from hardened_privacy.classification import unclassified_fields

    missing = unclassified_fields()
    if not missing:
        return []
    return [
        Warning(
            W002_MSG,
            hint="Declare them in HARDENED_PRIVACY_CLASSIFICATION or with "
            "hardened_privacy.classification.register(): " + ", ".join(missing),
            id="hardened_privacy.W002",
        )
    ]


E060_MSG = "HARDENED_PRIVACY_PROMPT_DIRS must be a list of existing directories."
E061_MSG = "HARDENED_PRIVACY_PROMPT_REQUIRE_LOCK must be True or False."


def check_prompt_dirs(**kwargs: Any) -> list[CheckMessage]:
    from hardened_privacy.prompts.render import prompt_directories

    messages: list[CheckMessage] = []
    value = getattr(settings, "HARDENED_PRIVACY_PROMPT_DIRS", [])
    hint = None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        missing = [str(d) for d in prompt_directories(value) if not d.is_dir()]
        if missing:
            hint = "Missing: " + ", ".join(missing) + "."
    else:
        hint = "For example [BASE_DIR / 'prompts'] as strings."
    if hint is not None:
        messages.append(Error(E060_MSG, hint=hint, id="hardened_privacy.E060"))
    if not isinstance(
        getattr(settings, "HARDENED_PRIVACY_PROMPT_REQUIRE_LOCK", True), bool
    ):
        messages.append(
            Error(
                E061_MSG,
                hint="Leave it True so every rendered version is a recorded one.",
                id="hardened_privacy.E061",
            )
        )
    return messages


E070_MSG = "HARDENED_PRIVACY_REVIEW_MANIFEST must be a non-empty file path."
E071_MSG = (
    "HARDENED_PRIVACY_REVIEW_PATTERNS must map category names to non-empty "
    "lists of glob patterns."
)
E072_MSG = "HARDENED_PRIVACY_REVIEW_EXCLUDE must be a list of glob patterns."
E073_MSG = (
    "HARDENED_PRIVACY_REVIEW_MARKERS must map category names to lists of "
    "regular expressions that compile."
)


def _globs(value: object, allow_empty: bool) -> bool:
    return (
        isinstance(value, list | tuple)
        and (allow_empty or bool(value))
        and all(isinstance(v, str) and v for v in value)
    )


def check_review(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    manifest = getattr(settings, "HARDENED_PRIVACY_REVIEW_MANIFEST", "x")
    if not isinstance(manifest, str) or not manifest.strip():
        messages.append(
            Error(
                E070_MSG,
                hint="For example 'review-manifest.json' at the project root.",
                id="hardened_privacy.E070",
            )
        )
    patterns = getattr(settings, "HARDENED_PRIVACY_REVIEW_PATTERNS", None)
    if patterns is not None and not (
        isinstance(patterns, dict)
        and patterns
        and all(
            isinstance(k, str) and k and _globs(v, False) for k, v in patterns.items()
        )
    ):
        messages.append(
            Error(
                E071_MSG,
                hint="For example {'migration': ['**/migrations/*.py']}, or "
                "leave it unset for the defaults.",
                id="hardened_privacy.E071",
            )
        )
    exclude = getattr(settings, "HARDENED_PRIVACY_REVIEW_EXCLUDE", None)
    if exclude is not None and not _globs(exclude, True):
        messages.append(
            Error(
                E072_MSG,
                hint="For example ['build/**'], or leave it unset for the defaults.",
                id="hardened_privacy.E072",
            )
        )
    markers = getattr(settings, "HARDENED_PRIVACY_REVIEW_MARKERS", None)
    if markers is not None and not _markers_valid(markers):
        messages.append(
            Error(
                E073_MSG,
                hint="For example {'auth_gate': [r'@login_required\\b']}, {} for "
                "none, or leave it unset for the defaults.",
                id="hardened_privacy.E073",
            )
        )
    return messages


def _markers_valid(markers: object) -> bool:
    if not isinstance(markers, dict):
        return False
    for category, regexes in markers.items():
        if not isinstance(category, str) or not category or not _globs(regexes, False):
            return False
        try:
            for regex in regexes:
                re.compile(regex)
        except re.error:
            return False
    return True


E020_MSG = "Debug or profiling tools are installed in a production deployment."
E021_MSG = "DEBUG is on in a production deployment."
W022_MSG = "No Content-Security-Policy is configured."
E023_MSG = "The first password hasher is weaker than the minimum."
W024_MSG = "SECRET_KEY_FALLBACKS has kept a retired key longer than allowed."
W025_MSG = "Some log handlers do not mask personal and secret values."
E026_MSG = "Encryption keys or secrets are written in the settings source."

DEBUG_TOOLS = (
    "debug_toolbar",
    "django_extensions",
    "silk",
    "django_browser_reload",
    "nplusone",
    "pyinstrument",
    "django_cprofile_middleware",
    "querycount",
)


def _is_debug_tool(path: str) -> bool:
    return any(path == tool or path.startswith(tool + ".") for tool in DEBUG_TOOLS)


def check_debug_tools(**kwargs: Any) -> list[CheckMessage]:
    found = [
        path
        for path in [*settings.INSTALLED_APPS, *settings.MIDDLEWARE]
        if _is_debug_tool(str(path))
    ]
    if not found:
        return []
    return [
        Error(
            E020_MSG,
            hint="Install them only in development settings: " + ", ".join(found),
            id="hardened_privacy.E020",
        )
    ]


def check_debug(**kwargs: Any) -> list[CheckMessage]:
    if not settings.DEBUG:
        return []
    return [
        Error(
            E021_MSG,
            hint="Set DEBUG = False; error pages would show settings and data.",
            id="hardened_privacy.E021",
        )
    ]


def check_content_security_policy(**kwargs: Any) -> list[CheckMessage]:
    from django.core.checks import Warning

    if getattr(settings, "SECURE_CSP", None) or getattr(
        settings, "CONTENT_SECURITY_POLICY", None
    ):
        return []
    if any("csp" in str(path).lower() for path in settings.MIDDLEWARE):
        return []
    return [
        Warning(
            W022_MSG,
            hint="Set SECURE_CSP (Django 6) or add a CSP middleware such as "
            "django-csp, starting from \"default-src 'self'\".",
            id="hardened_privacy.W022",
        )
    ]


def _hasher_strong(hasher: Any) -> bool:
    algorithm = getattr(hasher, "algorithm", "")
    if algorithm == "argon2":
        return bool(
            hasher.memory_cost >= 19456
            and hasher.time_cost >= 2
            and hasher.parallelism >= 1
        )
    if algorithm == "pbkdf2_sha256":
        return bool(hasher.iterations >= 600_000)
    if algorithm == "scrypt":
        return bool(hasher.work_factor >= 2**16)
    if algorithm == "bcrypt_sha256":
        return bool(hasher.rounds >= 12)
    return False


def check_password_hasher_strength(**kwargs: Any) -> list[CheckMessage]:
    from django.contrib.auth.hashers import get_hashers

    hashers = get_hashers()
    if hashers and _hasher_strong(hashers[0]):
        return []
    return [
        Error(
            E023_MSG,
            hint="Use argon2id with at least 19 MiB and 2 passes, or PBKDF2-SHA256 "
            "with at least 600,000 iterations.",
            id="hardened_privacy.E023",
        )
    ]


def check_secret_key_fallbacks(**kwargs: Any) -> list[CheckMessage]:
    import datetime

    from django.core.checks import Warning

    fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
    if not fallbacks:
        return []
    rotated = app_settings.SECRET_KEY_ROTATED_AT
    limit = datetime.timedelta(days=app_settings.SECRET_KEY_FALLBACK_DAYS)
    today = datetime.date.today()
    stale = (
        rotated is None or today - rotated > limit or settings.SECRET_KEY in fallbacks
    )
    if not stale:
        return []
    return [
        Warning(
            W024_MSG,
            hint="Remove old keys from SECRET_KEY_FALLBACKS once sessions and "
            "signed links have expired, and set "
            "HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT to the rotation date.",
            id="hardened_privacy.W024",
        )
    ]


def _watched_loggers() -> list[Any]:
    import logging

    configured = getattr(settings, "LOGGING", {}) or {}
    names = {"django", "django.request", "django.security", "django.server"}
    names.update((configured.get("loggers") or {}).keys())
    names.update(
        name
        for name in logging.Logger.manager.loggerDict
        if name.startswith("hardened_")
    )
    return [logging.getLogger(), *(logging.getLogger(name) for name in sorted(names))]


def _unmasked_handlers() -> list[str]:
    import logging

    from hardened_privacy.masking import MaskingFilter

    found = []
    for logger_ in _watched_loggers():
        for handler in logger_.handlers:
            if isinstance(handler, logging.NullHandler) or type(
                handler
            ).__module__.startswith("_pytest"):
                continue
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                found.append(f"{logger_.name or 'root'}: {type(handler).__name__}")
    return sorted(set(found))


def check_log_masking(**kwargs: Any) -> list[CheckMessage]:
    from django.core.checks import Warning

    found = _unmasked_handlers()
    if not found:
        return []
    return [
        Warning(
            W025_MSG,
            hint="Add hardened_privacy.masking.MaskingFilter to the filters of: "
            + ", ".join(found),
            id="hardened_privacy.W025",
        )
    ]


def check_keys_in_source(**kwargs: Any) -> list[CheckMessage]:
    providers = getattr(settings, "HARDENED_PRIVACY_KEY_PROVIDERS", {})
    inline = []
    if isinstance(providers, dict):
        for alias, spec in providers.items():
            options = spec.get("OPTIONS", {}) if isinstance(spec, dict) else {}
            if isinstance(options, dict) and options.get("DEVELOPMENT_DEFAULTS"):
                inline.append(f"{alias}: DEVELOPMENT_DEFAULTS")
    keys = getattr(settings, "HARDENED_PRIVACY_KEYS", {})
    if isinstance(keys, dict):
        for key_id, spec in keys.items():
            if isinstance(spec, dict) and set(spec) & {"KEY", "VALUE", "MATERIAL"}:
                inline.append(f"{key_id}: key material")
    if not inline:
        return []
    return [
        Error(
            E026_MSG,
            hint="Read keys from a provider (environment, files, Vault, KMS); "
            "found: " + ", ".join(inline),
            id="hardened_privacy.E026",
        )
    ]


E007_MSG = (
    "HARDENED_PRIVACY_BLIND_INDEX_KEY, HARDENED_PRIVACY_AUDIT_KEY and the "
    "legacy keys must be {'PROVIDER': alias, 'REFERENCE': name}."
)
E008_MSG = "HARDENED_PRIVACY_DATA_KEY_MAX_USES must be an integer from 1 to 2**32."
E009_MSG = "HARDENED_PRIVACY_MASKED_NAMES must be a list of strings."
E010_MSG = "HARDENED_PRIVACY_LOG_MAX_LENGTH must be an integer of at least 256."
E011_MSG = "HARDENED_PRIVACY_CLASSIFICATION has an entry that cannot be read."
E012_MSG = "HARDENED_PRIVACY_RETENTION_DAYS or _RETENTION_MODELS is malformed."
E013_MSG = "HARDENED_PRIVACY_LEGAL_HOLD_MODELS or _ERASURE_LEDGER is malformed."
E014_MSG = (
    "HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT must be an ISO date and "
    "HARDENED_PRIVACY_SECRET_KEY_FALLBACK_DAYS a positive integer."
)
E080_MSG = (
    "HARDENED_PRIVACY_REQUEST_ID_HEADER must be None or a header name such as "
    "'X-Request-ID'."
)

_MISSING = object()
_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")


def _raw(name: str) -> Any:
    return getattr(settings, "HARDENED_PRIVACY_" + name, _MISSING)


def _integer(value: Any, low: int, high: int) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    )


def _secret_spec_ok(spec: Any, providers: Any) -> bool:
    return (
        isinstance(spec, dict)
        and isinstance(providers, dict)
        and spec.get("PROVIDER") in providers
        and isinstance(spec.get("REFERENCE"), str)
        and bool(spec["REFERENCE"])
    )


def _secret_specs_ok() -> bool:
    providers = getattr(settings, "HARDENED_PRIVACY_KEY_PROVIDERS", {})
    specs = [_raw("BLIND_INDEX_KEY"), _raw("AUDIT_KEY")]
    legacy = _raw("LEGACY_DJANGO_CRYPTOGRAPHY")
    if legacy is not _MISSING:
        items = [legacy] if isinstance(legacy, dict) else legacy
        if not isinstance(items, list | tuple):
            return False
        for item in items:
            if not isinstance(item, dict):
                return False
            specs.append(item.get("SECRET_KEY"))
            if item.get("CRYPTOGRAPHY_KEY") is not None:
                specs.append(item["CRYPTOGRAPHY_KEY"])
    return all(
        spec is _MISSING or spec is None or _secret_spec_ok(spec, providers)
        for spec in specs
    )


def _classification_ok() -> bool:
    from django.core.exceptions import ImproperlyConfigured

    from hardened_privacy.classification import _coerce

    value = _raw("CLASSIFICATION")
    if value is _MISSING:
        return True
    if not isinstance(value, dict):
        return False
    try:
        for label, fields in value.items():
            apps.get_model(label)
            for name, level in fields.items():
                _coerce(level, f"{label}.{name}")
    except (LookupError, ValueError, TypeError, AttributeError, ImproperlyConfigured):
        return False
    return True


def _retention_ok() -> bool:
    from django.core.exceptions import FieldDoesNotExist

    days = _raw("RETENTION_DAYS")
    if days is not _MISSING and not (
        isinstance(days, dict)
        and all(
            k in {"public", "internal", "personal", "secret"}
            and (v is None or _integer(v, 1, 100_000))
            for k, v in days.items()
        )
    ):
        return False
    models_ = _raw("RETENTION_MODELS")
    if models_ is _MISSING:
        return True
    if not isinstance(models_, dict):
        return False
    for label, policy in models_.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            return False
        if not isinstance(policy, dict) or policy.get("ACTION", "anonymise") not in {
            "anonymise",
            "delete",
        }:
            return False
        try:
            model._meta.get_field(str(policy.get("AGE_FIELD")))
        except FieldDoesNotExist:
            return False
        if policy.get("DAYS") is not None and not _integer(policy["DAYS"], 1, 100_000):
            return False
    return True


def _erasure_ok() -> bool:
    holds = _raw("LEGAL_HOLD_MODELS")
    ledger = _raw("ERASURE_LEDGER")
    if holds is not _MISSING and not (
        isinstance(holds, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in holds.items())
    ):
        return False
    return ledger is _MISSING or ledger is None or isinstance(ledger, str)


def _fallbacks_ok() -> bool:
    import datetime

    rotated = _raw("SECRET_KEY_ROTATED_AT")
    if rotated not in (_MISSING, None) and not isinstance(rotated, datetime.date):
        try:
            datetime.date.fromisoformat(str(rotated))
        except ValueError:
            return False
    days = _raw("SECRET_KEY_FALLBACK_DAYS")
    return days is _MISSING or _integer(days, 1, 3650)


def _request_id_header_ok() -> bool:
    header = _raw("REQUEST_ID_HEADER")
    return header in (_MISSING, None) or (
        isinstance(header, str)
        and len(header) <= 64
        and _HEADER_NAME.fullmatch(header) is not None
    )


def check_privacy_settings(**kwargs: Any) -> list[CheckMessage]:
    max_uses = _raw("DATA_KEY_MAX_USES")
    names = _raw("MASKED_NAMES")
    length = _raw("LOG_MAX_LENGTH")
    table = [
        (_secret_specs_ok(), E007_MSG, "Name a configured provider.", "E007"),
        (
            max_uses is _MISSING or _integer(max_uses, 1, 2**32),
            E008_MSG,
            "Leave it unset for 2**24.",
            "E008",
        ),
        (
            names is _MISSING
            or (
                isinstance(names, list | tuple)
                and all(isinstance(n, str) for n in names)
            ),
            E009_MSG,
            "For example ['national_id'].",
            "E009",
        ),
        (
            length is _MISSING or _integer(length, 256, 10_000_000),
            E010_MSG,
            "Leave it unset for 4096.",
            "E010",
        ),
        (
            _classification_ok(),
            E011_MSG,
            "Map 'app_label.Model' to {field: 'personal'} or "
            "{field: {'level': 'personal', 'retention': days}}.",
            "E011",
        ),
        (
            _retention_ok(),
            E012_MSG,
            "Days are positive integers; each model needs an existing AGE_FIELD "
            "and ACTION 'anonymise' or 'delete'.",
            "E012",
        ),
        (
            _erasure_ok(),
            E013_MSG,
            "Map 'app_label.Model' to the legal reason; the ledger is a file path.",
            "E013",
        ),
        (_fallbacks_ok(), E014_MSG, "For example '2026-11-20' and 30.", "E014"),
        (
            _request_id_header_ok(),
            E080_MSG,
            "Name it only when a proxy you trust sets it; leave it unset otherwise.",
            "E080",
        ),
    ]
    return [
        Error(message, hint=hint, id=f"hardened_privacy.{code}")
        for ok, message, hint, code in table
        if not ok
    ]
