"""Shared helpers for hardened_rbac tests."""

import logging

import pytest


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [
        r.hardened_audit
        for r in caplog.records
        if r.name == "hardened_rbac.audit" and hasattr(r, "hardened_audit")
    ]


def capture_audit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hardened_rbac.audit")


def grant_permissions(user, tenant, *codenames: str) -> None:
    """Give ``user`` a role in ``tenant`` holding the named permissions."""
    from django.contrib.auth.models import Permission

    from hardened_rbac.internal.grants import forget
    from hardened_rbac.models import Grant, Membership, Role

    membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant)
    role, _ = Role.objects.get_or_create(
        tenant=tenant, name=f"holds {' '.join(codenames)}"
    )
    role.permissions.add(*Permission.objects.filter(codename__in=codenames))
    Grant.objects.create(membership=membership, role=role)
    forget(user)
