"""Tie views to declared policies; the middleware refuses the rest.

``@policy_required("view", Post, url_kwarg="pk")`` loads the object the URL
names through the policy's queryset: an object the user may not act on and
an object that does not exist both give the same 404. Without ``url_kwarg``
the view gets ``request.policy_queryset``, the objects the user may act on.
``@policy_exempt(reason=...)`` marks a view that needs no policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase

from hardened_rbac import policies
from hardened_rbac.internal import audit
from hardened_rbac.internal.policy import get_policy

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

POLICY_ATTR = "hardened_rbac_policy"
EXEMPT_ATTR = "hardened_rbac_policy_exempt"


def policy_required(
    action: str,
    model: type[models.Model],
    *,
    url_kwarg: str | None = None,
    lookup: str = "pk",
) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            get_policy(action, model)
            queryset = policies.allowed(request.user, action, model)
            if url_kwarg is None:
                request.policy_queryset = queryset  # type: ignore[attr-defined]
                return view(request, *args, **kwargs)
            value = str(kwargs.get(url_kwarg, ""))[:100]
            try:
                obj = queryset.filter(**{lookup: value}).first()
            except (ValueError, TypeError):
                obj = None
            if obj is None:
                audit.emit(
                    "authz_fail",
                    outcome="denied",
                    target=f"{model._meta.label}:{value}",
                    action="policy_refused",
                    policy=action,
                )
                raise Http404("Not found.")
            request.policy_object = obj  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        setattr(wrapper, POLICY_ATTR, (action, model._meta.label))
        return wrapper  # type: ignore[return-value]

    return decorate


def policy_exempt(reason: str) -> Callable[[View], View]:
    if not reason.strip():
        raise ValueError("policy_exempt() needs a reason.")

    def decorate(view: View) -> View:
        setattr(view, EXEMPT_ATTR, reason)
        return view

    return decorate
