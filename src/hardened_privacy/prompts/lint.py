"""Lint prompt templates and keep their lock of hashes per version.

Each template directory holds ``prompts.lock.json``, mapping every template
name to ``{version: sha256}`` for each version ever recorded. A template
whose text changed while its version stayed the same fails the lint, so a
change to a prompt is always a new version.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hardened_privacy.exceptions import PromptTemplateError
from hardened_privacy.prompts.lock import LOCK_FILE, read_lock, write_lock
from hardened_privacy.prompts.neutralise import has_invisible_characters, normalise
from hardened_privacy.prompts.render import prompt_directories, structural_problems
from hardened_privacy.prompts.template import (
    PromptTemplate,
    read_template,
    template_paths,
)

_OVERRIDE = [
    re.compile(
        r"\b(ignore|disregard|forget|skip|bypass|override|overrule|set aside)\b"
        r"[^.!?\n]{0,40}?\b(instructions?|rules?|prompts?|guidelines?|directions?"
        r"|polic(?:y|ies)|constraints?|guardrails?|restrictions?)\b"
    ),
    re.compile(r"\byou are no longer\b"),
    re.compile(r"\b(jailbreak|jailbroken|developer mode|do anything now)\b"),
    re.compile(r"\bno (rules|restrictions|limits) apply\b"),
    re.compile(r"\b(reveal|print|repeat) (your|the) (system )?prompt\b"),
    re.compile(r"\bact as if you (have no|are free of) (rules|restrictions)\b"),
]
_NEGATION = re.compile(r"\b(never|not|don't|do not|must not|refuse|no one may)\b")
_SENTENCE_START = re.compile(r"[.!?\n]")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_MASK = re.compile(r"\[MASKED(?::([a-z-]+))?\]")


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, a stable code and what to do."""

    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


def _override_lines(template: PromptTemplate) -> list[int]:
    lines = []
    for offset, raw in enumerate(template.body.split("\n")):
        text = normalise(raw).lower()
        for pattern in _OVERRIDE:
            for match in pattern.finditer(text):
                before = text[: match.start()]
                sentence = _SENTENCE_START.split(before)[-1]
                if not _NEGATION.search(sentence):
                    lines.append(template.body_line + offset)
                    break
    return sorted(set(lines))


def _sensitive_kinds(text: str) -> list[str]:
    from hardened_privacy.internal.scrubber import mask_text

    kinds = sorted({kind or "secret" for kind in _MASK.findall(mask_text(text))})
    if _PRIVATE_KEY.search(text):
        kinds.append("private key")
    return kinds


def lint_template(template: PromptTemplate, where: str) -> list[Finding]:
    """Findings for one parsed template, without the lock comparison."""
    findings = []
    for line, message in structural_problems(template):
        code = "PL001" if "outside delimiters" in message else "PL004"
        if "delimiter mark" in message:
            code = "PL010"
        elif "'{{'" in message:
            code = "PL008"
        findings.append(Finding(where, line, code, message))
    used = {p.variable for p in template.placeholders()}
    for variable in sorted(template.variables - used):
        findings.append(
            Finding(where, 1, "PL005", f"Variable {variable!r} is declared but unused.")
        )
    for line in _override_lines(template):
        findings.append(
            Finding(
                where,
                line,
                "PL002",
                "The text tells the model to ignore or override its rules.",
            )
        )
    for line, text in template.numbered_lines():
        kinds = _sensitive_kinds(normalise(text))
        if kinds:
            findings.append(
                Finding(
                    where,
                    line,
                    "PL003",
                    f"Secret or personal data in the template ({', '.join(kinds)}).",
                )
            )
        if has_invisible_characters(text):
            findings.append(
                Finding(where, line, "PL010", "Invisible or control characters.")
            )
    return sorted(findings, key=lambda f: (f.line, f.code))


def _lock_findings(
    template: PromptTemplate, where: str, lock: dict[str, dict[str, str]]
) -> list[Finding]:
    versions = lock.get(template.name, {})
    recorded = versions.get(str(template.version))
    if recorded is not None and recorded != template.sha256:
        return [
            Finding(
                where,
                1,
                "PL006",
                f"The template changed but version {template.version} is "
                "already recorded; raise the version.",
            )
        ]
    if recorded is None:
        newest = max((int(v) for v in versions), default=0)
        if template.version <= newest:
            return [
                Finding(
                    where,
                    1,
                    "PL009",
                    f"Version {template.version} is not newer than the "
                    f"recorded version {newest}.",
                )
            ]
        return [
            Finding(
                where,
                1,
                "PL007",
                f"Version {template.version} is not in {LOCK_FILE}; run "
                "hardened_privacy_lint_prompts --update-lock.",
            )
        ]
    return []


def _directory_templates(
    directory: Path,
) -> tuple[list[tuple[PromptTemplate, str]], list[Finding]]:
    templates, findings = [], []
    names: dict[str, str] = {}
    for path in template_paths(directory):
        where = str(path)
        try:
            template = read_template(path)
        except PromptTemplateError as exc:
            findings.append(Finding(where, 1, "PL008", str(exc)))
            continue
        if template.name in names:
            findings.append(
                Finding(where, 1, "PL008", f"Duplicate of {names[template.name]}.")
            )
            continue
        names[template.name] = where
        templates.append((template, where))
    return templates, findings


def lint_directory(directory: Path, update_lock: bool = False) -> list[Finding]:
    """Findings in ``directory``; record new versions if asked and clean."""
    where = str(directory / LOCK_FILE)
    if not directory.is_dir():
        return [Finding(str(directory), 0, "PL008", "Not a directory.")]
    try:
        lock = read_lock(directory)
    except PromptTemplateError as exc:
        return [Finding(where, 0, "PL008", str(exc))]
    templates, findings = _directory_templates(directory)
    pending = []
    for template, path in templates:
        findings += lint_template(template, path)
        lock_findings = _lock_findings(template, path, lock)
        if [f.code for f in lock_findings] == ["PL007"]:
            pending.append((template, lock_findings))
        else:
            findings += lock_findings
    if update_lock and not findings:
        for template, _ in pending:
            versions = lock.setdefault(template.name, {})
            versions[str(template.version)] = template.sha256
        if pending:
            write_lock(directory, lock)
    else:
        findings += [f for _, lock_findings in pending for f in lock_findings]
    return findings


def lint_prompts(
    dirs: Iterable[str | Path] | None = None, update_lock: bool = False
) -> list[Finding]:
    """Findings for every configured (or given) template directory."""
    findings = []
    for directory in prompt_directories(dirs):
        findings += lint_directory(directory, update_lock=update_lock)
    return findings


def assert_prompts_clean(dirs: Iterable[str | Path] | None = None) -> None:
    """For a site's test suite: fail with every finding, one per line."""
    findings = lint_prompts(dirs)
    if findings:
        raise AssertionError(
            "Prompt templates need attention:\n" + "\n".join(map(str, findings))
        )
