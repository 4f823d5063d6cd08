"""Find the files that need a person's review and hash their content."""

import hashlib
import os
import re
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
    categories: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    exclude: tuple[re.Pattern[str], ...]

    @classmethod
    def build(
        cls, patterns: Mapping[str, Iterable[str]], exclude: Iterable[str]
    ) -> "Matcher":
        return cls(
            tuple(
                (category, tuple(glob_regex(p) for p in globs))
                for category, globs in patterns.items()
            ),
            tuple(glob_regex(p) for p in exclude),
        )

    def excluded(self, relative: str) -> bool:
        return any(p.match(relative) for p in self.exclude)

    def category(self, relative: str) -> str | None:
        if self.excluded(relative):
            return None
        for category, globs in self.categories:
            if any(p.match(relative) for p in globs):
                return category
        return None


def content_hash(path: Path) -> str:
    """SHA-256 of a file with CRLF folded to LF; of the target for a symlink."""
    if path.is_symlink():
        data = ("symlink:" + os.readlink(path)).encode("utf-8")
    else:
        data = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def scan(root: Path, matcher: Matcher) -> dict[str, tuple[str, str]]:
    """Relative POSIX path to ``(category, sha256)`` for every matching file."""
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
            if category is not None:
                found[relative] = (category, content_hash(Path(directory) / name))
    return found
