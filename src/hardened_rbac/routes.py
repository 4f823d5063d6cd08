"""The route inventory, for threat modelling and for CI.

``python manage.py hardened_rbac_routes --format json`` lists every URL
pattern with its view, authentication requirement, policy, rate limit and
CSRF status, and exits non-zero while a route lacks a policy or an
authentication requirement and is not marked public. Mark a route public
with ``HARDENED_RBAC_PUBLIC_ROUTES`` (URL names, or paths starting with
``/``; shell-style wildcards) or with :func:`public_route` on the view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBase

from hardened_rbac.decorators import policy_exempt
from hardened_rbac.internal.route_inventory import Route, as_markdown, inventory

__all__ = ["Route", "as_markdown", "inventory", "public_route"]

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def public_route(reason: str) -> Callable[[View], View]:
    """Mark a view public: no sign-in and no policy, for the stated reason.

    It applies Django's ``login_not_required`` and ``policy_exempt(reason)``,
    so ``LoginRequiredMiddleware``, ``PolicyRequiredMiddleware`` and the
    inventory all read the same marks.
    """
    exempt = policy_exempt(reason)

    def decorate(view: View) -> View:
        return exempt(login_not_required(view))

    return decorate
