"""Find the files that need a person's review and hash their content."""

import hashlib
import io
import os
import re
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATTERNS: dict[str, list[str]] = {
    "migration": ["**/migrations/*.py"],
    "auth_gate": [
        "**/views.py",
        "**/views/*.py",
        "**/decorators.py",
        "**/decorators/*.py",
        "**/policies.py",
        "**/policies/*.py",
        "**/middleware.py",
        "**/middleware/*.py",
    ],
    "payment_handler": [
        "**/webhooks.py",
        "**/webhooks/*.py",
        "**/handlers.py",
        "**/handlers/*.py",
    ],
}
DEFAULT_EXCLUDE = [
    "**/.*/**",
    "**/node_modules/**",
    "**/__pycache__/**",
    "**/site-packages/**",
    "build/**",
    "dist/**",
    "venv/**",
    "**/migrations/__init__.py",
]
DEFAULT_MARKERS: dict[str, list[str]] = {
    "auth_gate": [
        r"@(?:login_required|permission_required|user_passes_test"
        r"|staff_member_required|csrf_exempt)\b",
        r"\b(?:LoginRequiredMixin|PermissionRequiredMixin|UserPassesTestMixin)\b",
        r"\bdef (?:process_view|process_request|has_permission"
        r"|has_object_permission)\(",
        r"^\s*(?:authentication_classes|permission_classes)\s*=",
        # Middleware: Django's constructor and the per-request call.
        r"\bdef __init__\(\s*self\s*,\s*get_response\b",
        r"\bdef __call__\(\s*self\s*,\s*request\b",
        # Class-based view mixins that gate every method.
        r"\bdef dispatch\(\s*self\s*,\s*request\b",
        # A view decorator's wrapper, typed or not.
        r"\bdef \w+\(\s*request\s*(?::\s*[\w.]+\s*)?,\s*\*args\b",
        # Authentication backends and permission checks.
        r"\bdef (?:authenticate|has_perm|has_perms|has_module_perms)\(",
        # Policy engines and the code that asks them.
        r"\bdef (?:decide|authori[sz]e|\w*is_allowed|filter_allowed)\(",
        r"\bpolicies\.(?:authorize|allowed|is_allowed)\(",
    ],
    "payment_handler": [
        r"\bstripe\.(?:Webhook|WebhookSignature|StripeClient|PaymentIntent|Refund"
        r"|Charge|Payout|Transfer|checkout)\b",
        r"^\s*(?:import|from)\s+stripe\b",
        r"\bconstruct_event\(",
        r"@webhooks\.handler\b",
        # Ledger postings, and code that marks an order or a payout paid.
        r"\bpost_transfer\(",
        r"\.PAID\b",
        # Receivers of payment signals.
        r"(?i)\b\w*(?:payment|checkout|charge|payout|refund|invoice)\w*\.connect\(",
        r"(?i)@receiver\(\s*[\w.]*(?:payment|checkout|charge|payout|refund|invoice)",
    ],
}
MARKER_FILES = "**/*.py"
MAX_MARKER_BYTES = 2_000_000
_PROBE = "__hardened_probe__"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob where ``**/`` spans directories and ``*`` does not."""
    parts, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("^" + "".join(parts) + r"\Z")


@dataclass(frozen=True)
class Matcher:
    """Which files are gated: by path glob first, then by content marker."""

    categories: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    exclude: tuple[re.Pattern[str], ...]
    markers: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = ()

    @classmethod
    def build(
        cls,
        patterns: Mapping[str, Iterable[str]],
        exclude: Iterable[str],
        markers: Mapping[str, Iterable[str]] | None = None,
    ) -> "Matcher":
        return cls(
            tuple(
                (category, tuple(glob_regex(p) for p in globs))
                for category, globs in patterns.items()
            ),
            tuple(glob_regex(p) for p in exclude),
            tuple(
                (category, tuple(re.compile(r, re.MULTILINE) for r in regexes))
                for category, regexes in (markers or {}).items()
            ),
        )

    def marked(self, relative: str, path: Path) -> str | None:
        """The category whose content marker ``path`` contains, if any."""
        if not self.markers or not _MARKER_FILES.match(relative):
            return None
        if path.is_symlink() or path.stat().st_size > MAX_MARKER_BYTES:
            return None
        text = code_only(path.read_bytes().decode("utf-8", errors="replace"))
        for category, regexes in self.markers:
            if any(r.search(text) for r in regexes):
                return category
        return None

    def excluded(self, relative: str) -> bool:
        return any(p.match(relative) for p in self.exclude)

    def category(self, relative: str) -> str | None:
        if self.excluded(relative):
            return None
        for category, globs in self.categories:
            if any(p.match(relative) for p in globs):
                return category
        return None


_MARKER_FILES = glob_regex(MARKER_FILES)
_BLANKED = {tokenize.STRING, tokenize.COMMENT} | {
    getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)
}


def code_only(source: str) -> str:
    """``source`` with strings and comments blanked, so markers match code.

    Source that does not tokenize is returned unchanged.
    """
    rows = [list(line) for line in source.splitlines(keepends=True)]
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in _BLANKED:
                continue
            (first, start), (last, end) = token.start, token.end
            for number in range(first, last + 1):
                row = rows[number - 1]
                stop = end if number == last else len(row)
                for index in range(start if number == first else 0, stop):
                    if row[index] != "\n":
                        row[index] = " "
    except (tokenize.TokenError, SyntaxError):
        return source
    return "".join("".join(row) for row in rows)


def content_hash(path: Path) -> str:
    """SHA-256 of a file, CRLF folded to LF; of its target for a symlink."""
    if path.is_symlink():
        data = ("symlink:" + os.readlink(path)).encode("utf-8")
    else:
        data = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def scan(root: Path, matcher: Matcher) -> dict[str, tuple[str, str]]:
    """Relative POSIX path to ``(category, sha256)`` of each gated file."""
    found: dict[str, tuple[str, str]] = {}
    for directory, subdirectories, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        subdirectories[:] = sorted(
            d for d in subdirectories if not matcher.excluded(f"{prefix}{d}/{_PROBE}")
        )
        for name in sorted(files):
            relative = prefix + name
            category = matcher.category(relative)
            if category is None and not matcher.excluded(relative):
                category = matcher.marked(relative, Path(directory) / name)
            if category is not None:
                found[relative] = (category, content_hash(Path(directory) / name))
    return found
