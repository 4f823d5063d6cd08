"""django-allauth account adapter: one spelling per address, equal answers."""

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth.hashers import make_password
from django.utils.crypto import get_random_string

from hardened_auth.internal.identifiers import normalise_email


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Normalise addresses and keep the signup of a taken address as slow.

    With ``ACCOUNT_PREVENT_ENUMERATION`` a signup for an address that already
    has an account is answered like a new signup and the owner is mailed.
    A new signup hashes the password; this path hashes a throwaway one so
    both take as long.
    """

    def clean_email(self, email: str) -> str:
        return normalise_email(str(super().clean_email(email)))

    def send_account_already_exists_mail(self, email: str) -> None:
        make_password(get_random_string(32))
        super().send_account_already_exists_mail(email)
