"""Audit every change to memberships, roles and grants."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from hardened_rbac.internal import audit
from hardened_rbac.models import Grant, Membership, Role


def membership_saved(
    sender: type[Membership], instance: Membership, created: bool, **kwargs: Any
) -> None:
    audit.emit(
        "authz_change",
        outcome="success",
        target=f"membership:{instance.pk}",
        tenant=instance.tenant_id,
        action="membership_created" if created else "membership_updated",
        user=str(instance.user_id),
        is_active=instance.is_active,
    )


def membership_deleted(
    sender: type[Membership], instance: Membership, **kwargs: Any
) -> None:
    audit.emit(
        "authz_change",
        outcome="success",
        target=f"membership:{instance.pk}",
        tenant=instance.tenant_id,
        action="membership_deleted",
        user=str(instance.user_id),
    )


def _grant_fields(grant: Grant) -> dict[str, Any]:
    membership = Membership.objects.filter(pk=grant.membership_id).first()
    return {
        "target": f"grant:{grant.pk}",
        "tenant": membership.tenant_id if membership else None,
        "user": str(membership.user_id) if membership else None,
        "role": str(grant.role_id),
        "source": grant.source,
    }


def grant_saved(
    sender: type[Grant], instance: Grant, created: bool, **kwargs: Any
) -> None:
    audit.emit(
        "authz_change",
        outcome="success",
        action="grant_created" if created else "grant_updated",
        **_grant_fields(instance),
    )


def grant_deleted(sender: type[Grant], instance: Grant, **kwargs: Any) -> None:
    audit.emit(
        "authz_change",
        outcome="success",
        action="grant_deleted",
        **_grant_fields(instance),
    )


def role_saved(
    sender: type[Role], instance: Role, created: bool, **kwargs: Any
) -> None:
    audit.emit(
        "privilege_permissions_changed",
        outcome="success",
        target=f"role:{instance.pk}",
        tenant=instance.tenant_id,
        action="role_created" if created else "role_updated",
    )


def role_deleted(sender: type[Role], instance: Role, **kwargs: Any) -> None:
    audit.emit(
        "privilege_permissions_changed",
        outcome="success",
        target=f"role:{instance.pk}",
        tenant=instance.tenant_id,
        action="role_deleted",
    )


def role_permissions_changed(
    sender: type[Any],
    instance: Any,
    action: str,
    reverse: bool,
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    roles = (
        [instance] if not reverse else list(Role.objects.filter(pk__in=pk_set or ()))
    )
    permissions = (
        sorted(str(pk) for pk in pk_set or ()) if not reverse else [str(instance.pk)]
    )
    for role in roles:
        audit.emit(
            "privilege_permissions_changed",
            outcome="success",
            target=f"role:{role.pk}",
            tenant=role.tenant_id,
            action=f"role_permissions_{action.removeprefix('post_')}",
            permissions=permissions,
        )


def connect() -> None:
    post_save.connect(membership_saved, sender=Membership)
    post_delete.connect(membership_deleted, sender=Membership)
    post_save.connect(grant_saved, sender=Grant)
    post_delete.connect(grant_deleted, sender=Grant)
    post_save.connect(role_saved, sender=Role)
    post_delete.connect(role_deleted, sender=Role)
    m2m_changed.connect(role_permissions_changed, sender=Role.permissions.through)
