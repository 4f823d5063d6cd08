import sys

import pytest
from django.apps import apps
from django.test import override_settings

from hardened_auth import checks


def test_trusted_proxies_default_passes():
    assert checks.check_trusted_proxies() == []


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES="10.0.0.0/8")
def test_trusted_proxies_as_string_fails():
    messages = checks.check_trusted_proxies()
    assert [m.id for m in messages] == ["hardened_auth.E001"]
    assert messages[0].msg == checks.E001_MSG


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=["10.0.0.0/8", "proxy.local"])
def test_trusted_proxies_with_bad_entry_fails():
    messages = checks.check_trusted_proxies()
    assert [m.id for m in messages] == ["hardened_auth.E002"]
    assert "'proxy.local'" in messages[0].msg


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=["10.0.0.0/8", "::1"])
def test_trusted_proxies_valid_list_passes():
    assert checks.check_trusted_proxies() == []


def test_client_ip_header_default_passes():
    assert checks.check_client_ip_header() == []


@override_settings(HARDENED_AUTH_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR: x")
def test_client_ip_header_invalid_fails():
    messages = checks.check_client_ip_header()
    assert [m.id for m in messages] == ["hardened_auth.E003"]
    assert messages[0].msg == checks.E003_MSG


def test_step_up_defaults_pass():
    assert checks.check_step_up() == []


@pytest.mark.parametrize("value", [0, -5, "300", True, None])
def test_step_up_max_age_invalid_fails(value):
    with override_settings(HARDENED_AUTH_STEP_UP_MAX_AGE=value):
        messages = checks.check_step_up()
    assert [m.id for m in messages] == ["hardened_auth.E004"]
    assert messages[0].msg == checks.E004_MSG


@override_settings(HARDENED_AUTH_STEP_UP_URL="no_such_view")
def test_step_up_url_unresolvable_fails():
    messages = checks.check_step_up()
    assert [m.id for m in messages] == ["hardened_auth.E005"]
    assert messages[0].msg == checks.E005_MSG


@override_settings(HARDENED_AUTH_STEP_UP_URL="/verify/")
def test_step_up_url_path_passes():
    assert checks.check_step_up() == []


def test_password_hasher_default_passes():
    assert checks.check_password_hasher() == []


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "hardened_auth.hashers.HardenedArgon2PasswordHasher",
    ]
)
def test_password_hasher_not_first_fails():
    messages = checks.check_password_hasher()
    assert [m.id for m in messages] == ["hardened_auth.E006"]
    assert messages[0].msg == checks.E006_MSG


@override_settings(PASSWORD_HASHERS=["tests.hardened_auth.hashers.Argon2iHasher"])
def test_password_hasher_argon2i_fails():
    messages = checks.check_password_hasher()
    assert [m.id for m in messages] == ["hardened_auth.E006"]


def test_password_hasher_without_argon2_cffi_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "argon2", None)
    messages = checks.check_password_hasher()
    assert [m.id for m in messages] == ["hardened_auth.E007"]
    assert messages[0].msg == checks.E007_MSG


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("MEMORY_COST", 19455, "memory 19455 KiB, time 2, parallelism 1"),
        ("TIME_COST", 1, "memory 19456 KiB, time 1, parallelism 1"),
        ("PARALLELISM", 0, "memory 19456 KiB, time 2, parallelism 0"),
        ("MEMORY_COST", "65536", "memory 65536 KiB, time 2, parallelism 1"),
    ],
)
def test_password_hasher_weak_parameters_fail(setting, value, expected):
    with override_settings(**{f"HARDENED_AUTH_ARGON2_{setting}": value}):
        messages = checks.check_password_hasher()
    assert [m.id for m in messages] == ["hardened_auth.E008"]
    assert messages[0].msg == (
        f"The argon2id parameters are below OWASP's minimum ({expected})."
    )


@override_settings(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"]
)
def test_password_hasher_djangos_argon2_passes():
    assert checks.check_password_hasher() == []


def test_rate_limits_default_passes():
    assert checks.check_rate_limits() == []


@pytest.mark.parametrize(
    "limits",
    [
        {"login": {"ip": "often"}},
        {"login": {"ip": "0/m"}},
        {"login": {"device": "5/m"}},
        {"login": "5/m"},
    ],
)
def test_rate_limits_malformed_fails(limits):
    views = {"admin:login": "login"}
    with override_settings(
        HARDENED_AUTH_RATE_LIMITS=limits, HARDENED_AUTH_RATE_LIMITED_VIEWS=views
    ):
        messages = checks.check_rate_limits()
    assert [m.id for m in messages] == ["hardened_auth.E009"]
    assert messages[0].msg == checks.E009_MSG.format("login")


