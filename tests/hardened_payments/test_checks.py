import pytest
from django.core import checks as django_checks
from django.test import override_settings

from hardened_payments import checks

SECRET = "whsec_" + "a" * 32

CASES: list[tuple] = [
    (
        checks.check_default_currency,
        "DEFAULT_CURRENCY",
        ["usd", "US", "USDT", "", "12 "],
        ["USD", "JPY"],
        "E001",
        checks.E001_MSG,
    ),
    (
        checks.check_idempotency_key_ttl,
        "IDEMPOTENCY_KEY_TTL",
        [0, -1, "86400", 1.5, True],
        [1, 86400],
        "E002",
        checks.E002_MSG,
    ),
    (
        checks.check_webhook_secrets,
        "WEBHOOK_SECRETS",
        ["whsec_abcdefgh", ["sk_test_123456789"], [""], [SECRET, 5]],
        [[], [SECRET], (SECRET, "whsec_" + "b" * 32)],
        "E003",
        checks.E003_MSG,
    ),
    (
        checks.check_webhook_tolerance,
        "WEBHOOK_TOLERANCE",
        [0, -5, 601, "300", None],
        [1, 300, 600],
        "E004",
        checks.E004_MSG,
    ),
    (
        checks.check_webhook_allowed_ips,
        "WEBHOOK_ALLOWED_IPS",
        [[], "3.18.12.63", ["stripe.com"], ["10.0.0.0/33"], [12345]],
        [["3.18.12.63"], ("10.0.0.0/8", "::1")],
        "E005",
        checks.E005_MSG,
    ),
    (
        checks.check_webhook_max_body_bytes,
        "WEBHOOK_MAX_BODY_BYTES",
        [0, -1, "1024", None],
        [1, 262144],
        "E006",
        checks.E006_MSG,
    ),
    (
        checks.check_webhook_max_attempts,
        "WEBHOOK_MAX_ATTEMPTS",
        [0, "5", None],
        [1, 5],
        "E007",
        checks.E007_MSG,
    ),
    (
        checks.check_stripe_api_key,
        "STRIPE_API_KEY",
        ["pk_test_123", "secret", None],
        ["", "sk_test_123", "rk_live_123"],
        "E008",
        checks.E008_MSG,
    ),
]

FAILING = [
    pytest.param(check, name, value, code, msg, id=f"{code}-{value!r}")
    for check, name, bad, _, code, msg in CASES
    for value in bad
]
PASSING = [
    pytest.param(check, name, value, id=f"{name}-{value!r}")
    for check, name, _, good, _, _ in CASES
    for value in good
]


@pytest.mark.parametrize(("check", "name", "value", "code", "msg"), FAILING)
def test_bad_setting_fails_with_its_id_and_message(check, name, value, code, msg):
    with override_settings(**{f"HARDENED_PAYMENTS_{name}": value}):
        messages = check()
    assert [m.id for m in messages] == [f"hardened_payments.{code}"]
    assert messages[0].msg == msg
    assert messages[0].hint


@pytest.mark.parametrize(("check", "name", "value"), PASSING)
def test_good_setting_passes(check, name, value):
    with override_settings(**{f"HARDENED_PAYMENTS_{name}": value}):
        assert check() == []


@pytest.mark.parametrize("check", checks.ALL_CHECKS)
def test_defaults_pass(check):
    assert check() == []


def test_every_check_is_registered():
    registered = django_checks.registry.registry.get_checks()
    assert set(checks.ALL_CHECKS) <= set(registered)
