"""Forms of the hardened_auth pages."""

from django import forms


class SecondFactorForm(forms.Form):
    """One code from an authenticator app or one recovery code."""

    code = forms.CharField(
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text"}
        ),
    )
