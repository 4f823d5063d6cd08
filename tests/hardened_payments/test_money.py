from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardened_payments.exceptions import (
    CurrencyMismatch,
    InexactAmount,
    UnknownCurrency,
)
from hardened_payments.money import Money, Rounding, exponent, round_fraction

currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLF"])
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@pytest.mark.parametrize(
    ("code", "expected"), [("JPY", 0), ("USD", 2), ("KWD", 3), ("CLF", 4)]
)
def test_iso_4217_exponents(code, expected):
    assert exponent(code) == expected


@pytest.mark.parametrize("code", ["usd", "XAU", "XXX", "", "US", None])
def test_unknown_currency_is_refused(code):
    with pytest.raises(UnknownCurrency):
        Money(1, code)


@pytest.mark.parametrize("amount", [1.0, Decimal("1"), "1", True, None])
def test_amount_must_be_an_int(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


def test_from_major_is_exact_per_currency():
    assert Money.from_major("12.34", "USD") == Money(1234, "USD")
    assert Money.from_major("1234", "JPY") == Money(1234, "JPY")
    assert Money.from_major("1.234", "KWD") == Money(1234, "KWD")
    assert Money.from_major(Decimal("-0.01"), "EUR") == Money(-1, "EUR")


def test_from_major_refuses_hidden_rounding():
    with pytest.raises(InexactAmount):
        Money.from_major("12.345", "USD")
    with pytest.raises(InexactAmount):
        Money.from_major("1.5", "JPY")
    assert Money.from_major("12.345", "USD", Rounding.HALF_UP) == Money(1235, "USD")
    assert Money.from_major("12.345", "USD", Rounding.HALF_EVEN) == Money(1234, "USD")


@pytest.mark.parametrize(
    "value", [1.5, Decimal("NaN"), Decimal("Infinity"), "abc", "1e", True]
)
def test_from_major_refuses_floats_and_garbage(value):
    with pytest.raises((TypeError, ValueError)):
        Money.from_major(value, "USD")


def test_str_and_decimal_use_the_exponent():
    assert str(Money(5, "USD")) == "0.05 USD"
    assert str(Money(5, "JPY")) == "5 JPY"
    assert str(Money(-1005, "KWD")) == "-1.005 KWD"
    assert Money(1234, "USD").to_decimal() == Decimal("12.34")


def test_arithmetic_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money(1, "USD") < Money(1, "EUR")
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]


def test_arithmetic_and_comparison():
    assert Money(5, "USD") + Money(7, "USD") == Money(12, "USD")
    assert Money(5, "USD") - Money(7, "USD") == Money(-2, "USD")
    assert -Money(5, "USD") == Money(-5, "USD")
    assert Money(5, "USD") < Money(7, "USD") <= Money(7, "USD")
    assert Money(8, "USD") > Money(7, "USD") >= Money(7, "USD")


@pytest.mark.parametrize(
    ("value", "rounding", "expected"),
    [
        (Fraction(5, 2), Rounding.HALF_EVEN, 2),
        (Fraction(7, 2), Rounding.HALF_EVEN, 4),
        (Fraction(-5, 2), Rounding.HALF_EVEN, -2),
        (Fraction(5, 2), Rounding.HALF_UP, 3),
        (Fraction(-5, 2), Rounding.HALF_UP, -3),
        (Fraction(5, 2), Rounding.HALF_DOWN, 2),
        (Fraction(-5, 2), Rounding.HALF_DOWN, -2),
        (Fraction(-23, 10), Rounding.HALF_UP, -2),
        (Fraction(27, 10), Rounding.HALF_DOWN, 3),
        (Fraction(-27, 10), Rounding.TOWARD_ZERO, -2),
        (Fraction(27, 10), Rounding.TOWARD_ZERO, 2),
        (Fraction(21, 10), Rounding.AWAY_FROM_ZERO, 3),
        (Fraction(-21, 10), Rounding.AWAY_FROM_ZERO, -3),
        (Fraction(-21, 10), Rounding.FLOOR, -3),
        (Fraction(-21, 10), Rounding.CEILING, -2),
        (Fraction(4), Rounding.CEILING, 4),
    ],
)
def test_rounding_modes(value, rounding, expected):
    assert round_fraction(value, rounding) == expected


def test_multiply_names_its_rounding():
    fee = Money(1999, "USD").multiply(Decimal("0.029"), Rounding.HALF_UP)
    assert fee == Money(58, "USD")
    assert Money(10, "JPY").multiply(Fraction(1, 3), Rounding.CEILING) == Money(
        4, "JPY"
    )


def test_allocate_hands_leftovers_to_largest_remainders():
    assert Money(100, "USD").allocate([1, 1, 1]) == [
        Money(34, "USD"),
        Money(33, "USD"),
        Money(33, "USD"),
    ]
    assert Money(5, "USD").allocate([3, 7]) == [Money(2, "USD"), Money(3, "USD")]
    assert Money(-100, "USD").split(3) == [
        Money(-34, "USD"),
        Money(-33, "USD"),
        Money(-33, "USD"),
    ]
    assert Money(7, "JPY").allocate([0, 1]) == [Money(0, "JPY"), Money(7, "JPY")]


@pytest.mark.parametrize("ratios", [[], [0, 0], [-1, 2], [1.5, 1], [True, 1]])
def test_allocate_refuses_bad_ratios(ratios):
    with pytest.raises(ValueError, match=r"(?i)ratio"):
        Money(100, "USD").allocate(ratios)


@pytest.mark.parametrize("parts", [0, -1, 1.0])
def test_split_refuses_bad_part_counts(parts):
    with pytest.raises(ValueError, match="parts"):
        Money(100, "USD").split(parts)


@given(
    amount=amounts,
    currency=currencies,
    ratios=st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(any),
)
def test_allocation_conserves_every_unit(amount, currency, ratios):
    parts = Money(amount, currency).allocate(ratios)
    assert sum(p.amount for p in parts) == amount
    assert all(p.currency == currency for p in parts)
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = Fraction(amount * ratio, total)
        assert abs(part.amount - exact) < 1
        if ratio == 0:
            assert part.amount == 0


@given(amount=amounts, currency=currencies, parts=st.integers(1, 500))
def test_split_is_fair_and_conserving(amount, currency, parts):
    pieces = Money(amount, currency).split(parts)
    values = [p.amount for p in pieces]
    assert sum(values) == amount
    assert len(values) == parts
    assert max(values) - min(values) <= 1


@given(
    numerator=st.integers(-(10**12), 10**12),
    denominator=st.integers(1, 10**6),
    rounding=st.sampled_from(list(Rounding)),
)
def test_rounding_never_moves_more_than_one_unit(numerator, denominator, rounding):
    value = Fraction(numerator, denominator)
    rounded = round_fraction(value, rounding)
    assert abs(rounded - value) < 1
    if rounding.name.startswith("HALF"):
        assert abs(rounded - value) <= Fraction(1, 2)


@given(amount=amounts, currency=currencies)
def test_major_units_round_trip(amount, currency):
    money = Money(amount, currency)
    assert Money.from_major(money.to_decimal(), currency) == money
    assert Money.from_major(str(money).split()[0], currency) == money


def test_major_units_stay_exact_beyond_the_decimal_context_precision():
    money = Money(10**28 + 1, "USD")
    assert str(money) == "100000000000000000000000000.01 USD"
    assert Money.from_major(money.to_decimal(), "USD") == money
