"""Money math over every ISO 4217 currency the table knows, not a sample.

``tests/hardened_payments/test_money.py`` holds the core properties over
five currencies. Here Hypothesis draws from the whole exponent table and
from amounts far beyond 64 bits, and checks what an attacker who picks the
amount, the currency and the ratios could try to bend: parts that do not add
up, a sign flip, a larger ratio getting less, decimals a currency does not
have, and arithmetic that mixes currencies.
"""

from __future__ import annotations

from decimal import localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardened_payments.exceptions import CurrencyMismatch, InexactAmount
from hardened_payments.internal.currencies import EXPONENTS
from hardened_payments.money import Money, Rounding, exponent

currencies = st.sampled_from(sorted(EXPONENTS))
amounts = st.integers(min_value=-(10**30), max_value=10**30)
ratios = st.lists(st.integers(0, 10**9), min_size=1, max_size=30).filter(any)


@given(amount=amounts, currency=currencies, weights=ratios)
def test_allocation_conserves_and_orders_by_ratio(amount, currency, weights):
    parts = [p.amount for p in Money(amount, currency).allocate(weights)]

    assert sum(parts) == amount
    assert [-p for p in parts] == [
        p.amount for p in Money(-amount, currency).allocate(weights)
    ]
    magnitudes = [abs(p) for p in parts]
    for i, wi in enumerate(weights):
        for j, wj in enumerate(weights):
            if wi > wj:
                assert magnitudes[i] >= magnitudes[j]


@given(
    amount=amounts,
    currency=currencies,
    first=st.integers(1, 50),
    second=st.integers(1, 50),
)
def test_splitting_the_parts_again_conserves_the_whole(amount, currency, first, second):
    pieces = [
        piece
        for part in Money(amount, currency).split(first)
        for piece in part.split(second)
    ]

    assert len(pieces) == first * second
    assert sum(p.amount for p in pieces) == amount
    assert {p.currency for p in pieces} == {currency}


@given(amount=amounts, currency=currencies)
def test_major_units_carry_exactly_the_currency_exponent(amount, currency):
    money = Money(amount, currency)
    places = exponent(currency)
    text = str(money).split()[0]

    assert money.exponent == places
    assert len(text.partition(".")[2]) == places
    assert Money.from_major(text, currency) == money
    with localcontext() as exact:
        exact.prec = 100
        assert money.to_decimal() * 10**places == amount


@given(
    amount=amounts,
    currency=currencies,
    extra=st.integers(1, 9),
    rounding=st.sampled_from(list(Rounding)),
)
def test_a_digit_beyond_the_exponent_needs_a_rounding_mode(
    amount, currency, extra, rounding
):
    text = f"{Money(amount, currency).to_decimal():.{exponent(currency)}f}"
    finer = f"{text}{extra}" if "." in text else f"{text}.{extra}"

    with pytest.raises(InexactAmount):
        Money.from_major(finer, currency)
    rounded = Money.from_major(finer, currency, rounding).amount
    assert abs(rounded - amount) <= 1


@given(
    amount=amounts,
    other=amounts,
    currencies=st.lists(currencies, min_size=2, max_size=2, unique=True),
)
def test_arithmetic_never_mixes_currencies(amount, other, currencies):
    mine, theirs = Money(amount, currencies[0]), Money(other, currencies[1])

    for combine in (
        lambda: mine + theirs,
        lambda: mine - theirs,
        lambda: mine < theirs,
        lambda: mine >= theirs,
    ):
        with pytest.raises(CurrencyMismatch):
            combine()
    same = Money(other, currencies[0])
    assert (mine + same - same) == mine


@given(
    amount=amounts,
    currency=currencies,
    numerator=st.integers(-(10**6), 10**6),
    denominator=st.integers(1, 10**6),
    rounding=st.sampled_from(list(Rounding)),
)
def test_a_rate_moves_the_exact_product_by_less_than_one_unit(
    amount, currency, numerator, denominator, rounding
):
    rate = Fraction(numerator, denominator)

    scaled = Money(amount, currency).multiply(rate, rounding)

    assert scaled.currency == currency
    assert abs(scaled.amount - amount * rate) < 1
