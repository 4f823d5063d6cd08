"""Concurrent calls cannot spend one approval twice or overrun a rate."""

import threading
import uuid

import pytest
from django.db import connection

from hardened_rbac import agents
from hardened_rbac.exceptions import AgentToolApprovalRequired, AgentToolRefused
from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory
from tests.hardened_rbac.helpers import grant_permissions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _race(user, tenant, name, arguments, **options):
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            with use_tenant(tenant):
                agents.call(user, name, arguments, **options)
            outcome = "ran"
        except AgentToolRefused as exc:
            outcome = exc.reason
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.fixture
def tool():
    name = f"race_{uuid.uuid4().hex[:8]}"

    def register(**options):
        agents.register_tool(
            name,
            lambda ctx, **kw: "ran",
            description="race",
            arguments={"amount": agents.Integer(minimum=1)},
            rules=[agents.TenantMember()],
            **options,
        )
        return name

    yield register
    agents.unregister_tool(name)


def test_one_approval_is_spent_once_under_concurrent_calls(tool):
    name = tool(side_effect=agents.MONEY, user_rate="100/m", tenant_rate="100/m")
    tenant = TenantFactory()
    user = MembershipFactory(tenant=tenant).user
    approver = MembershipFactory(tenant=tenant).user
    grant_permissions(approver, tenant, "approve_agenttoolapproval")
    with use_tenant(tenant):
        with pytest.raises(AgentToolApprovalRequired) as waiting:
            agents.call(user, name, {"amount": 5})
        agents.approve(waiting.value.approval_id, approver)
    outcomes = _race(
        user, tenant, name, {"amount": 5}, approval=waiting.value.approval_id
    )
    assert outcomes == ["approval_invalid"] * (WORKERS - 1) + ["ran"]


@pytest.mark.redis
def test_concurrent_calls_do_not_overrun_the_user_rate(tool):
    name = tool(side_effect=agents.READ, user_rate="3/h", tenant_rate="100/h")
    tenant = TenantFactory()
    user = MembershipFactory(tenant=tenant).user
    outcomes = _race(user, tenant, name, {"amount": 1})
    assert outcomes == ["ran"] * 3 + ["rate_limited"] * (WORKERS - 3)
