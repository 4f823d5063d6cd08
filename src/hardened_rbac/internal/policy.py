"""The policy registry and the engine that decides and filters.

A policy names one action on one model and the rules of which any one
allows. Nothing else allows: an undeclared pair raises ``PolicyMissing``,
and an object of another tenant, or any object with no current tenant, is
denied before a rule is asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q

from hardened_rbac.exceptions import PolicyConflict, PolicyMissing
from hardened_rbac.internal import audit
from hardened_rbac.internal.context import current_tenant, require_tenant
from hardened_rbac.internal.rules import NOTHING, Rule, Subject, Verdict
from hardened_rbac.internal.scoping import is_scoped

logger = logging.getLogger(__name__)

_registry: dict[tuple[str, str], Policy] = {}


@dataclass(frozen=True)
class Decision:
    """The answer and the rules that led to it, for the admin and tests."""

    allowed: bool
    action: str
    model: str
    verdicts: tuple[Verdict, ...]
    reason: str

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def rule(self) -> str | None:
        """The rule that allowed, or ``None`` when denied."""
        for verdict in self.verdicts:
            if verdict.allowed:
                return verdict.rule
        return None

    def explain(self) -> str:
        head = "allowed" if self.allowed else "denied"
        lines = [f"{head}: {self.action} {self.model}: {self.reason}"]
        lines += [
            f"  {'+' if v.allowed else '-'} {v.rule}: {v.reason}" for v in self.verdicts
        ]
        return "\n".join(lines)


class Policy:
    """Who may perform ``action`` on ``model``: any one of ``rules``."""

    def __init__(
        self, action: str, model: type[models.Model] | str, rules: Sequence[Rule]
    ) -> None:
        self.action = action
        self._model = model
        self.rules = tuple(rules)

    @property
    def model(self) -> type[models.Model]:
        from django.apps import apps

        model = self._model
        return apps.get_model(model) if isinstance(model, str) else model

    @property
    def key(self) -> tuple[str, str]:
        return self.action, self.model._meta.label_lower

    def __repr__(self) -> str:
        return f"Policy({self.action!r}, {self.model._meta.label})"


def register(policy: Policy) -> Policy:
    existing = _registry.get(policy.key)
    if existing is not None and existing is not policy:
        raise PolicyConflict(f"{policy!r} is declared twice.")
    _registry[policy.key] = policy
    return policy


def unregister(policy: Policy) -> None:
    _registry.pop(policy.key, None)


def registered() -> list[Policy]:
    return list(_registry.values())


def get_policy(action: str, model: type[models.Model]) -> Policy:
    policy = _registry.get((action, model._meta.label_lower))
    if policy is None:
        raise PolicyMissing(f"No policy for {action} on {model._meta.label}.")
    return policy


def _has_tenant(model: type[models.Model]) -> bool:
    return any(f.name == "tenant" and f.is_relation for f in model._meta.fields)


def decide(user: Any, action: str, obj: models.Model) -> Decision:
    model = type(obj)
    policy = get_policy(action, model)
    label = model._meta.label
    tenant = current_tenant()
    if tenant is None:
        return Decision(False, action, label, (), "there is no current tenant")
    if _has_tenant(model) and getattr(obj, "tenant_id", None) != tenant.pk:
        audit.emit(
            "authz_fail",
            outcome="denied",
            target=f"{label}:{obj.pk}",
            action="cross_tenant_object",
            policy=action,
        )
        return Decision(False, action, label, (), "the object is in another tenant")

    subject = Subject(user, tenant)
    verdicts: list[Verdict] = []
    for rule in policy.rules:
        verdict = rule.check(subject, obj)
        verdicts.append(verdict)
        if verdict.allowed:
            return Decision(True, action, label, tuple(verdicts), verdict.reason)
    return Decision(False, action, label, tuple(verdicts), "no rule allowed")


def filter_allowed(
    user: Any, action: str, queryset: models.QuerySet[Any]
) -> models.QuerySet[Any]:
    model = queryset.model
    policy = get_policy(action, model)
    tenant = require_tenant()
    if _has_tenant(model) and not is_scoped(model):
        queryset = queryset.filter(tenant_id=tenant.pk)
    subject = Subject(user, tenant)
    combined = NOTHING
    for rule in policy.rules:
        combined |= rule.q(subject, model)
    return queryset.filter(combined)


def explain_q(user: Any, action: str, model: type[models.Model]) -> Q:
    """The filter the policy applies, for debugging and tests."""
    tenant = current_tenant()
    if tenant is None:
        return NOTHING
    subject = Subject(user, tenant)
    combined = NOTHING
    for rule in get_policy(action, model).rules:
        combined |= rule.q(subject, model)
    return combined
