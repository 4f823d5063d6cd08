from decimal import Decimal

from django import forms

from hardened_payments.exceptions import InexactAmount
from hardened_payments.money import Money

MAX_PRICE = Decimal("100000")


class AmountField(forms.DecimalField):
    """An amount in major units, such as ``12.50``."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            min_value=Decimal("0.01"),
            max_value=MAX_PRICE,
            max_digits=9,
            **kwargs,  # type: ignore[arg-type]
        )


def to_money(value: Decimal, currency: str) -> Money | None:
    try:
        return Money.from_major(value, currency)
    except InexactAmount:
        return None


class ListingForm(forms.Form):
    title = forms.CharField(max_length=120)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    price = AmountField(help_text="In dollars, such as 12.50.")


class AmountForm(forms.Form):
    amount = AmountField()
