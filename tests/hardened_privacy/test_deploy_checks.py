import datetime
import logging

import pytest
from django.conf import settings
from django.test import override_settings

from hardened_privacy import checks
from hardened_privacy.masking import MaskingFilter

STRONG = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


def ids(messages):
    return [m.id for m in messages]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("INSTALLED_APPS", ["django.contrib.auth", "debug_toolbar"]),
        ("INSTALLED_APPS", ["django_extensions"]),
        ("MIDDLEWARE", ["silk.middleware.SilkyMiddleware"]),
    ],
)
def test_debug_tools_fail(setting, value, monkeypatch):
    # Set without override_settings: the app registry must not import them.
    monkeypatch.setattr(settings, setting, value)
    messages = checks.check_debug_tools()
    assert ids(messages) == ["hardened_privacy.E020"]
    assert messages[0].msg == checks.E020_MSG
    assert value[-1] in str(messages[0].hint)


def test_no_debug_tools_pass():
    assert checks.check_debug_tools() == []


def test_debug_on_fails_and_off_passes():
    with override_settings(DEBUG=True):
        messages = checks.check_debug()
    assert ids(messages) == ["hardened_privacy.E021"]
    assert messages[0].msg == checks.E021_MSG
    with override_settings(DEBUG=False):
        assert checks.check_debug() == []


def test_missing_csp_warns(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csp" not in m]
    messages = checks.check_content_security_policy()
    assert ids(messages) == ["hardened_privacy.W022"]
    assert messages[0].msg == checks.W022_MSG


@pytest.mark.parametrize(
    "configuration",
    [
        {"SECURE_CSP": {"default-src": ["'self'"]}},
        {"MIDDLEWARE": ["csp.middleware.CSPMiddleware"]},
    ],
)
def test_csp_configured_passes(configuration):
    with override_settings(**configuration):
        assert checks.check_content_security_policy() == []


@pytest.mark.parametrize(
    "hashers",
    [
        ["django.contrib.auth.hashers.MD5PasswordHasher"],
        ["django.contrib.auth.hashers.BCryptPasswordHasher"],
        ["tests.hardened_privacy.test_deploy_checks.WeakPBKDF2"],
        ["tests.hardened_privacy.test_deploy_checks.WeakArgon2"],
    ],
)
def test_weak_hasher_fails(hashers):
    with override_settings(PASSWORD_HASHERS=hashers):
        messages = checks.check_password_hasher_strength()
    assert ids(messages) == ["hardened_privacy.E023"]
    assert messages[0].msg == checks.E023_MSG


@pytest.mark.parametrize(
    "hashers",
    [STRONG, ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]],
)
def test_strong_hasher_passes(hashers):
    with override_settings(PASSWORD_HASHERS=hashers):
        assert checks.check_password_hasher_strength() == []


from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    PBKDF2PasswordHasher,
)


class WeakPBKDF2(PBKDF2PasswordHasher):
    iterations = 10_000


class WeakArgon2(Argon2PasswordHasher):
    memory_cost = 1024


def test_fallbacks_without_rotation_date_warn():
    with override_settings(SECRET_KEY_FALLBACKS=["old-key" * 8]):
        messages = checks.check_secret_key_fallbacks()
    assert ids(messages) == ["hardened_privacy.W024"]
    assert messages[0].msg == checks.W024_MSG


def test_old_fallbacks_warn_and_recent_pass():
    old = datetime.date.today() - datetime.timedelta(days=45)
    recent = datetime.date.today() - datetime.timedelta(days=3)
    with override_settings(
        SECRET_KEY_FALLBACKS=["old-key" * 8], HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT=old
    ):
        assert ids(checks.check_secret_key_fallbacks()) == ["hardened_privacy.W024"]
    with override_settings(
        SECRET_KEY_FALLBACKS=["old-key" * 8],
        HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT=recent.isoformat(),
    ):
        assert checks.check_secret_key_fallbacks() == []


def test_no_fallbacks_pass():
    with override_settings(SECRET_KEY_FALLBACKS=[]):
        assert checks.check_secret_key_fallbacks() == []


@pytest.fixture
def unmasked_handler():
    logger = logging.getLogger("hardened_test.unmasked")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_handler_without_masking_warns(unmasked_handler):
    messages = checks.check_log_masking()
    assert ids(messages) == ["hardened_privacy.W025"]
    assert messages[0].msg == checks.W025_MSG
    assert "hardened_test.unmasked: StreamHandler" in str(messages[0].hint)
    unmasked_handler.addFilter(MaskingFilter())
    assert "hardened_test.unmasked" not in str(checks.check_log_masking())


def test_sandbox_logging_is_masked():
    assert checks.check_log_masking() == []


def test_development_defaults_are_keys_in_source():
    messages = checks.check_keys_in_source()
    assert ids(messages) == ["hardened_privacy.E026"]
    assert messages[0].msg == checks.E026_MSG
    assert "env: DEVELOPMENT_DEFAULTS" in str(messages[0].hint)


def test_inline_key_material_fails_and_providers_pass():
    providers = {"env": {"BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider"}}
    keys = {"development/k": {"PROVIDER": "env", "REFERENCE": "K", "KEY": "abc"}}
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=providers, HARDENED_PRIVACY_KEYS=keys
    ):
        assert "development/k: key material" in str(checks.check_keys_in_source())
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=providers, HARDENED_PRIVACY_KEYS={}
    ):
        assert checks.check_keys_in_source() == []
