"""The registry of tools an agent may call on a user's behalf.

A tool is known only once registered, and allowed only where its policy,
the action ``agent:<name>`` on the current ``Tenant``, allows the user.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hardened_rbac.exceptions import AgentToolConflict
from hardened_rbac.internal.agent_schema import Field, Schema

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
RATE_RE = re.compile(r"([1-9][0-9]{0,6})/([1-9][0-9]{0,4})?([smhd])")
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Handler = Callable[..., Any]


class SideEffect(enum.StrEnum):
    """What a tool does to the world, from harmless to irreversible."""

    READ = "read"
    WRITE = "write"
    MONEY = "money"
    DELETE = "delete"


ALWAYS_APPROVED = frozenset({SideEffect.MONEY, SideEffect.DELETE})


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/m"`` or ``"100/15m"`` as (calls, seconds); ``ValueError`` if bad."""
    match = RATE_RE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None:
        raise ValueError(f"{rate!r} is not a rate such as '10/m' or '100/15m'.")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * PERIODS[unit]


def policy_action(name: str) -> str:
    return f"agent:{name}"


@dataclass(frozen=True)
class Tool:
    """One registered tool and everything the gateway enforces for it."""

    name: str
    handler: Handler
    description: str
    schema: Schema
    side_effect: SideEffect
    user_rate: str
    tenant_rate: str
    requires_approval: bool
    network_hosts: frozenset[str] = field(default_factory=frozenset)
    shell_commands: frozenset[str] = field(default_factory=frozenset)

    @property
    def action(self) -> str:
        return policy_action(self.name)

    def describe(self) -> dict[str, Any]:
        """What an agent may be told about the tool; no handler internals."""
        return {
            "name": self.name,
            "description": self.description,
            "arguments": self.schema.describe(),
            "side_effect": self.side_effect.value,
            "requires_approval": self.requires_approval,
        }


_tools: dict[str, Tool] = {}


def build_tool(
    name: str,
    handler: Handler,
    *,
    description: str,
    arguments: Mapping[str, Field],
    side_effect: SideEffect | str,
    user_rate: str,
    tenant_rate: str,
    requires_approval: bool = False,
    network_hosts: Sequence[str] = (),
    shell_commands: Sequence[str] = (),
) -> Tool:
    """A checked ``Tool``; money and delete tools always need approval."""
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a tool name (lower case, digits, _).")
    effect = SideEffect(side_effect)
    parse_rate(user_rate)
    parse_rate(tenant_rate)
    if any(not isinstance(f, Field) for f in arguments.values()):
        raise TypeError("Tool arguments must be agents.Text, Integer, ... fields.")
    return Tool(
        name=name,
        handler=handler,
        description=description,
        schema=Schema(dict(arguments)),
        side_effect=effect,
        user_rate=user_rate,
        tenant_rate=tenant_rate,
        requires_approval=requires_approval or effect in ALWAYS_APPROVED,
        network_hosts=frozenset(h.lower() for h in network_hosts),
        shell_commands=frozenset(shell_commands),
    )


def register(tool: Tool) -> Tool:
    existing = _tools.get(tool.name)
    if existing is not None and existing != tool:
        raise AgentToolConflict(f"The agent tool {tool.name!r} is registered twice.")
    _tools[tool.name] = tool
    return tool


def unregister(name: str) -> None:
    _tools.pop(name, None)


def lookup(name: object) -> Tool | None:
    if not isinstance(name, str):
        return None
    return _tools.get(name)


def registered() -> list[Tool]:
    return sorted(_tools.values(), key=lambda tool: tool.name)
