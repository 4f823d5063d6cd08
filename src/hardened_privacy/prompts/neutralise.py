"""Make a value safe to place between prompt delimiters.

A value is first normalised (NFKC, which folds fullwidth and compatibility
forms), then stripped of invisible characters (format characters such as
zero-width spaces and joiners, bidirectional controls, variation selectors,
control characters other than tab and newline, and unassigned or private-use
code points). Characters that look like angle brackets are then folded onto
``<`` and ``>``, and every run of two or more brackets, even with spaces
between them, is escaped as ``&lt;`` / ``&gt;``, so no value can spell or
imitate the ``<<<`` and ``>>>`` of a delimiter.
"""

import functools
import re
import unicodedata

OPEN_MARK = "<<<"
CLOSE_MARK = ">>>"

_KEPT_CONTROLS = frozenset("\n\t")
_DROPPED_CATEGORIES = frozenset({"Cf", "Cs", "Co", "Cn"})
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u034f]")

_LOOK_ALIKES = {
    "\u2039": "<",
    "\u203a": ">",
    "\u3008": "<",
    "\u3009": ">",
    "\u27e8": "<",
    "\u27e9": ">",
    "\u276e": "<",
    "\u276f": ">",
    "\u276c": "<",
    "\u276d": ">",
    "\u2770": "<",
    "\u2771": ">",
    "\u29fc": "<",
    "\u29fd": ">",
    "\u1438": "<",
    "\u1433": ">",
    "\u02c2": "<",
    "\u02c3": ">",
    "\u227a": "<",
    "\u227b": ">",
    "\u22d6": "<",
    "\u22d7": ">",
    "\u2329": "<",
    "\u232a": ">",
    "\u00ab": "<<",
    "\u00bb": ">>",
    "\u300a": "<<",
    "\u300b": ">>",
    "\u27ea": "<<",
    "\u27eb": ">>",
    "\u226a": "<<",
    "\u226b": ">>",
    "\u2aa1": "<<",
    "\u2aa2": ">>",
    "\u22d8": "<<<",
    "\u22d9": ">>>",
}
_LOOK_ALIKE = re.compile("[" + "".join(_LOOK_ALIKES) + "]")
_OPEN_RUN = re.compile(r"<(?:\s*<)+")
_CLOSE_RUN = re.compile(r">(?:\s*>)+")


_SUSPECT = re.compile(r"[^\t\n\x20-\x7e]")


@functools.lru_cache(maxsize=4096)
def _visible(char: str) -> bool:
    if char in _KEPT_CONTROLS:
        return True
    category = unicodedata.category(char)
    return category != "Cc" and category not in _DROPPED_CATEGORIES


def normalise(text: str) -> str:
    """NFKC form of ``text``, invisible characters removed, CRLF to LF."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n"))
    text = _VARIATION_SELECTORS.sub("", text)
    dropped = {ord(c): None for c in set(_SUSPECT.findall(text)) if not _visible(c)}
    return text.translate(dropped) if dropped else text


def fold_look_alikes(text: str) -> str:
    """``text`` with bracket look-alikes replaced by ``<`` and ``>``."""
    found = set(_LOOK_ALIKE.findall(text))
    if not found:
        return text
    return text.translate({ord(c): _LOOK_ALIKES[c] for c in found})


def neutralise(value: str) -> str:
    """``value`` normalised, with every bracket run escaped."""
    text = fold_look_alikes(normalise(value))
    text = _OPEN_RUN.sub(lambda m: "&lt;" * m.group(0).count("<"), text)
    return _CLOSE_RUN.sub(lambda m: "&gt;" * m.group(0).count(">"), text)


def has_invisible_characters(text: str) -> bool:
    """Whether ``text`` holds characters that :func:`normalise` removes."""
    stripped = _VARIATION_SELECTORS.sub("", text.replace("\r\n", "\n"))
    return stripped != text.replace("\r\n", "\n") or any(
        not _visible(char) for char in _SUSPECT.findall(stripped)
    )


def has_delimiter_marks(text: str) -> bool:
    """Whether ``text`` spells or imitates a delimiter's bracket run."""
    folded = fold_look_alikes(unicodedata.normalize("NFKC", text))
    return bool(_OPEN_RUN.search(folded) or _CLOSE_RUN.search(folded))


_DELIMITER_RUN = re.compile(r"<(?:\s*<){2,}|>(?:\s*>){2,}")
_DELIMITER_WORD = re.compile(r"(?i)user_input(?![a-z0-9])")
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TAG_CHARACTERS = re.compile("[\U000e0000-\U000e007f]")


def suspicious_reasons(value: str) -> list[str]:
    """Why ``value`` looks crafted to break out of, or hide from, delimiters.

    Ordinary text passes, emoji joined by zero-width joiners included; the
    value is neutralised either way.
    """
    reasons = []
    folded = fold_look_alikes(normalise(value))
    if _DELIMITER_RUN.search(folded) or _DELIMITER_WORD.search(folded):
        reasons.append("delimiter look-alike")
    if _BIDI_CONTROLS.search(value):
        reasons.append("bidirectional control")
    if _TAG_CHARACTERS.search(value):
        reasons.append("hidden tag characters")
    return reasons
