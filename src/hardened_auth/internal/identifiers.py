"""Normalise what a user types as a username or an email address."""

import unicodedata

MAX_IDENTIFIER_LENGTH = 254


def normalise_identifier(value: str) -> str:
    """Fold a submitted identifier so look-alike spellings share one form.

    NFKC turns compatibility characters (full-width letters, ligatures) into
    their plain forms and casefold removes case differences, so
    full-width ``ALICE@example.com`` and ``alice@example.com`` are one identifier.
    """
    folded = unicodedata.normalize("NFKC", value).casefold().strip()
    return unicodedata.normalize("NFKC", folded)[:MAX_IDENTIFIER_LENGTH]
