import pytest
from django.core import checks as django_checks
from django.test import override_settings

from hardened_payments import checks
from hardened_payments.internal.stripe_provider import StripeProvider

SECRET = "whsec_" + "a" * 32


class ProviderWithoutTransfers:
    """A provider that could pay out but never fund a connected account."""

    name = "no-transfers"
    create_payment = StripeProvider.create_payment
    create_refund = StripeProvider.create_refund
    create_payout = StripeProvider.create_payout
    retrieve_payout = StripeProvider.retrieve_payout
    create_checkout_session = StripeProvider.create_checkout_session
    balance_transactions = StripeProvider.balance_transactions
    payouts = StripeProvider.payouts


CASES: list[tuple] = [
    (
        checks.check_default_currency,
        "DEFAULT_CURRENCY",
        ["usd", "US", "USDT", "", "12 ", "XXX", "ABC", "XAU"],
        ["USD", "JPY", "KWD"],
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
        checks.check_idempotency_lock_timeout,
        "IDEMPOTENCY_LOCK_TIMEOUT",
        [0, -1, "300", 86400, 10**6],
        [1, 300, 86399],
        "E012",
        checks.E012_MSG,
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
        checks.check_webhook_provider_timeout,
        "WEBHOOK_PROVIDER_TIMEOUT",
        [0, -1, 0.0, 10.5, 80, "3", None, True, float("nan")],
        [0.5, 1, 3, 10],
        "E015",
        checks.E015_MSG,
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
        checks.check_refund_step_up_above,
        "REFUND_STEP_UP_ABOVE",
        [[], {"usd": 1}, {"USD": -1}, {"USD": 1.5}, {"XXX": 1}, {"USD": "100"}],
        [{}, {"USD": 0}, {"JPY": 10000, "KWD": 100000}],
        "E009",
        checks.E009_MSG,
    ),
    (
        checks.check_stripe_api_key,
        "STRIPE_API_KEY",
        ["pk_test_123", "secret", None],
        ["", "sk_test_123", "rk_live_123"],
        "E008",
        checks.E008_MSG,
    ),
    (
        checks.check_provider,
        "PROVIDER",
        [
            "no.such.Provider",
            "StripeProvider",
            "hardened_payments.money.Money",
            "hardened_payments.conf.DEFAULT_PROVIDER",
            "tests.hardened_payments.test_checks.ProviderWithoutTransfers",
        ],
        ["hardened_payments.internal.stripe_provider.StripeProvider"],
        "E013",
        checks.E013_MSG,
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


def test_models_with_card_fields_fail(monkeypatch):
    from django.db import models
    from django.test.utils import isolate_apps

    with isolate_apps("hardened_payments") as registry:

        class Customer(models.Model):
            name = models.CharField(max_length=10)
            card_number = models.CharField(max_length=19)
            cvc = models.CharField(max_length=4)

            class Meta:
                app_label = "hardened_payments"

            def __str__(self):
                return self.name

        monkeypatch.setattr(checks, "apps", registry)
        messages = checks.check_no_card_data_fields()

    assert [m.id for m in messages] == ["hardened_payments.E010"] * 2
    assert [m.msg for m in messages] == [
        checks.E010_MSG % "hardened_payments.Customer.card_number",
        checks.E010_MSG % "hardened_payments.Customer.cvc",
    ]
    assert all(m.obj is Customer for m in messages)


def test_forms_with_card_fields_fail():
    import gc

    from django import forms

    class CheckoutForm(forms.Form):
        email = forms.EmailField()
        exp_month = forms.IntegerField()

    messages = checks.check_no_card_data_fields()
    assert [m.id for m in messages] == ["hardened_payments.E010"]
    label = f"{__name__}.test_forms_with_card_fields_fail.<locals>.CheckoutForm"
    assert messages[0].msg == checks.E010_MSG % f"{label}.exp_month"

    del CheckoutForm, messages
    gc.collect()
    assert checks.check_no_card_data_fields() == []


@pytest.mark.parametrize(
    "name",
    [
        "card_number",
        "cardnumber",
        "cc_num",
        "cvv",
        "cvc2",
        "pan",
        "expiry",
        "exp_year",
        "security_code",
        "billing_card_exp",
    ],
)
def test_card_field_names_are_recognised(name):
    assert checks._CARD_FIELD.search(name)


@pytest.mark.parametrize(
    "name", ["company", "expires_at", "span", "capacity", "card_token", "pm_id"]
)
def test_ordinary_field_names_pass(name):
    assert not checks._CARD_FIELD.search(name)


def test_missing_required_apps_fail(monkeypatch):
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda label: False)
    messages = checks.check_required_apps()
    assert [m.id for m in messages] == ["hardened_payments.E011"] * 2
    assert [m.msg for m in messages] == [
        checks.E011_MSG % "hardened_rbac",
        checks.E011_MSG % "hardened_auth",
    ]


def test_required_apps_pass():
    assert checks.check_required_apps() == []


@pytest.mark.parametrize(
    ("tenant", "key", "ids"),
    [
        ("synthetic", "sk_live_123", ["hardened_payments.E014"]),
        ("synthetic", "rk_live_123", ["hardened_payments.E014"]),
        ("synthetic", "sk_test_123", []),
        ("", "sk_live_123", []),
    ],
)
def test_synthetic_charges_need_a_test_key(tenant, key, ids):
    with override_settings(
        HARDENED_AUTH_SYNTHETIC_TENANT=tenant, HARDENED_PAYMENTS_STRIPE_API_KEY=key
    ):
        messages = checks.check_synthetic_charges_in_test_mode()
    assert [m.id for m in messages] == ids
    assert all(m.msg == checks.E014_MSG for m in messages)
