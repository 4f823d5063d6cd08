"""Signal receivers that replace decision-cache versions when access changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from hardened_rbac.internal.decisions import SITE, bump, tenant_key, user_key
from hardened_rbac.models import Grant, Membership, Role


def _is_guardian_table(model: type[Any]) -> bool:
    try:
        from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
    except ImportError:  # pragma: no cover - guardian is a dependency
        return False
    return issubclass(model, UserObjectPermissionBase | GroupObjectPermissionBase)


def row_changed(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    from hardened_rbac.internal.scoping import is_scoped

    if sender is Membership:
        bump(user_key(instance.user_id), tenant_key(instance.tenant_id))
    elif sender is Grant:
        membership = Membership.objects.filter(pk=instance.membership_id).first()
        if membership is not None:
            bump(user_key(membership.user_id), tenant_key(membership.tenant_id))
        else:
            bump(SITE)
    elif sender is Role:
        bump(SITE if instance.tenant_id is None else tenant_key(instance.tenant_id))
    elif sender is get_user_model():
        bump(user_key(instance.pk))
    elif _is_guardian_table(sender):
        bump(SITE)
    elif is_scoped(sender) and instance.tenant_id is not None:
        bump(tenant_key(instance.tenant_id))


def links_changed(sender: type[Any], instance: Any, action: str, **kwargs: Any) -> None:
    from hardened_rbac.internal.scoping import is_scoped

    if not action.startswith("post_"):
        return
    if isinstance(instance, Role):
        bump(SITE if instance.tenant_id is None else tenant_key(instance.tenant_id))
    elif isinstance(instance, get_user_model()):
        bump(user_key(instance.pk))
    elif is_scoped(type(instance)):
        bump(tenant_key(instance.tenant_id))
    else:
        bump(SITE)


def connect() -> None:
    post_save.connect(row_changed, dispatch_uid="hardened_rbac_decisions_save")
    post_delete.connect(row_changed, dispatch_uid="hardened_rbac_decisions_delete")
    m2m_changed.connect(links_changed, dispatch_uid="hardened_rbac_decisions_m2m")
