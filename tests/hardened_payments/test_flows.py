import json
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_payments import ledger
from hardened_payments.exceptions import (
    InsufficientFunds,
    RefundExceedsCaptured,
    TransferConflict,
)
from hardened_payments.internal import flows
from hardened_payments.models import (
    IdempotencyKey,
    LedgerEntry,
    LedgerTransfer,
    Payment,
    Refund,
)
from hardened_payments.money import Money
from hardened_payments.providers import ProviderPayment, ProviderRefund
from hardened_rbac.models import Grant, Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_payments.test_idempotency import forwarded_key


@dataclass
class RecordingProvider:
    """Stands in for Stripe's API (out of reach) inside one process."""

    name: str = "recording"
    refunds: list[tuple[str, int, str]] = field(default_factory=list)

    def create_refund(self, *, payment_id, amount, idempotency_key):
        self.refunds.append((payment_id, amount.amount, idempotency_key))
        return ProviderRefund(
            id=f"re_{len(self.refunds)}_{payment_id}", status="succeeded", amount=amount
        )

    def create_payment(self, **kwargs):
        raise AssertionError("refund tests never create payments")

    def create_payout(self, **kwargs):
        raise AssertionError("refund tests never create payouts")

    def create_transfer(self, **kwargs):
        raise AssertionError("refund tests never fund connected accounts")

    def reverse_transfer(self, transfer_id, **kwargs):
        raise AssertionError("refund tests never reverse transfers")

    def retrieve_payout(self, payout_id, destination, *, timeout=None):
        raise AssertionError("refund tests never fetch payouts")

    def create_checkout_session(self, **kwargs):
        raise AssertionError("refund tests never open checkout sessions")

    def balance_transactions(self, *, created_from, created_to, page_size):
        raise AssertionError("refund tests never reconcile")

    def payouts(self, *, destination, created_from, created_to, page_size):
        raise AssertionError("refund tests never list payouts")


def captured_payment(tenant, user, amount=1000, provider_id="pi_1"):
    return flows.record_payment(
        tenant,
        user,
        ProviderPayment(
            id=provider_id, status="succeeded", amount=Money(amount, "USD")
        ),
        idempotency_key=f"key-{provider_id}",
    )


@pytest.fixture
def member(tenant):
    return MembershipFactory(tenant=tenant)


def grant_refunds(membership, role_tenant=None, **grant):
    """Grant ``membership`` a role holding ``hardened_payments.add_refund``."""
    from django.contrib.auth.models import Permission

    role = Role.objects.create(
        tenant=role_tenant or membership.tenant, name=f"refunds {membership.pk}"
    )
    role.permissions.add(
        Permission.objects.get(
            content_type__app_label="hardened_payments", codename="add_refund"
        )
    )
    Grant.objects.create(membership=membership, role=role, **grant)


@pytest.fixture
def refunder(member):
    """A member whose role in the tenant allows refunds."""
    grant_refunds(member)
    return member


def test_a_captured_payment_reaches_the_tenants_funds(tenant, member):
    payment = captured_payment(tenant, member.user)
    _, funds = flows.accounts_for(tenant, "USD")
    assert ledger.balance(funds) == Money(1000, "USD")
    assert LedgerTransfer.objects.get().transfer_id == f"payment:{payment.provider_id}"


def test_partial_and_full_refunds_up_to_the_captured_amount(tenant, member):
    provider = RecordingProvider()
    payment = captured_payment(tenant, member.user)

    flows.refund(provider, payment, Money(300, "USD"), "r1", actor=None)
    flows.refund(provider, payment, Money(700, "USD"), "r2", actor=None)

    payment.refresh_from_db()
    assert payment.amount_refunded == 1000
    _, funds = flows.accounts_for(tenant, "USD")
    assert ledger.balance(funds) == Money(0, "USD")
    with pytest.raises(RefundExceedsCaptured):
        flows.refund(provider, payment, Money(1, "USD"), "r3", actor=None)
    assert len(provider.refunds) == 2
    assert [r[2] for r in provider.refunds] == ["r1", "r2"]


@pytest.mark.parametrize(
    "amount", [Money(1001, "USD"), Money(0, "USD"), Money(-5, "USD"), Money(5, "EUR")]
)
def test_bad_refunds_are_refused_before_the_provider_is_called(tenant, member, amount):
    provider = RecordingProvider()
    payment = captured_payment(tenant, member.user)
    with pytest.raises(RefundExceedsCaptured):
        flows.refund(provider, payment, amount, "r1", actor=None)
    assert provider.refunds == []
    assert Refund.objects.count() == 0
    assert LedgerTransfer.objects.count() == 1


