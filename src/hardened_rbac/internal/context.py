"""Context variables for the current tenant, actor and escape hatch.

Context variables follow each request, thread and asyncio task separately,
so one request's tenant can never leak into another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hardened_rbac.exceptions import TenantNotSet

if TYPE_CHECKING:
    from hardened_rbac.models import Tenant


@dataclass(frozen=True)
class Actor:
    """Who is acting, for audit events: a user id and a client address."""

    user_id: str | None = None
    ip: str | None = None


_tenant: ContextVar[Tenant | None] = ContextVar("hardened_rbac_tenant", default=None)
_actor: ContextVar[Actor | None] = ContextVar("hardened_rbac_actor", default=None)
_unscoped: ContextVar[str | None] = ContextVar("hardened_rbac_unscoped", default=None)
_any_tenant_rows: ContextVar[bool] = ContextVar(
    "hardened_rbac_any_tenant_rows", default=False
)


def current_tenant() -> Tenant | None:
    return _tenant.get()


def require_tenant() -> Tenant:
    tenant = _tenant.get()
    if tenant is None:
        raise TenantNotSet(
            "No current tenant: set one with use_tenant() or the tenant middleware."
        )
    return tenant


def current_actor() -> Actor:
    return _actor.get() or Actor()


def unscoped_reason() -> str | None:
    return _unscoped.get()


def loading_any_tenant() -> bool:
    return _any_tenant_rows.get()


@contextmanager
def tenant_context(tenant: Tenant | None) -> Iterator[Tenant | None]:
    token = _tenant.set(tenant)
    try:
        yield tenant
    finally:
        _tenant.reset(token)


@contextmanager
def actor_context(actor: Actor) -> Iterator[Actor]:
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


@contextmanager
def unscoped_context(reason: str) -> Iterator[None]:
    token = _unscoped.set(reason)
    try:
        yield
    finally:
        _unscoped.reset(token)


@contextmanager
def any_tenant_rows() -> Iterator[None]:
    """Let rows of every tenant load; for Django's saving and cascading."""
    token = _any_tenant_rows.set(True)
    try:
        yield
    finally:
        _any_tenant_rows.reset(token)
