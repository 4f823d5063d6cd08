"""The gateway for tools a language-model agent calls on a user's behalf.

Register a tool, declare who may use it, and call it through the gateway::

    from hardened_rbac import agents, policies as p

    @agents.tool(
        "summarise_feed",
        description="Summarise the posts the user can see.",
        arguments={"limit": agents.Integer(minimum=1, maximum=50)},
        side_effect=agents.READ,
        user_rate="20/m",
        tenant_rate="200/m",
        rules=[agents.TenantMember()],
    )
    def summarise_feed(ctx, limit):
        ...

    agents.call(request.user, "summarise_feed", {"limit": 10})

Nothing is allowed by default: an unknown tool, a tool without a policy, a
user the policy refuses, arguments off the schema, an object of another
tenant, a used-up rate and a missing approval are each refused with an
``AgentToolRefused`` subclass and an audit event. Money and delete tools
always wait for the approval of a person other than the requester, who
holds ``APPROVE_PERMISSION`` in the tenant. See
``docs/hardened_rbac_agents.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import models
from django.db.models import Q

from hardened_rbac.internal.agent_gateway import (
    APPROVE_PERMISSION,
    call,
    decide_approval,
)
from hardened_rbac.internal.agent_registry import (
    SideEffect,
    Tool,
    build_tool,
    lookup,
    register,
    registered,
    unregister,
)
from hardened_rbac.internal.agent_sandbox import CommandResult, ToolContext
from hardened_rbac.internal.agent_schema import Boolean, Field, Integer, ObjectRef, Text
from hardened_rbac.internal.rules import EVERYTHING, NOTHING, Rule, Subject, Verdict
from hardened_rbac.models import Tenant

__all__ = [
    "APPROVE_PERMISSION",
    "DELETE",
    "MONEY",
    "READ",
    "WRITE",
    "Boolean",
    "CommandResult",
    "Field",
    "Integer",
    "ObjectRef",
    "SideEffect",
    "TenantMember",
    "Text",
    "Tool",
    "ToolContext",
    "approve",
    "call",
    "describe_tools",
    "lookup",
    "register_tool",
    "registered",
    "reject",
    "tool",
    "unregister_tool",
]

READ = SideEffect.READ
WRITE = SideEffect.WRITE
MONEY = SideEffect.MONEY
DELETE = SideEffect.DELETE


class TenantMember(Rule):
    """Any active member of the current tenant; for tools every member may use."""

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        if subject.is_member:
            return self.verdict(True, "the user is a member of the tenant")
        return self.verdict(False, "the user is not a member of the tenant")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        return EVERYTHING if subject.is_member else NOTHING


def register_tool(
    name: str,
    handler: Callable[..., Any],
    *,
    description: str,
    arguments: Mapping[str, Field],
    side_effect: SideEffect | str,
    user_rate: str,
    tenant_rate: str,
    rules: Sequence[Rule] | None = None,
    requires_approval: bool = False,
    network_hosts: Sequence[str] = (),
    shell_commands: Sequence[str] = (),
) -> Tool:
    """Register a tool; with ``rules``, also declare its policy.

    Without ``rules`` the site declares ``policies.declare("agent:<name>",
    Tenant, [...])`` itself; until it does, every call is refused.
    """
    from hardened_rbac import policies

    built = build_tool(
        name,
        handler,
        description=description,
        arguments=arguments,
        side_effect=side_effect,
        user_rate=user_rate,
        tenant_rate=tenant_rate,
        requires_approval=requires_approval,
        network_hosts=network_hosts,
        shell_commands=shell_commands,
    )
    register(built)
    if rules is not None:
        existing = [p for p in policies.registered() if p.key == _policy_key(built)]
        if not existing:
            policies.declare(built.action, Tenant, rules)
    return built


def _policy_key(built: Tool) -> tuple[str, str]:
    return built.action, Tenant._meta.label_lower


def unregister_tool(name: str) -> None:
    """Forget a tool and the policy ``register_tool`` declared for it."""
    from hardened_rbac import policies

    found = lookup(name)
    if found is None:
        return
    for policy in policies.registered():
        if policy.key == _policy_key(found):
            policies.unregister(policy)
    unregister(name)


def tool(
    name: str, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of :func:`register_tool`; returns the handler unchanged."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        register_tool(name, handler, **options)
        return handler

    return decorate


def approve(approval_id: int, approver: Any) -> None:
    """A person approves a pending call; the agent may then make it once.

    ``approver`` holds ``APPROVE_PERMISSION`` in the current tenant and, for
    a money or delete call, is not the user who requested it.
    """
    decide_approval(approval_id, approver, approve=True)


def reject(approval_id: int, approver: Any) -> None:
    """A person holding ``APPROVE_PERMISSION``, or the requester, refuses."""
    decide_approval(approval_id, approver, approve=False)


def describe_tools(user: Any = None) -> list[dict[str, Any]]:
    """The registered tools as an agent may be told about them.

    With ``user``, only the tools that user's policies allow in the current
    tenant, so an agent is never offered a tool it would be refused.
    """
    from hardened_rbac.internal.agent_gateway import allowed_by_policy
    from hardened_rbac.internal.context import current_tenant

    tools = registered()
    if user is not None:
        tenant = current_tenant()
        tools = [
            t
            for t in tools
            if tenant is not None and allowed_by_policy(user, t, tenant)
        ]
    return [registered_tool.describe() for registered_tool in tools]