def test_a_refund_the_funds_cannot_cover_is_refused(tenant, member):
    provider = RecordingProvider()
    payment = captured_payment(tenant, member.user)
    _, funds = flows.accounts_for(tenant, "USD")
    payout = ledger.open_account(tenant, "paid-out", "USD")
    ledger.post_transfer(
        tenant,
        "payout",
        [ledger.Leg(funds, Money(-900, "USD")), ledger.Leg(payout, Money(900, "USD"))],
    )
    with pytest.raises(InsufficientFunds):
        flows.refund(provider, payment, Money(200, "USD"), "r1", actor=None)
    assert provider.refunds == []
    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_a_payment_awaiting_3ds_cannot_be_refunded(tenant, member):
    payment = flows.record_payment(
        tenant,
        member.user,
        ProviderPayment(id="pi_3ds", status="requires_action", amount=Money(5, "USD")),
        idempotency_key="k",
    )
    with pytest.raises(RefundExceedsCaptured):
        flows.refund(RecordingProvider(), payment, Money(1, "USD"), "r", actor=None)
    assert LedgerTransfer.objects.count() == 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    captured=st.integers(1, 10_000),
    attempts=st.lists(st.integers(1, 6_000), min_size=1, max_size=8),
)
def test_cumulative_refunds_never_exceed_the_capture(db, captured, attempts):
    """Refund attempts of any sizes: accepted exactly while they still fit."""
    tenant = TenantFactory()
    provider = RecordingProvider()
    user = get_user_model().objects.create(username=f"buyer-{tenant.pk}")
    payment = captured_payment(tenant, user, captured, f"pi_{tenant.pk}")
    refunded = 0
    for n, amount in enumerate(attempts):
        fits = refunded + amount <= captured
        if fits:
            flows.refund(provider, payment, Money(amount, "USD"), f"r{n}", actor=None)
            refunded += amount
        else:
            with pytest.raises(RefundExceedsCaptured):
                flows.refund(
                    provider, payment, Money(amount, "USD"), f"r{n}", actor=None
                )

    payment.refresh_from_db()
    assert payment.amount_refunded == refunded <= captured
    assert sum(r.amount for r in payment.refunds.all()) == refunded
    _, funds = flows.accounts_for(tenant, "USD")
    assert ledger.balance(funds) == Money(captured - refunded, "USD")


