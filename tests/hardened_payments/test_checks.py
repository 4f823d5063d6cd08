import pytest
from django.test import override_settings

from hardened_payments import checks


def test_default_currency_passes():
    assert checks.check_default_currency() == []


@pytest.mark.parametrize("code", ["usd", "US", "USDT", "", "12 "])
def test_invalid_default_currency_fails(code):
    with override_settings(HARDENED_PAYMENTS_DEFAULT_CURRENCY=code):
        messages = checks.check_default_currency()
    assert [m.id for m in messages] == ["hardened_payments.E001"]
    assert messages[0].msg == checks.E001_MSG


@override_settings(HARDENED_PAYMENTS_DEFAULT_CURRENCY="JPY")
def test_other_valid_currency_passes():
    assert checks.check_default_currency() == []
