"""The agent tool gateway: every check between a model's request and a tool.

A call passes, in order: a known tool; an authenticated, active user with a
current tenant; the tool's policy (action ``agent:<name>`` on the tenant);
the per-user and per-tenant rates; the argument schema; the policy of every
object the arguments name; and, where the tool needs one, a person's
approval of exactly this call, spent once. Each refusal raises a subclass of
``AgentToolRefused`` and is audit-logged, as is every call and approval.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import (
    AgentToolApprovalInvalid,
    AgentToolApprovalRequired,
    AgentToolNotAllowed,
    AgentToolObjectNotFound,
    AgentToolRefused,
    PolicyMissing,
    UnknownAgentTool,
)
from hardened_rbac.internal import agent_limits, audit
from hardened_rbac.internal.agent_registry import ALWAYS_APPROVED, Tool, lookup
from hardened_rbac.internal.agent_sandbox import ToolContext, guarded, in_tool_call
from hardened_rbac.internal.agent_schema import ObjectRef, canonical_json
from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.grants import permissions_in
from hardened_rbac.models import AgentToolApproval, Membership, Tenant

logger = logging.getLogger(__name__)

NAME_SHOWN = 64
APPROVE_PERMISSION = "hardened_rbac.approve_agenttoolapproval"
SECOND_PERSON = frozenset(effect.value for effect in ALWAYS_APPROVED)


def _shown(name: object) -> str:
    text = name if isinstance(name, str) else type(name).__name__
    return "".join(c if c.isprintable() else "?" for c in text[:NAME_SHOWN])


def _user_id(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _refuse(
    exc: AgentToolRefused, tool: str, user: Any, **fields: Any
) -> AgentToolRefused:
    audit.emit(
        "authz_fail",
        outcome="denied",
        actor=_user_id(user),
        target=f"agent_tool:{tool}",
        action="agent_tool_refused",
        refusal=exc.reason,
        **fields,
    )
    logger.warning("agent tool %s refused: %s", tool, exc.reason)
    return exc


def arguments_digest(tool: Tool, arguments: dict[str, Any]) -> str:
    raw = canonical_json({"tool": tool.name, "arguments": arguments})
    return hashlib.sha256(raw.encode()).hexdigest()


def allowed_by_policy(user: Any, tool: Tool, tenant: Tenant) -> bool:
    from hardened_rbac import policies

    try:
        return policies.authorize(user, tool.action, tenant).allowed
    except PolicyMissing:
        return False


def _load_objects(tool: Tool, user: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    from hardened_rbac import policies

    objects: dict[str, Any] = {}
    for name, field in tool.schema.fields.items():
        value = arguments.get(name)
        if not isinstance(field, ObjectRef) or value is None:
            continue
        try:
            queryset = policies.allowed(user, field.action, field.model)
            obj = queryset.filter(pk=value).first()
        except PolicyMissing:
            obj = None
        except (ValueError, TypeError):
            obj = None
        if obj is None:
            raise AgentToolObjectNotFound(
                f"Argument {name!r} names no object this user may {field.action}."
            )
        objects[name] = obj
    return objects


def _spend_approval(
    approval_id: object, tool: Tool, user: Any, tenant: Tenant, digest: str
) -> int:
    if isinstance(approval_id, bool) or not isinstance(approval_id, int):
        raise AgentToolApprovalInvalid("The approval id must be a whole number.")
    spent = AgentToolApproval.objects.filter(
        pk=approval_id,
        tenant=tenant,
        requested_by_id=user.pk,
        tool=tool.name,
        arguments_sha256=digest,
        status=AgentToolApproval.Status.APPROVED,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(used_at=timezone.now())
    if spent != 1:
        raise AgentToolApprovalInvalid(
            "No unused, unexpired approval matches this call."
        )
    return approval_id


def _request_approval(
    tool: Tool, user: Any, tenant: Tenant, arguments: dict[str, Any], digest: str
) -> AgentToolApproval:
    return AgentToolApproval.objects.create(
        tenant=tenant,
        requested_by=user,
        tool=tool.name,
        side_effect=tool.side_effect.value,
        arguments=arguments,
        arguments_sha256=digest,
        expires_at=timezone.now() + timedelta(seconds=app_settings.AGENT_APPROVAL_TTL),
    )


def call(user: Any, name: object, arguments: Any, *, approval: object = None) -> Any:
    """Run tool ``name`` for ``user`` in the current tenant, or refuse."""
    shown = _shown(name)
    tool = lookup(name)
    if tool is None:
        raise _refuse(UnknownAgentTool(f"No agent tool {shown!r}."), shown, user)
    tenant = current_tenant()
    if tenant is None or _user_id(user) is None or not user.is_active:
        raise _refuse(
            AgentToolNotAllowed("Agent tools run for a signed-in user in a tenant."),
            shown,
            user,
        )
    if in_tool_call():
        raise _refuse(
            AgentToolNotAllowed("A tool may not call another tool."), shown, user
        )
    if not allowed_by_policy(user, tool, tenant):
        raise _refuse(
            AgentToolNotAllowed(f"This user may not use {shown!r} here."), shown, user
        )

    try:
        agent_limits.consume(tool, user.pk, tenant.pk)
        cleaned = tool.schema.validate(arguments, app_settings.AGENT_MAX_ARGUMENT_BYTES)
        objects = _load_objects(tool, user, cleaned)
    except AgentToolRefused as exc:
        raise _refuse(exc, shown, user) from None

    digest = arguments_digest(tool, cleaned)
    approval_id: int | None = None
    if tool.requires_approval:
        if approval is None:
            pending = _request_approval(tool, user, tenant, cleaned, digest)
            audit.emit(
                "authz_approval_requested",
                outcome="success",
                actor=user.pk,
                target=f"agent_tool:{shown}",
                approval=pending.pk,
                side_effect=tool.side_effect.value,
            )
            raise AgentToolApprovalRequired(
                f"{shown!r} needs a person's approval first.", pending.pk
            )
        try:
            approval_id = _spend_approval(approval, tool, user, tenant, digest)
        except AgentToolRefused as exc:
            raise _refuse(exc, shown, user, approval=_shown(str(approval))) from None

    context = ToolContext(tool, user, tenant, cleaned, objects)
    try:
        with guarded(tool):
            result = tool.handler(context, **cleaned)
    except AgentToolRefused as exc:
        raise _refuse(exc, shown, user, approval=approval_id) from None
    except Exception:
        audit.emit(
            "agent_tool_call",
            outcome="failure",
            actor=user.pk,
            target=f"agent_tool:{shown}",
            side_effect=tool.side_effect.value,
            approval=approval_id,
            arguments_sha256=digest,
        )
        raise
    audit.emit(
        "agent_tool_call",
        outcome="success",
        actor=user.pk,
        target=f"agent_tool:{shown}",
        side_effect=tool.side_effect.value,
        approval=approval_id,
        arguments_sha256=digest,
    )
    return result


def _approver_refusal(
    approval: AgentToolApproval, approver: Any, tenant: Tenant, approve: bool
) -> str | None:
    """Why ``approver`` may not decide ``approval``, or ``None`` if they may.

    Deciding takes ``APPROVE_PERMISSION`` in the tenant; the requester may
    still reject, that is withdraw, a call of their own. A money or delete
    call is never approved by the user who asked for it.
    """
    own = approval.requested_by_id == approver.pk
    if approve and own and approval.side_effect in SECOND_PERSON:
        return "self_approval"
    if APPROVE_PERMISSION in permissions_in(approver, tenant):
        return None
    if own and not approve:
        return None
    return "no_permission"


def decide_approval(approval_id: object, approver: Any, *, approve: bool) -> None:
    """Record a person's decision on a pending approval in the current tenant.

    The approver must be a signed-in, active member of the tenant holding
    ``APPROVE_PERMISSION`` there, and not the requester of a money or
    delete call. The decision cannot be made from inside a tool call, so an
    agent cannot approve its own request.
    """
    tenant = current_tenant()
    target = f"agent_approval:{_shown(str(approval_id))}"
    event = "authz_approval_granted" if approve else "authz_approval_rejected"

    def refuse(refusal: str, message: str) -> AgentToolApprovalInvalid:
        audit.emit(
            event,
            outcome="denied",
            actor=_user_id(approver),
            target=target,
            refusal=refusal,
        )
        logger.warning("agent tool approval %s refused: %s", target, refusal)
        return AgentToolApprovalInvalid(message)

    if (
        tenant is None
        or _user_id(approver) is None
        or not approver.is_active
        or in_tool_call()
        or not Membership.objects.active()
        .filter(user_id=approver.pk, tenant_id=tenant.pk)
        .exists()
    ):
        raise refuse("not_member", "Only a member of this tenant may decide.")
    if isinstance(approval_id, bool) or not isinstance(approval_id, int):
        raise refuse("malformed_id", "The approval id must be a whole number.")

    waiting = AgentToolApproval.objects.filter(
        pk=approval_id,
        tenant=tenant,
        status=AgentToolApproval.Status.PENDING,
        expires_at__gt=timezone.now(),
    )
    pending = waiting.first()
    if pending is None:
        raise refuse("not_pending", "No pending approval with this id here.")
    refusal = _approver_refusal(pending, approver, tenant, approve)
    if refusal == "self_approval":
        raise refuse(refusal, "A money or delete call needs another person's approval.")
    if refusal is not None:
        raise refuse(refusal, "This user may not decide agent tool calls here.")

    with transaction.atomic():
        decided = waiting.update(
            status=(
                AgentToolApproval.Status.APPROVED
                if approve
                else AgentToolApproval.Status.REJECTED
            ),
            decided_by=approver,
            decided_at=timezone.now(),
        )
    if decided != 1:
        raise refuse("not_pending", "No pending approval with this id here.")
    audit.emit(event, outcome="success", actor=approver.pk, target=target)
