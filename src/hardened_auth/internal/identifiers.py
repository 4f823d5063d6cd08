"""Normalise what a user types as a username or an email address."""

import unicodedata

from django.core.exceptions import ValidationError

MAX_IDENTIFIER_LENGTH = 254

NON_ASCII_LOCAL_PART = (
    "Use an email address whose part before the @ has only Latin letters, "
    "digits and punctuation."
)


def normalise_identifier(value: str) -> str:
    """Fold a submitted identifier so look-alike spellings share one form.

    NFKC turns compatibility characters (full-width letters, ligatures) into
    their plain forms and casefold removes case differences, so a full-width
    ``ALICE@example.com`` and ``alice@example.com`` are one identifier.
    """
    folded = unicodedata.normalize("NFKC", value).casefold().strip()
    return unicodedata.normalize("NFKC", folded)[:MAX_IDENTIFIER_LENGTH]


def _ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


def fold_email(value: str) -> str:
    """Return the one spelling an address is stored and looked up under.

    NFKC first, so full-width and other compatibility forms become plain
    ASCII; then the local part is lower-cased and the domain written in its
    IDNA (``xn--``) form, so a domain with look-alike letters from another
    script is visibly a different domain.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    return f"{local.lower()}@{_ascii_domain(domain)}"


def normalise_email(value: str) -> str:
    """Fold an address for signup or change, refusing look-alike local parts.

    A local part outside ASCII after NFKC (a Cyrillic letter in place of a Latin one)
    could be mistaken for another user's address, so it is refused; the
    refusal depends only on the address typed, never on existing accounts.
    """
    folded = fold_email(value)
    local = folded.rpartition("@")[0]
    if not local.isascii():
        raise ValidationError(NON_ASCII_LOCAL_PART, code="non_ascii_email")
    return folded