@override_settings(HARDENED_AUTH_RATE_LIMITED_VIEWS={"admin:login": "logon"})
def test_rate_limited_view_with_unknown_scope_fails():
    messages = checks.check_rate_limits()
    assert [m.id for m in messages] == ["hardened_auth.E010"]
    assert messages[0].msg == checks.E010_MSG.format("admin:login")


@pytest.mark.parametrize(
    "setting", [{"RATELIMIT_ENABLE": False}, {"RATELIMIT_FAIL_OPEN": True}]
)
def test_fail_open_ratelimit_fails(setting):
    with override_settings(**setting):
        messages = checks.check_rate_limits()
    assert [m.id for m in messages] == ["hardened_auth.E011"]
    assert messages[0].msg == checks.E011_MSG


def test_missing_rate_limit_middleware_fails(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != checks.RATE_LIMIT_MIDDLEWARE
    ]
    messages = checks.check_rate_limits()
    assert [m.id for m in messages] == ["hardened_auth.E012"]
    assert messages[0].msg == checks.E012_MSG


def test_rate_limit_middleware_before_authentication_fails(settings):
    settings.MIDDLEWARE = [checks.RATE_LIMIT_MIDDLEWARE] + [
        m for m in settings.MIDDLEWARE if m != checks.RATE_LIMIT_MIDDLEWARE
    ]
    messages = checks.check_rate_limits()
    assert [m.id for m in messages] == ["hardened_auth.E012"]


def test_second_factors_default_passes():
    assert checks.check_second_factors() == []


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["sms"])
def test_sms_only_fails():
    messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E013"]
    assert messages[0].msg == checks.E013_MSG


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["sms", "recovery_codes"])
def test_sms_with_recovery_codes_only_fails():
    assert [m.id for m in checks.check_second_factors()] == ["hardened_auth.E013"]


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["recovery_codes"])
def test_sms_app_installed_without_strong_factor_fails(monkeypatch):
    real = apps.is_installed
    monkeypatch.setattr(
        apps, "is_installed", lambda name: name == "otp_twilio" or real(name)
    )
    assert [m.id for m in checks.check_second_factors()] == ["hardened_auth.E013"]


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["sms", "totp"])
def test_sms_next_to_totp_passes():
    assert checks.check_second_factors() == []


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["recovery_codes"])
def test_no_usable_second_factor_fails():
    messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E014"]
    assert messages[0].msg == checks.E014_MSG


@override_settings(HARDENED_AUTH_SECOND_FACTORS=["totp", "carrier-pigeon"])
def test_unknown_second_factor_fails():
    messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E015"]
    assert messages[0].msg == checks.E015_MSG.format("carrier-pigeon")


def test_totp_without_hardened_privacy_fails(monkeypatch):
    real = apps.is_installed
    monkeypatch.setattr(
        apps,
        "is_installed",
        lambda name: name != "hardened_privacy" and real(name),
    )
    messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E016"]
    assert messages[0].msg == checks.E016_MSG.format("hardened_privacy", "totp")


def test_missing_second_factor_middleware_fails(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != checks.SECOND_FACTOR_MIDDLEWARE
    ]
    messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E017"]
    assert messages[0].msg == checks.E017_MSG


def test_second_factor_middleware_before_otp_fails(settings):
    settings.MIDDLEWARE = [checks.SECOND_FACTOR_MIDDLEWARE] + [
        m for m in settings.MIDDLEWARE if m != checks.SECOND_FACTOR_MIDDLEWARE
    ]
    assert [m.id for m in checks.check_second_factors()] == ["hardened_auth.E017"]


def test_plain_admin_site_warns(monkeypatch):
    from django.contrib import admin

    monkeypatch.setattr(admin, "site", admin.AdminSite())
    messages = checks.check_admin_site()
    assert [m.id for m in messages] == ["hardened_auth.W001"]
    assert messages[0].msg == checks.W001_MSG


def test_second_factor_admin_site_passes(monkeypatch):
    from django.contrib import admin

    from hardened_auth.admin_site import SecondFactorAdminSite

    monkeypatch.setattr(admin, "site", SecondFactorAdminSite())
    assert checks.check_admin_site() == []


def test_sandbox_installs_the_second_factor_admin_site():
    from django.contrib import admin

    from hardened_auth.admin_site import SecondFactorAdminSite

    assert isinstance(admin.site, SecondFactorAdminSite)
    assert admin.site.name == "admin"
    assert checks.check_admin_site() == []


