"""Signed, short-lived, single-use links for one action on one object.

    from hardened_rbac.action_links import action_link, action_link_required

    url = action_link(recipient, "accept_friend_request", friend_request,
                      reverse("accept-friend-request"))

    @action_link_required("accept_friend_request", FriendRequest)
    def accept(request):
        friend_request = request.action_object
        ...

The link works once, for that user, in that tenant, on that path, within
``HARDENED_RBAC_ACTION_LINK_MAX_AGE`` seconds. Anything else is refused with
a 403 that says nothing about why, and the refusal is audited.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.db import models
from django.http import HttpRequest, HttpResponseBase

from hardened_rbac.internal.action_links import consume_token, make_token

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

TOKEN_PARAMETER = "token"

__all__ = ["action_link", "action_link_required", "make_token"]


def action_link(user: Any, action: str, obj: models.Model, path: str) -> str:
    """The path with a token that lets ``user`` perform ``action`` on ``obj``."""
    token = make_token(user, action, obj, path)
    return f"{path}?{urlencode({TOKEN_PARAMETER: token})}"


def action_link_required(
    action: str, model: type[models.Model]
) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            token = request.POST.get(TOKEN_PARAMETER) or request.GET.get(
                TOKEN_PARAMETER, ""
            )
            obj = consume_token(request, token, action, model)
            request.action_object = obj  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapper.hardened_rbac_policy = (  # type: ignore[attr-defined]
            f"link:{action}",
            model._meta.label,
        )
        return wrapper  # type: ignore[return-value]

    return decorate
