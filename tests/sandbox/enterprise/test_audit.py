"""Every admin addition, change and deletion lands in the audit chain.

The requests go through the sandbox's real admin site; "delete selected"
writes its log entries in one ``bulk_create``, which sends no signal.
"""

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from enterprise.admin_site import AuditedAdminSite
from enterprise.audit import AuditedDeletions

from hardened_privacy.internal.audit import verify_chain
from hardened_privacy.models import AuditRecord
from tests.factories import force_login_verified

pytestmark = pytest.mark.django_db

GROUPS = "/admin/auth/group/"


@pytest.fixture
def staff() -> tuple[Client, Any]:
    user = get_user_model().objects.create_superuser(
        "root", "root@example.com", "a-long-password-0123"
    )
    client = Client()
    force_login_verified(client, user)
    return client, user


def _admin_records() -> list[tuple[str, str, str]]:
    return list(
        AuditRecord.objects.filter(logger="enterprise.audit")
        .order_by("sequence")
        .values_list("event", "actor", "target")
    )


def _assert_chain_intact() -> None:
    count, problem = verify_chain("global")
    assert problem is None
    assert count == AuditRecord.objects.filter(chain="global").count()


def test_the_sandbox_admin_site_audits_deletions() -> None:
    assert isinstance(admin.site, AuditedAdminSite)
    assert all(isinstance(m, AuditedDeletions) for m in admin.site._registry.values())


def test_adding_and_changing_in_the_admin_are_audited(
    staff: tuple[Client, Any],
) -> None:
    client, user = staff

    added = client.post(f"{GROUPS}add/", {"name": "Auditors"})
    group = Group.objects.get(name="Auditors")
    changed = client.post(f"{GROUPS}{group.pk}/change/", {"name": "Reviewers"})

    assert (added.status_code, changed.status_code) == (302, 302)
    assert _admin_records() == [
        ("admin_object_created", str(user.pk), f"auth.group:{group.pk}"),
        ("admin_object_changed", str(user.pk), f"auth.group:{group.pk}"),
    ]
    _assert_chain_intact()


def test_deleting_one_object_is_audited_once(staff: tuple[Client, Any]) -> None:
    client, user = staff
    group = Group.objects.create(name="Auditors")

    response = client.post(f"{GROUPS}{group.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()
    assert _admin_records() == [
        ("admin_object_deleted", str(user.pk), f"auth.group:{group.pk}"),
    ]
    _assert_chain_intact()


def test_delete_selected_audits_every_object(staff: tuple[Client, Any]) -> None:
    client, user = staff
    first = Group.objects.create(name="Auditors")
    second = Group.objects.create(name="Reviewers")
    kept = Group.objects.create(name="Owners")

    response = client.post(
        GROUPS,
        {
            "action": "delete_selected",
            "_selected_action": [first.pk, second.pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert list(Group.objects.values_list("pk", flat=True)) == [kept.pk]
    assert LogEntry.objects.count() == 2
    assert sorted(_admin_records()) == [
        ("admin_object_deleted", str(user.pk), f"auth.group:{first.pk}"),
        ("admin_object_deleted", str(user.pk), f"auth.group:{second.pk}"),
    ]
    _assert_chain_intact()