def test_refund_endpoint_forwards_its_key_to_stripe(
    client, tenant, refunder, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    client.force_login(refunder.user)
    payment = captured_payment(tenant, refunder.user)
    url = reverse("hardened_payments:refund", args=[tenant.slug, payment.pk])

    def post(amount, key):
        return client.post(
            url,
            data=json.dumps({"amount": amount}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )

    assert post(400, "refund-a").status_code == 201
    assert post(400, "refund-a").status_code == 201
    keys_before = list(IdempotencyKey.objects.order_by("pk").values())
    too_much = post(601, "refund-b")
    assert too_much.status_code == 422
    assert too_much.json()["error"] == "refund_exceeds_captured"
    assert list(IdempotencyKey.objects.order_by("pk").values()) == keys_before
    assert Refund.objects.count() == 1
    assert post(600, "refund-b").status_code == 201

    calls = stripe_standin.created("/v1/refunds")
    assert [c["idempotency_key"] for c in calls] == [
        forwarded_key(refunder.user, "refund-a", url, {"amount": 400}),
        forwarded_key(refunder.user, "refund-b", url, {"amount": 600}),
    ]
    assert [c["form"]["amount"] for c in calls] == ["400", "600"]
    assert [c["idempotency_key"] for c in calls] == list(
        Refund.objects.order_by("pk").values_list("idempotency_key", flat=True)
    )
    payment.refresh_from_db()
    assert payment.amount_refunded == 1000


def test_two_users_with_one_key_each_get_their_own_refund(
    client, tenant, refunder, stripe_standin
):
    """Uses the local Stripe stand-in server, which replays keys like Stripe."""
    from django.test import Client

    other = MembershipFactory(tenant=tenant)
    grant_refunds(other)
    payment = captured_payment(tenant, refunder.user)
    url = reverse("hardened_payments:refund", args=[tenant.slug, payment.pk])
    answers = []
    for user in (refunder.user, other.user):
        user_client = Client()
        user_client.force_login(user)
        answers.append(
            user_client.post(
                url,
                data=json.dumps({"amount": 300}),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="refund-1",
            )
        )

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["provider_id"] != answers[1].json()["provider_id"]
    assert (
        len({c["idempotency_key"] for c in stripe_standin.created("/v1/refunds")}) == 2
    )
    payment.refresh_from_db()
    assert payment.amount_refunded == 600
    assert LedgerTransfer.objects.filter(transfer_id__startswith="refund:").count() == 2


def test_a_key_that_already_refunded_returns_that_refund(tenant, member):
    provider = RecordingProvider()
    payment = captured_payment(tenant, member.user)
    first = flows.refund(provider, payment, Money(300, "USD"), "hp_k", actor=None)

    again = flows.refund(provider, payment, Money(300, "USD"), "hp_k", actor=None)
    with pytest.raises(TransferConflict):
        flows.refund(provider, payment, Money(200, "USD"), "hp_k", actor=None)

    assert again == first
    assert len(provider.refunds) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 300


def test_refund_endpoint_hides_other_tenants_payments(client, refunder, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    other = TenantFactory()
    payment = captured_payment(other, UserFactory())
    client.force_login(refunder.user)
    for slug in [refunder.tenant.slug, other.slug]:
        response = client.post(
            reverse("hardened_payments:refund", args=[slug, payment.pk]),
            data=json.dumps({"amount": 1}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert response.status_code == 404
    assert stripe_standin.requests == []


def refund_state(payment):
    """Everything a refund could change, to compare before and after."""
    payment.refresh_from_db()
    return (
        payment.amount_refunded,
        list(Refund.objects.values()),
        list(LedgerTransfer.objects.values()),
        list(LedgerEntry.objects.values()),
        list(IdempotencyKey.objects.values()),
    )


def post_refund(client, tenant, payment_id, amount=100, key="refund-1"):
    return client.post(
        reverse("hardened_payments:refund", args=[tenant.slug, payment_id]),
        data=json.dumps({"amount": amount}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_member_without_the_refund_permission_gets_the_missing_answer(
    client, tenant, member, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    from django.test import Client

    payment = captured_payment(tenant, member.user)
    client.force_login(member.user)
    _verify_second_factor(client, member.user)
    allowed = MembershipFactory(tenant=tenant)
    grant_refunds(allowed)
    allowed_client = Client()
    allowed_client.force_login(allowed.user)
    before = refund_state(payment)

    refused = post_refund(client, tenant, payment.pk)
    refused_missing = post_refund(client, tenant, payment.pk + 1000)
    missing = post_refund(allowed_client, tenant, payment.pk + 1000)

    assert refused.status_code == refused_missing.status_code == 404
    assert missing.status_code == 404
    assert refused.content == refused_missing.content == missing.content
    assert refund_state(payment) == before
    assert stripe_standin.requests == []
    denials = audit_log("authz_fail")
    assert [d["target"] for d in denials] == [
        f"payment:{payment.pk}",
        f"payment:{payment.pk + 1000}",
    ]
    assert denials[0] == {
        "event": "authz_fail",
        "actor": member.user.pk,
        "tenant": tenant.pk,
        "target": f"payment:{payment.pk}",
        "outcome": "denied",
        "ip": "127.0.0.1",
        "action": "refund",
        "permission": "hardened_payments.add_refund",
        "idempotency_key": forwarded_key(
            member.user,
            "refund-1",
            reverse("hardened_payments:refund", args=[tenant.slug, payment.pk]),
            {"amount": 100},
        ),
    }
    assert audit_log("refund_created") == []


def test_the_refund_permission_lets_the_same_request_through(
    client, tenant, member, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    payment = captured_payment(tenant, member.user)
    client.force_login(member.user)
    assert post_refund(client, tenant, payment.pk).status_code == 404

    grant_refunds(member)
    allowed = post_refund(client, tenant, payment.pk)

    assert allowed.status_code == 201
    assert allowed.json()["amount"] == 100
    assert len(stripe_standin.created("/v1/refunds")) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 100
    assert len(audit_log("authz_fail")) == 1
    assert len(audit_log("refund_created")) == 1


@pytest.mark.parametrize(
    "holder",
    ["role_of_another_tenant", "expired_grant", "site_permission", "superuser"],
)
def test_only_a_current_grant_in_the_tenant_allows_refunds(
    client, tenant, member, stripe_standin, holder
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    from datetime import timedelta

    from django.contrib.auth.models import Permission
    from django.utils import timezone

    user = member.user
    if holder == "role_of_another_tenant":
        grant_refunds(MembershipFactory(user=user))
    elif holder == "expired_grant":
        grant_refunds(member, expires_at=timezone.now() - timedelta(seconds=1))
    elif holder == "site_permission":
        user.user_permissions.add(
            Permission.objects.get(
                content_type__app_label="hardened_payments", codename="add_refund"
            )
        )
    else:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    payment = captured_payment(tenant, user)
    client.force_login(user)
    before = refund_state(payment)

    assert post_refund(client, tenant, payment.pk).status_code == 404
    assert refund_state(payment) == before
    assert stripe_standin.requests == []


def test_a_refunder_who_left_the_tenant_gets_404(client, tenant, refunder):
    payment = captured_payment(tenant, refunder.user)
    refunder.is_active = False
    refunder.save(update_fields=["is_active"])
    client.force_login(refunder.user)
    before = refund_state(payment)

    assert post_refund(client, tenant, payment.pk).status_code == 404
    assert refund_state(payment) == before


def test_a_3ds_payment_answers_202_with_the_client_secret(
    client, tenant, member, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    client.force_login(member.user)
    response = client.post(
        reverse("hardened_payments:charge", args=[tenant.slug]),
        data=json.dumps(
            {
                "amount": 5000,
                "currency": "EUR",
                "payment_method": "pm_card_threeDSecure2Required",
            }
        ),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="3ds",
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "requires_action"
    assert body["client_secret"].startswith(body["provider_id"])
    assert Payment.objects.get().status == Payment.Status.REQUIRES_ACTION
    assert LedgerTransfer.objects.count() == 0


def _verify_second_factor(client, user):
    from django.conf import settings as django_settings
    from django.test import RequestFactory

    from hardened_auth.stepup import mark_second_factor_verified

    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    mark_second_factor_verified(request)
    request.session.save()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = request.session.session_key


@pytest.mark.parametrize(
    ("currency", "amount", "needs_step_up"),
    [("USD", 10000, False), ("USD", 10001, True), ("JPY", 1, True)],
)
def test_large_refunds_need_a_recent_second_factor(
    client, tenant, refunder, stripe_standin, currency, amount, needs_step_up
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    client.force_login(refunder.user)
    payment = flows.record_payment(
        tenant,
        refunder.user,
        ProviderPayment(id="pi_big", status="succeeded", amount=Money(50000, currency)),
        idempotency_key="k",
    )
    url = reverse("hardened_payments:refund", args=[tenant.slug, payment.pk])

    def post():
        return client.post(
            url,
            data=json.dumps({"amount": amount}),
            content_type="application/json",
            HTTP_ACCEPT="application/json",
            HTTP_IDEMPOTENCY_KEY="big-refund",
        )

    first = post()
    if not needs_step_up:
        assert first.status_code == 201
        return
    assert first.status_code == 401
    assert first.json() == {"error": "step_up_required"}
    assert stripe_standin.requests == []
    assert Refund.objects.count() == 0

    _verify_second_factor(client, refunder.user)
    second = post()
    assert second.status_code == 201
    assert len(stripe_standin.created("/v1/refunds")) == 1


def test_a_transfer_conflict_answers_422_and_frees_the_key(
    client, tenant, refunder, stripe_standin, monkeypatch
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""

    def conflict(*args, **kwargs):
        raise TransferConflict("The key already made a refund of another amount.")

    monkeypatch.setattr(flows, "refund", conflict)
    client.force_login(refunder.user)
    payment = captured_payment(tenant, refunder.user)
    response = client.post(
        reverse("hardened_payments:refund", args=[tenant.slug, payment.pk]),
        data=json.dumps({"amount": 5}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert not IdempotencyKey.objects.exists()
    assert stripe_standin.requests == []


def test_refunds_and_refusals_are_audited(tenant, member, audit_log):
    provider = RecordingProvider()
    payment = captured_payment(tenant, member.user)
    refund = flows.refund(provider, payment, Money(400, "USD"), "hp_r1", actor=7)
    with pytest.raises(RefundExceedsCaptured):
        flows.refund(provider, payment, Money(601, "USD"), "hp_r2", actor=7)

    [created] = audit_log("refund_created")
    [refused] = audit_log("refund_refused")
    assert created == {
        "event": "refund_created",
        "actor": 7,
        "tenant": tenant.pk,
        "target": "pi_1",
        "outcome": "success",
        "ip": None,
        "amount": 400,
        "currency": "USD",
        "idempotency_key": "hp_r1",
        "provider_refund_id": refund.provider_id,
    }
    assert refused == {
        "event": "refund_refused",
        "actor": 7,
        "tenant": tenant.pk,
        "target": "pi_1",
        "outcome": "denied",
        "ip": None,
        "amount": 601,
        "currency": "USD",
        "idempotency_key": "hp_r2",
    }
