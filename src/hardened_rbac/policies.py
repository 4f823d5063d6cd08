"""Deny-by-default policies: who may do what to which objects.

Declare one policy per action and model; any one rule allows::

    from hardened_rbac import policies as p

    p.declare("view", Post, [p.IsCreator("author"), p.FeedVisibility(Follow)])
    p.declare("delete", Post, [p.IsCreator("author"),
                               p.HasPermission("blog.delete_post")])

Then ``p.authorize(user, "view", post)`` gives an explainable ``Decision``
and ``p.allowed(user, "view", Post.objects.all())`` the matching queryset,
from the same declaration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models

from hardened_rbac.internal.decisions import cached_is_allowed
from hardened_rbac.internal.policy import (
    Decision,
    Policy,
    decide,
    filter_allowed,
    get_policy,
    register,
    registered,
    unregister,
)
from hardened_rbac.internal.rules import (
    AllOf,
    FeedVisibility,
    GroupMember,
    HasPermission,
    IsCreator,
    ObjectPermission,
    Participant,
    Rule,
    Verdict,
)

__all__ = [
    "AllOf",
    "Decision",
    "FeedVisibility",
    "GroupMember",
    "HasPermission",
    "IsCreator",
    "ObjectPermission",
    "Participant",
    "Policy",
    "Rule",
    "Verdict",
    "allowed",
    "authorize",
    "declare",
    "get_policy",
    "is_allowed",
    "registered",
    "unregister",
]


def declare(
    action: str, model: type[models.Model] | str, rules: Sequence[Rule]
) -> Policy:
    """Declare who may perform ``action`` on ``model``."""
    return register(Policy(action, model, rules))


def authorize(user: Any, action: str, obj: models.Model) -> Decision:
    """Decide one object; raises ``PolicyMissing`` for an undeclared pair."""
    return decide(user, action, obj)


def is_allowed(user: Any, action: str, obj: models.Model) -> bool:
    """Like ``authorize(...).allowed``, answered from the decision cache."""
    get_policy(action, type(obj))
    return cached_is_allowed(user, action, obj)


def allowed(
    user: Any, action: str, queryset: models.QuerySet[Any] | type[models.Model]
) -> models.QuerySet[Any]:
    """The objects of ``queryset`` the user may act on, in one query."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    return filter_allowed(user, action, queryset)
