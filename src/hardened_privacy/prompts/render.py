"""Render a prompt template with delimited, neutralised and scrubbed values."""

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import PromptTemplateError, PromptVariableError
from hardened_privacy.prompts.lock import verify_locked
from hardened_privacy.prompts.neutralise import (
    CLOSE_MARK,
    OPEN_MARK,
    has_delimiter_marks,
    neutralise,
    suspicious_reasons,
)
from hardened_privacy.prompts.template import (
    NAME,
    PLACEHOLDER,
    SUFFIX,
    PromptTemplate,
    read_template,
)

audit_logger = logging.getLogger("hardened_privacy.audit")

MAX_VALUE_LENGTH = 200_000


@dataclass(frozen=True)
class RenderedPrompt:
    """The text to send to a model and what identifies it in the audit log."""

    name: str
    version: int
    text: str
    sha256: str


def opening(variable: str) -> str:
    return f'{OPEN_MARK}user_input name="{variable}"{CLOSE_MARK}'


def closing(variable: str) -> str:
    return f'{OPEN_MARK}end_user_input name="{variable}"{CLOSE_MARK}'


def prompt_directories(dirs: Iterable[str | Path] | None = None) -> list[Path]:
    """Configured template directories; relative ones start at ``BASE_DIR``."""
    base = Path(getattr(settings, "BASE_DIR", Path.cwd()))
    chosen = app_settings.PROMPT_DIRS if dirs is None else list(dirs)
    return [Path(d) if Path(d).is_absolute() else base / d for d in chosen]


def find_template(
    name: str, dirs: Iterable[str | Path] | None = None
) -> PromptTemplate:
    """The template called ``name`` in the first directory that holds it.

    Unless ``HARDENED_PRIVACY_PROMPT_REQUIRE_LOCK`` is off, its version must
    be recorded in the directory's lock file with exactly this content.
    """
    if not NAME.match(name):
        raise PromptTemplateError("Prompt names are snake_case.")
    for directory in prompt_directories(dirs):
        path = directory / f"{name}{SUFFIX}"
        if path.is_file():
            template = read_template(path)
            if app_settings.PROMPT_REQUIRE_LOCK:
                verify_locked(template, directory)
            return template
    raise PromptTemplateError(f"No prompt template is called {name!r}.")


def structural_problems(template: PromptTemplate) -> list[tuple[int, str]]:
    """``(line, message)`` for every problem that makes rendering unsafe."""
    problems: list[tuple[int, str]] = []
    for placeholder in template.placeholders():
        if placeholder.variable not in template.variables:
            problems.append(
                (placeholder.line, f"{placeholder.variable!r} is not declared.")
            )
        elif (
            placeholder.variable in template.user_variables
            and not placeholder.delimited
        ):
            problems.append(
                (
                    placeholder.line,
                    f"User variable {placeholder.variable!r} is outside "
                    f"delimiters; write {{{{ user:{placeholder.variable} }}}}.",
                )
            )
    for line in template.stray_braces():
        problems.append((line, "'{{' or '}}' outside a well-formed placeholder."))
    for offset, text in enumerate(template.body.split("\n")):
        if has_delimiter_marks(text):
            problems.append(
                (
                    template.body_line + offset,
                    "The text contains a delimiter mark or a look-alike of one.",
                )
            )
    return problems


def _check_values(template: PromptTemplate, values: Mapping[str, Any]) -> None:
    missing = sorted(template.variables - set(values))
    extra = sorted(set(values) - template.variables)
    if missing or extra:
        raise PromptVariableError(
            f"Prompt {template.name!r} needs {sorted(template.variables)}; "
            f"missing {missing}, unexpected {extra}."
        )
    for variable, value in values.items():
        if not isinstance(value, str):
            raise PromptVariableError(f"The value of {variable!r} must be a string.")
        if len(value) > MAX_VALUE_LENGTH:
            raise PromptVariableError(f"The value of {variable!r} is too long.")


def _scrub(text: str) -> str:
    from hardened_privacy.internal.scrubber import mask_text

    return mask_text(text)


def _audit(
    event: str,
    outcome: Literal["success", "failure", "denied"],
    template: PromptTemplate,
    actor: object | None,
    tenant: object | None,
    **fields: Any,
) -> None:
    payload = {
        "event": event,
        "actor": None if actor is None else str(actor),
        "tenant": None if tenant is None else str(tenant),
        "target": f"{template.name}@{template.version}",
        "outcome": outcome,
        "ip": None,
        "template": template.name,
        "version": template.version,
        **fields,
    }
    level = logging.INFO if outcome == "success" else logging.WARNING
    audit_logger.log(level, event, extra={"hardened_audit": payload})


def render_template(
    template: PromptTemplate,
    values: Mapping[str, Any],
    *,
    actor: object | None = None,
    tenant: object | None = None,
    strict: bool = False,
) -> RenderedPrompt:
    """Fill ``template`` with ``values``, scrub the result and audit-log it.

    A user value that imitates a delimiter or carries bidirectional controls
    or hidden tag characters is neutralised like any other and logged as
    ``prompt_input_neutralised``; with ``strict`` it is refused instead.
    """
    try:
        problems = structural_problems(template)
        if problems:
            line, message = problems[0]
            raise PromptTemplateError(f"{template.name} line {line}: {message}")
        _check_values(template, values)
    except (PromptTemplateError, PromptVariableError) as exc:
        _audit(
            "prompt_render_refused",
            "failure",
            template,
            actor,
            tenant,
            error=type(exc).__name__,
        )
        raise

    flagged = sorted(
        v for v in template.user_variables if suspicious_reasons(values[v])
    )
    if flagged:
        _audit(
            "prompt_input_neutralised",
            "denied",
            template,
            actor,
            tenant,
            variables=flagged,
        )
        if strict:
            raise PromptVariableError(
                f"The values of {flagged} imitate delimiters or hide characters."
            )

    def fill(match: Any) -> str:
        variable = match.group(2)
        value = neutralise(values[variable])
        if match.group(1) is None:
            return value
        return f"{opening(variable)}\n{value}\n{closing(variable)}"

    text = _scrub(PLACEHOLDER.sub(fill, template.body))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()

    _audit(
        "prompt_rendered",
        "success",
        template,
        actor,
        tenant,
        sha256=digest,
        length=len(text),
    )
    return RenderedPrompt(template.name, template.version, text, digest)


def render_prompt(
    name: str,
    values: Mapping[str, Any],
    *,
    actor: object | None = None,
    tenant: object | None = None,
    dirs: Iterable[str | Path] | None = None,
    strict: bool = False,
) -> RenderedPrompt:
    """Render the template called ``name`` from the configured directories."""
    return render_template(
        find_template(name, dirs), values, actor=actor, tenant=tenant, strict=strict
    )
