"""Prompt template files: a small header, then the prompt text.

A template is a UTF-8 file named ``<name>.prompt``::

    ---
    name: summarise_feed
    version: 3
    user: feed_text, question
    trusted: site_name
    description: Summarise the posts in a member's feed.
    ---
    You are the assistant of {{ site_name }}. Summarise these posts:
    {{ user:feed_text }}
    Answer this question about them: {{ user:question }}

``user`` lists the variables whose values come from people (untrusted);
``trusted`` lists values the site itself supplies. ``{{ user:name }}``
places a value between delimiters; ``{{ name }}`` places it inline and is
only allowed for trusted variables.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from hardened_privacy.exceptions import PromptTemplateError

SUFFIX = ".prompt"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VARIABLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PLACEHOLDER = re.compile(r"\{\{\s*(user\s*:\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BRACES = re.compile(r"\{\{|\}\}")
_HEADER_LINE = re.compile(r"^([a-z_]+)\s*:\s*(.*)$")
_KEYS = frozenset({"name", "version", "user", "trusted", "description"})


@dataclass(frozen=True)
class Placeholder:
    variable: str
    delimited: bool
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class PromptTemplate:
    """One parsed template; ``body_line`` is the file line the text starts."""

    name: str
    version: int
    user_variables: tuple[str, ...]
    trusted_variables: tuple[str, ...]
    description: str
    body: str
    body_line: int
    path: Path | None
    sha256: str
    header_lines: tuple[str, ...] = ()

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(self.user_variables) | frozenset(self.trusted_variables)

    def placeholders(self) -> list[Placeholder]:
        return [
            Placeholder(
                variable=match.group(2),
                delimited=match.group(1) is not None,
                line=self.body_line + self.body.count("\n", 0, match.start()),
                start=match.start(),
                end=match.end(),
            )
            for match in PLACEHOLDER.finditer(self.body)
        ]

    def numbered_lines(self) -> list[tuple[int, str]]:
        """``(file line, text)`` for the header and the body."""
        header = [(index + 2, text) for index, text in enumerate(self.header_lines)]
        body = [
            (self.body_line + offset, text)
            for offset, text in enumerate(self.body.split("\n"))
        ]
        return header + body

    def stray_braces(self) -> list[int]:
        """File lines with ``{{`` or ``}}`` outside a placeholder."""
        cleaned = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), self.body)
        return [
            self.body_line + cleaned.count("\n", 0, match.start())
            for match in BRACES.finditer(cleaned)
        ]


def content_hash(text: str) -> str:
    """SHA-256 of the template file with line endings normalised."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def _names(value: str, where: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [n for n in names if not VARIABLE.match(n)]
    if bad or len(set(names)) != len(names):
        raise PromptTemplateError(
            f"{where}: variable names must be unique and snake_case."
        )
    return names


def parse_template(text: str, path: Path | None = None) -> PromptTemplate:
    """Parse ``text``; raise :class:`PromptTemplateError` if malformed."""
    where = str(path) if path is not None else "<template>"
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise PromptTemplateError(f"{where}: the file must start with a '---' header.")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PromptTemplateError(
            f"{where}: the header has no closing '---'."
        ) from None
    header: dict[str, str] = {}
    for line in lines[1:end]:
        match = _HEADER_LINE.match(line.strip())
        if not line.strip():
            continue
        if match is None or match.group(1) not in _KEYS or match.group(1) in header:
            raise PromptTemplateError(f"{where}: unknown or repeated header line.")
        header[match.group(1)] = match.group(2).strip()
    name = header.get("name", "")
    if not NAME.match(name):
        raise PromptTemplateError(f"{where}: 'name' must be snake_case.")
    if path is not None and path.name != name + SUFFIX:
        raise PromptTemplateError(f"{where}: the file must be named {name}{SUFFIX}.")
    version = header.get("version", "")
    if not version.isascii() or not version.isdigit() or int(version) < 1:
        raise PromptTemplateError(f"{where}: 'version' must be a positive integer.")
    user = _names(header.get("user", ""), where)
    trusted = _names(header.get("trusted", ""), where)
    if set(user) & set(trusted):
        raise PromptTemplateError(f"{where}: a variable is both user and trusted.")
    return PromptTemplate(
        name=name,
        version=int(version),
        user_variables=user,
        trusted_variables=trusted,
        description=header.get("description", ""),
        body="\n".join(lines[end + 1 :]),
        body_line=end + 2,
        path=path,
        sha256=content_hash(text),
        header_lines=tuple(lines[1:end]),
    )


def read_template(path: Path) -> PromptTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptTemplateError(f"{path}: the template cannot be read.") from exc
    return parse_template(text, path)


def template_paths(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(f"*{SUFFIX}") if p.is_file())
