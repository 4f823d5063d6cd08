"""Operators see pending agent tool calls and decide them in the admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hardened_rbac.models import AgentToolApproval
from tests.factories import (
    MembershipFactory,
    TenantFactory,
    UserFactory,
    force_login_verified,
)
from tests.hardened_rbac.helpers import grant_permissions

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/hardened_rbac/agenttoolapproval/"


def _pending(tenant, user):
    return AgentToolApproval.objects.create(
        tenant=tenant,
        requested_by=user,
        tool="payout",
        side_effect="money",
        arguments={"amount": 500},
        arguments_sha256="0" * 64,
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_list_and_detail_open_but_nothing_can_be_edited(client):
    tenant = TenantFactory()
    approval = _pending(tenant, MembershipFactory(tenant=tenant).user)
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    assert client.get(CHANGELIST).status_code == 200
    detail = client.get(f"{CHANGELIST}{approval.pk}/change/")
    assert detail.status_code == 200
    assert b'name="status"' not in detail.content
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_only_an_approver_of_the_tenant_decides_from_the_admin(client):
    tenant = TenantFactory()
    approval = _pending(tenant, MembershipFactory(tenant=tenant).user)
    outsider = UserFactory(is_staff=True, is_superuser=True)
    force_login_verified(client, outsider)
    action = {"action": "approve_selected", "_selected_action": [approval.pk]}
    client.post(CHANGELIST, action)
    approval.refresh_from_db()
    assert approval.status == "pending"

    MembershipFactory(tenant=tenant, user=outsider)
    client.post(CHANGELIST, action)
    approval.refresh_from_db()
    assert approval.status == "pending"

    grant_permissions(outsider, tenant, "approve_agenttoolapproval")
    client.post(CHANGELIST, action)
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by_id) == ("approved", outsider.pk)