def test_sessions_defaults_pass():
    assert checks.check_sessions() == []


@pytest.mark.parametrize(
    "values",
    [
        {"HARDENED_AUTH_SESSION_IDLE_TIMEOUT": 0},
        {"HARDENED_AUTH_SESSION_ABSOLUTE_TIMEOUT": "12h"},
        {
            "HARDENED_AUTH_SESSION_IDLE_TIMEOUT": 7200,
            "HARDENED_AUTH_SESSION_ABSOLUTE_TIMEOUT": 3600,
        },
    ],
)
def test_session_timeouts_invalid_fail(values):
    with override_settings(**values):
        messages = checks.check_sessions()
    assert [m.id for m in messages] == ["hardened_auth.E018"]
    assert messages[0].msg == checks.E018_MSG


@pytest.mark.parametrize("headers", [[], "User-Agent", ["User Agent: x"]])
def test_fingerprint_headers_invalid_fail(headers):
    with override_settings(HARDENED_AUTH_SESSION_FINGERPRINT_HEADERS=headers):
        messages = checks.check_sessions()
    assert [m.id for m in messages] == ["hardened_auth.E019"]
    assert messages[0].msg == checks.E019_MSG


def test_missing_session_binding_middleware_fails(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != checks.SESSION_MIDDLEWARE
    ]
    messages = checks.check_sessions()
    assert [m.id for m in messages] == ["hardened_auth.E020"]
    assert messages[0].msg == checks.E020_MSG


def test_signed_cookie_sessions_with_session_binding_fail(settings):
    settings.SESSION_ENGINE = checks.SIGNED_COOKIE_SESSIONS
    messages = checks.check_sessions()
    assert [m.id for m in messages] == ["hardened_auth.E033"]
    assert messages[0].msg == (
        "SESSION_ENGINE stores sessions in signed cookies, which "
        "hardened_auth.middleware.SessionBindingMiddleware cannot end."
    )


def test_signed_cookie_sessions_under_another_engine_name_fail(settings):
    """An engine whose store derives from the signed-cookie one is refused."""
    settings.SESSION_ENGINE = "tests.hardened_auth.cookie_session_engine"
    assert [m.id for m in checks.check_sessions()] == ["hardened_auth.E033"]


def test_an_engine_that_cannot_be_imported_is_left_to_django(settings):
    settings.SESSION_ENGINE = "tests.hardened_auth.no_such_session_engine"
    assert checks.check_sessions() == []


def test_signed_cookie_sessions_without_session_binding_are_not_flagged(settings):
    """Without the middleware only its own error is reported."""
    settings.SESSION_ENGINE = checks.SIGNED_COOKIE_SESSIONS
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != checks.SESSION_MIDDLEWARE
    ]
    assert [m.id for m in checks.check_sessions()] == ["hardened_auth.E020"]


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.file",
    ],
)
def test_server_side_sessions_with_session_binding_pass(settings, engine):
    settings.SESSION_ENGINE = engine
    assert checks.check_sessions() == []


def test_token_lifetimes_default_pass():
    assert checks.check_tokens() == []


@pytest.mark.parametrize(
    "values",
    [
        {"HARDENED_AUTH_ACCESS_TOKEN_TTL": 86400},
        {"HARDENED_AUTH_ACCESS_TOKEN_TTL": 0},
        {"HARDENED_AUTH_REFRESH_TOKEN_TTL": 60},
        {"HARDENED_AUTH_REFRESH_TOKEN_TTL": "14d"},
    ],
)
def test_token_lifetimes_invalid_fail(values):
    with override_settings(**values):
        messages = checks.check_tokens()
    assert [m.id for m in messages] == ["hardened_auth.E021"]
    assert messages[0].msg == checks.E021_MSG


def test_velocity_defaults_pass():
    assert checks.check_velocity() == []


@pytest.mark.parametrize(
    "thresholds",
    [
        {"site": {"lock": 1000}},
        {"identifier": {"delay": 5, "challenge": 3}},
        {"identifier": {"challenge": "5"}},
        {"device": {"lock": 5}},
        {"identifier": {"ban": 5}},
        "lock at 5",
    ],
)
def test_velocity_invalid_fails(thresholds):
    with override_settings(HARDENED_AUTH_VELOCITY_THRESHOLDS=thresholds):
        messages = checks.check_velocity()
    assert [m.id for m in messages] == ["hardened_auth.E022"]
    assert messages[0].msg == checks.E022_MSG


@override_settings(HARDENED_AUTH_VELOCITY_WINDOW=0)
def test_velocity_window_zero_fails():
    messages = checks.check_velocity()
    assert [m.id for m in messages] == ["hardened_auth.E022"]
    assert messages[0].msg == checks.E022_MSG


