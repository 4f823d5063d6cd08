"""A small, strict validator for agent tool arguments.

Arguments arrive from a language model, so they are treated as hostile: the
call must be a JSON object of known keys, no larger than the configured cap,
and every value must match its declared field exactly (no coercion, no
booleans passed as numbers, no extra keys). Text is refused when it carries
invisible or bidirectional characters, imitates prompt delimiters, or tells
a model to drop its rules, because such text in a tool call means the agent
has been steered by content it read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models

from hardened_rbac.exceptions import AgentToolArgumentsInvalid

_STEERING = (
    re.compile(
        r"\b(ignore|disregard|forget|override|bypass|drop)\b\W+(?:\w+\W+){0,4}?"
        r"(instructions?|rules?|prompts?|polic(?:y|ies)|guardrails?|system)\b"
    ),
    re.compile(r"\b(you are now|from now on you|new instructions?)\b"),
    re.compile(r"\b(system prompt|developer mode|jailbr[eo]ak\w*)\b"),
    re.compile(r"^\s*(system|assistant|developer)\s*:", re.MULTILINE),
    re.compile(r"</?\s*(system|instructions?|tool_call|im_start|im_end)\b"),
)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def steering_reason(text: str) -> str | None:
    """Why ``text`` may not go into a tool call, or ``None`` when it may."""
    from hardened_privacy.prompts.neutralise import (
        has_delimiter_marks,
        has_invisible_characters,
    )

    if has_invisible_characters(text):
        return "invisible or control characters"
    if has_delimiter_marks(text):
        return "delimiter look-alikes"
    folded = _folded(text)
    if any(pattern.search(folded) for pattern in _STEERING):
        return "instructions addressed to a model"
    return None


class Field:
    """One argument; subclasses check the value and return it unchanged."""

    kind = "value"

    def __init__(self, *, required: bool = True, default: Any = None) -> None:
        self.required = required
        self.default = default

    def validate(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, "required": self.required}

    def refuse(self, name: str, problem: str) -> AgentToolArgumentsInvalid:
        return AgentToolArgumentsInvalid(f"Argument {name!r} {problem}.")


class Text(Field):
    """A string of bounded length, optionally one of ``choices``.

    Set ``free_text=True`` only for text a person typed and the tool merely
    stores; it still refuses invisible characters and delimiter look-alikes.
    """

    kind = "string"

    def __init__(
        self,
        *,
        max_length: int = 200,
        min_length: int = 0,
        choices: Sequence[str] | None = None,
        pattern: str | None = None,
        free_text: bool = False,
        required: bool = True,
        default: str | None = None,
    ) -> None:
        super().__init__(required=required, default=default)
        self.max_length = max_length
        self.min_length = min_length
        self.choices = tuple(choices) if choices is not None else None
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.free_text = free_text

    def validate(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.refuse(name, "must be a string")
        if not self.min_length <= len(value) <= self.max_length:
            raise self.refuse(
                name, f"must be {self.min_length} to {self.max_length} characters"
            )
        if self.choices is not None and value not in self.choices:
            raise self.refuse(name, "is not one of the allowed choices")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise self.refuse(name, "does not match its pattern")
        reason = steering_reason(value)
        if reason is not None and not (
            self.free_text and reason == "instructions addressed to a model"
        ):
            raise self.refuse(name, f"holds {reason}")
        return value

    def describe(self) -> dict[str, Any]:
        described = {**super().describe(), "maxLength": self.max_length}
        if self.choices is not None:
            described["enum"] = list(self.choices)
        return described


class Integer(Field):
    """A whole number between ``minimum`` and ``maximum``; never a boolean."""

    kind = "integer"

    def __init__(
        self,
        *,
        minimum: int = 0,
        maximum: int = 2**31 - 1,
        required: bool = True,
        default: int | None = None,
    ) -> None:
        super().__init__(required=required, default=default)
        self.minimum = minimum
        self.maximum = maximum

    def validate(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse(name, "must be a whole number")
        if not self.minimum <= value <= self.maximum:
            raise self.refuse(name, f"must be {self.minimum} to {self.maximum}")
        return value

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "minimum": self.minimum, "maximum": self.maximum}


class Boolean(Field):
    """``true`` or ``false``, nothing that merely looks like one."""

    kind = "boolean"

    def validate(self, name: str, value: Any) -> Any:
        if not isinstance(value, bool):
            raise self.refuse(name, "must be true or false")
        return value


class ObjectRef(Field):
    """The primary key of a ``model`` row the user may ``action``.

    The gateway loads the row through the policy's queryset, in the current
    tenant; a row of another tenant and a missing row are refused alike.
    """

    kind = "object"

    def __init__(
        self, model: type[models.Model] | str, *, action: str = "view", **kw: Any
    ) -> None:
        super().__init__(**kw)
        self._model = model
        self.action = action

    @property
    def model(self) -> type[models.Model]:
        from django.apps import apps

        model = self._model
        return apps.get_model(model) if isinstance(model, str) else model

    def validate(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.refuse(name, "must be an object id")
        if isinstance(value, str) and not re.fullmatch(r"[-0-9A-Za-z_]{1,64}", value):
            raise self.refuse(name, "must be an object id")
        if isinstance(value, int) and not 0 < value < 2**63:
            raise self.refuse(name, "must be an object id")
        return value

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model": self.model._meta.label,
            "action": self.action,
        }


@dataclass(frozen=True)
class Schema:
    """The arguments a tool takes, by name."""

    fields: Mapping[str, Field]

    def validate(self, arguments: Any, max_bytes: int) -> dict[str, Any]:
        """The arguments with defaults filled in, or ``AgentToolArgumentsInvalid``."""
        if not isinstance(arguments, Mapping):
            raise AgentToolArgumentsInvalid("Arguments must be a JSON object.")
        try:
            encoded = canonical_json(arguments)
        except (TypeError, ValueError, RecursionError) as exc:
            raise AgentToolArgumentsInvalid("Arguments must be plain JSON.") from exc
        if len(encoded.encode()) > max_bytes:
            raise AgentToolArgumentsInvalid(
                f"Arguments exceed {max_bytes} bytes of JSON."
            )
        unknown = sorted(str(k)[:40] for k in arguments if k not in self.fields)
        if unknown:
            raise AgentToolArgumentsInvalid(
                f"Unknown arguments: {', '.join(repr(k) for k in unknown[:5])}."
            )
        cleaned: dict[str, Any] = {}
        for name, field in self.fields.items():
            if name not in arguments:
                if field.required:
                    raise AgentToolArgumentsInvalid(f"Argument {name!r} is missing.")
                cleaned[name] = field.default
                continue
            cleaned[name] = field.validate(name, arguments[name])
        return cleaned

    def describe(self) -> dict[str, Any]:
        return {name: field.describe() for name, field in self.fields.items()}


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON that refuses NaN and non-JSON types."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=None
    )
