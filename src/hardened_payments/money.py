"""Amounts of money as integers in the currency's minor unit.

A :class:`Money` never holds a float. Converting from a decimal string or
multiplying by a rate names its :class:`Rounding` mode, and splitting an
amount with :meth:`Money.allocate` or :meth:`Money.split` hands out every
minor unit, so the parts always add up to the whole.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Self

from hardened_payments.exceptions import (
    CurrencyMismatch,
    InexactAmount,
    UnknownCurrency,
)
from hardened_payments.internal.currencies import EXPONENTS


class Rounding(enum.Enum):
    """How a value between two minor units becomes a whole number of them."""

    HALF_EVEN = "half_even"
    HALF_UP = "half_up"
    HALF_DOWN = "half_down"
    TOWARD_ZERO = "toward_zero"
    AWAY_FROM_ZERO = "away_from_zero"
    FLOOR = "floor"
    CEILING = "ceiling"


def exponent(currency: str) -> int:
    """Return the ISO 4217 minor-unit exponent of ``currency``."""
    try:
        return EXPONENTS[currency]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency.") from None


def round_fraction(value: Fraction, rounding: Rounding) -> int:
    """Round an exact rational ``value`` to an integer with ``rounding``."""
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder == 0:
        return floor
    ceiling = floor + 1
    half = Fraction(1, 2)
    match rounding:
        case Rounding.FLOOR:
            return floor
        case Rounding.CEILING:
            return ceiling
        case Rounding.TOWARD_ZERO:
            return floor if value > 0 else ceiling
        case Rounding.AWAY_FROM_ZERO:
            return ceiling if value > 0 else floor
        case _ if remainder != half:
            return floor if remainder < half else ceiling
        case Rounding.HALF_UP:
            return ceiling if value > 0 else floor
        case Rounding.HALF_DOWN:
            return floor if value > 0 else ceiling
        case _:
            return floor if floor % 2 == 0 else ceiling


def _as_fraction(value: int | Fraction | Decimal | str) -> Fraction:
    if isinstance(value, (bool, float)):
        raise TypeError("Money refuses floats and booleans; use Decimal or str.")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("Money refuses infinite and NaN values.")
    try:
        return Fraction(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a number.") from exc


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``amount`` minor units of ``currency``."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise TypeError("Money.amount must be an int of minor units.")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    @classmethod
    def from_major(
        cls,
        value: int | Decimal | str,
        currency: str,
        rounding: Rounding | None = None,
    ) -> Self:
        """Build from major units (``"12.34"``); inexact values need a mode."""
        scaled = _as_fraction(value) * 10 ** exponent(currency)
        if scaled.denominator != 1 and rounding is None:
            raise InexactAmount(
                f"{value} has more decimal places than {currency} allows."
            )
        return cls(round_fraction(scaled, rounding or Rounding.HALF_EVEN), currency)

    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """Return the amount in major units, exactly, at any size.

        Built from text, so the decimal context's precision (28 digits by
        default) never rounds a large amount.
        """
        return Decimal(f"{self.amount}e-{self.exponent}")

    def __str__(self) -> str:
        return f"{self.to_decimal():.{self.exponent}f} {self.currency}"

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise TypeError("Money combines only with Money.")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot combine {self.currency} with {other.currency}."
            )

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __lt__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount >= other.amount

    def multiply(
        self, factor: int | Fraction | Decimal | str, rounding: Rounding
    ) -> "Money":
        """Scale by an exact ``factor`` (a rate or a fee), rounding explicitly."""
        exact = self.amount * _as_fraction(factor)
        return Money(round_fraction(exact, rounding), self.currency)

    def allocate(self, ratios: Sequence[int]) -> list["Money"]:
        """Divide in proportion to ``ratios``, conserving every minor unit.

        Each part first gets its proportional share rounded toward zero; the
        units left over go one each to the parts with the largest discarded
        remainders, earlier parts first on ties.
        """
        if not ratios or any(type(r) is not int or r < 0 for r in ratios):
            raise ValueError("Ratios must be a non-empty list of ints >= 0.")
        total = sum(ratios)
        if total == 0:
            raise ValueError("At least one ratio must be positive.")

        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        shares = [magnitude * r // total for r in ratios]
        remainders = [magnitude * r % total for r in ratios]
        leftover = magnitude - sum(shares)
        order = sorted(range(len(ratios)), key=lambda i: (-remainders[i], i))
        for index in order[:leftover]:
            shares[index] += 1

        return [Money(sign * share, self.currency) for share in shares]

    def split(self, parts: int) -> list["Money"]:
        """Divide into ``parts`` amounts that differ by at most one unit."""
        if type(parts) is not int or parts < 1:
            raise ValueError("parts must be a positive int.")
        return self.allocate([1] * parts)