@pytest.mark.parametrize("window", [-60, "900", 90.5, True, None])
def test_velocity_window_invalid_fails(window):
    with override_settings(HARDENED_AUTH_VELOCITY_WINDOW=window):
        messages = checks.check_velocity()
    assert [m.id for m in messages] == ["hardened_auth.E022"]
    assert messages[0].msg == checks.E022_MSG


@override_settings(HARDENED_AUTH_VELOCITY_WINDOW=60)
def test_velocity_window_valid_passes():
    assert checks.check_velocity() == []


@pytest.mark.parametrize("value", [0, -1, 999, 10_000_001, "100000", 1e5, True, None])
def test_altcha_max_number_invalid_fails(value):
    with override_settings(HARDENED_AUTH_ALTCHA_MAX_NUMBER=value):
        messages = checks.check_velocity()
    assert [m.id for m in messages] == ["hardened_auth.E030"]
    assert messages[0].msg == checks.E030_MSG
    assert messages[0].msg == (
        "HARDENED_AUTH_ALTCHA_MAX_NUMBER must be an integer from 1000 to 10000000."
    )


@pytest.mark.parametrize("value", [1_000, 100_000, 10_000_000])
def test_altcha_max_number_within_bounds_passes(value):
    with override_settings(HARDENED_AUTH_ALTCHA_MAX_NUMBER=value):
        assert checks.check_velocity() == []


@pytest.mark.parametrize("value", [0, -10, "300", 300.0, False, None])
def test_altcha_ttl_invalid_fails(value):
    with override_settings(HARDENED_AUTH_ALTCHA_TTL=value):
        messages = checks.check_velocity()
    assert [m.id for m in messages] == ["hardened_auth.E031"]
    assert messages[0].msg == checks.E031_MSG
    assert messages[0].msg == (
        "HARDENED_AUTH_ALTCHA_TTL must be a positive number of seconds."
    )


@override_settings(HARDENED_AUTH_ALTCHA_TTL=60)
def test_altcha_ttl_positive_passes():
    assert checks.check_velocity() == []


@override_settings(
    HARDENED_AUTH_VELOCITY_WINDOW=0,
    HARDENED_AUTH_ALTCHA_MAX_NUMBER=10,
    HARDENED_AUTH_ALTCHA_TTL=0,
)
def test_velocity_and_altcha_errors_are_all_reported():
    assert [m.id for m in checks.check_velocity()] == [
        "hardened_auth.E022",
        "hardened_auth.E030",
        "hardened_auth.E031",
    ]


@pytest.mark.parametrize(
    "issuer", ["", "   ", "Example: Shop", ":", None, 42, ["Example"]]
)
def test_totp_issuer_invalid_fails(issuer):
    with override_settings(HARDENED_AUTH_TOTP_ISSUER=issuer):
        messages = checks.check_second_factors()
    assert [m.id for m in messages] == ["hardened_auth.E032"]
    assert messages[0].msg == checks.E032_MSG
    assert messages[0].msg == (
        "HARDENED_AUTH_TOTP_ISSUER must be a non-empty string without ':'."
    )


def test_totp_issuer_default_passes(settings):
    del settings.HARDENED_AUTH_TOTP_ISSUER
    assert checks.check_second_factors() == []


@override_settings(HARDENED_AUTH_TOTP_ISSUER="Example Shop (staging)")
def test_totp_issuer_valid_passes():
    assert checks.check_second_factors() == []


def test_session_binding_middleware_before_authentication_fails(settings):
    middleware = [m for m in settings.MIDDLEWARE if m != checks.SESSION_MIDDLEWARE]
    middleware.insert(
        middleware.index(checks.AUTH_MIDDLEWARE), checks.SESSION_MIDDLEWARE
    )
    settings.MIDDLEWARE = middleware
    messages = checks.check_sessions()
    assert [m.id for m in messages] == ["hardened_auth.E020"]
    assert messages[0].msg == checks.E020_MSG
    assert messages[0].msg == (
        "hardened_auth.middleware.SessionBindingMiddleware must be in MIDDLEWARE, "
        "after AuthenticationMiddleware."
    )


def test_session_binding_middleware_after_authentication_passes(settings):
    middleware = [m for m in settings.MIDDLEWARE if m != checks.SESSION_MIDDLEWARE]
    middleware.insert(
        middleware.index(checks.AUTH_MIDDLEWARE) + 1, checks.SESSION_MIDDLEWARE
    )
    settings.MIDDLEWARE = middleware
    assert checks.check_sessions() == []
