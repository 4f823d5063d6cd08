import json
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hardened_payments.models import IdempotencyKey, LedgerTransfer, Payment
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def member(tenant):
    return MembershipFactory(tenant=tenant)


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


def charge(client, tenant, key="key-1", body=None, **extra):
    payload = (
        body
        if body is not None
        else {
            "amount": 1999,
            "currency": "USD",
            "payment_method": "pm_card_visa",
        }
    )
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(
        reverse("hardened_payments:charge", args=[tenant.slug]),
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
        **headers,
        **extra,
    )


def forwarded_key(user, key, path, body):
    """The key the provider must see for ``user``'s JSON ``body`` and ``key``."""
    from django.test import RequestFactory

    from hardened_payments.internal.idempotency import fingerprint, provider_key

    request = RequestFactory().post(
        path, data=json.dumps(body), content_type="application/json"
    )
    return provider_key(user.pk, key, fingerprint(request))


CHARGE_BODY = {"amount": 1999, "currency": "USD", "payment_method": "pm_card_visa"}


def charge_path(tenant):
    return reverse("hardened_payments:charge", args=[tenant.slug])


def state():
    return (
        list(IdempotencyKey.objects.values_list("key", "state")),
        Payment.objects.count(),
        LedgerTransfer.objects.count(),
    )


def test_a_retry_gets_the_stored_response_and_stripe_sees_one_call(
    member, member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    first = charge(member_client, tenant)
    again = charge(member_client, tenant)

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    calls = stripe_standin.created("/v1/payment_intents")
    assert len(calls) == 1
    forwarded = forwarded_key(member.user, "key-1", charge_path(tenant), CHARGE_BODY)
    assert calls[0]["idempotency_key"] == forwarded
    assert forwarded.startswith("hp_")
    assert len(forwarded) == 67
    assert calls[0]["form"]["amount"] == "1999"
    assert Payment.objects.get().idempotency_key == forwarded
    assert LedgerTransfer.objects.count() == 1


def test_the_body_is_fingerprinted_canonically(member_client, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    charge(
        member_client,
        tenant,
        body={"amount": 5, "currency": "USD", "payment_method": "pm_card_visa"},
    )
    reordered = '{"payment_method": "pm_card_visa",  "currency":"USD","amount":5}'
    again = charge(member_client, tenant, body=reordered)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 2000, "currency": "USD", "payment_method": "pm_card_visa"},
        {"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"},
        {"amount": 1999, "currency": "USD", "payment_method": "pm_card_other"},
    ],
)
def test_the_same_key_on_another_request_gets_422(
    member_client, tenant, stripe_standin, body
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    charge(member_client, tenant)
    before = state()

    response = charge(member_client, tenant, body=body)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_mismatch"
    assert state() == before
    assert len(stripe_standin.created("/v1/payment_intents")) == 1


def test_keys_belong_to_their_user(member_client, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    charge(member_client, tenant)
    other = MembershipFactory(tenant=tenant)
    other_client = Client()
    other_client.force_login(other.user)

    response = charge(other_client, tenant)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Payment.objects.count() == 2


def test_two_users_with_one_key_each_get_their_own_charge_at_stripe(
    member, member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server, which replays keys like Stripe."""
    other = MembershipFactory(tenant=tenant)
    other_client = Client()
    other_client.force_login(other.user)
    body = CHARGE_BODY | {"amount": 500}

    mine = charge(member_client, tenant, key="order-1")
    theirs = charge(other_client, tenant, key="order-1", body=body)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["provider_id"] != theirs.json()["provider_id"]
    calls = stripe_standin.created("/v1/payment_intents")
    assert [c["idempotency_key"] for c in calls] == [
        forwarded_key(member.user, "order-1", charge_path(tenant), CHARGE_BODY),
        forwarded_key(other.user, "order-1", charge_path(tenant), body),
    ]
    assert sorted(Payment.objects.values_list("amount", flat=True)) == [500, 1999]


def test_a_key_still_running_gets_409(member, member_client, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    first = charge(member_client, tenant)
    assert first.status_code == 201
    stored = IdempotencyKey.objects.get()
    IdempotencyKey.objects.create(
        user=member.user,
        key="running",
        fingerprint=stored.fingerprint,
        state=IdempotencyKey.State.IN_PROGRESS,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )

    response = charge(member_client, tenant, key="running")

    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_key_in_use"
    assert len(stripe_standin.created("/v1/payment_intents")) == 1


def test_an_expired_key_runs_again(member_client, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    charge(member_client, tenant)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = charge(member_client, tenant)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert len(stripe_standin.created("/v1/payment_intents")) == 2


@pytest.mark.parametrize("key", [None, "", "x" * 256, "bad key", "tab\tkey", "é"])
def test_a_missing_or_malformed_key_is_refused(
    member_client, tenant, stripe_standin, key
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    response = charge(member_client, tenant, key=key)
    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_required"
    assert state() == ([], 0, 0)
    assert stripe_standin.requests == []


def test_anonymous_requests_are_refused(client, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    response = charge(client, tenant)
    assert response.status_code == 401
    assert state() == ([], 0, 0)


def test_a_stranger_to_the_tenant_gets_404_and_no_key_is_kept(
    client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    client.force_login(UserFactory())
    response = charge(client, tenant)
    assert response.status_code == 404
    assert stripe_standin.requests == []
    assert Payment.objects.count() == 0


def test_a_provider_outage_releases_the_key(
    member, member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    stripe_standin.fail_with = 500
    failed = charge(member_client, tenant)
    assert failed.status_code == 502
    assert state() == ([], 0, 0)

    stripe_standin.fail_with = None
    retried = charge(member_client, tenant)
    assert retried.status_code == 201
    keys = {r["idempotency_key"] for r in stripe_standin.created("/v1/payment_intents")}
    assert keys == {
        forwarded_key(member.user, "key-1", charge_path(tenant), CHARGE_BODY)
    }


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        {"amount": 10.5, "currency": "USD", "payment_method": "pm_card_visa"},
        {"amount": "1000", "currency": "USD", "payment_method": "pm_card_visa"},
        {"amount": 0, "currency": "USD", "payment_method": "pm_card_visa"},
        {"amount": 100, "currency": "XXX", "payment_method": "pm_card_visa"},
        {"amount": 100, "currency": "USD", "payment_method": "4242424242424242"},
        {"amount": 100, "currency": "USD"},
    ],
)
def test_malformed_bodies_are_refused_and_leave_the_key_free(
    member_client, tenant, stripe_standin, body
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    response = charge(member_client, tenant, body=body)
    assert response.status_code == 400
    assert "Idempotent-Replayed" not in response
    assert stripe_standin.requests == []
    assert state() == ([], 0, 0)

    corrected = charge(member_client, tenant)
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected
    assert len(stripe_standin.created("/v1/payment_intents")) == 1


def test_declined_card_answers_402_and_a_corrected_retry_may_reuse_the_key(
    member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    declined = {
        "amount": 5,
        "currency": "USD",
        "payment_method": "pm_card_chargeDeclined",
    }
    response = charge(member_client, tenant, body=declined)
    assert response.status_code == 402
    assert response.json()["error"] == "payment_declined"
    assert state() == ([], 0, 0)

    again = charge(member_client, tenant, body=declined)
    assert again.status_code == 402
    assert "Idempotent-Replayed" not in again
    assert state() == ([], 0, 0)

    corrected = charge(
        member_client, tenant, body=declined | {"payment_method": "pm_card_visa"}
    )
    assert corrected.status_code == 201
    assert state() == ([("key-1", IdempotencyKey.State.COMPLETED)], 1, 1)


def test_a_refusal_gives_back_the_expired_row_it_replaced(
    member_client, tenant, stripe_standin
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    assert charge(member_client, tenant).status_code == 201
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = list(IdempotencyKey.objects.values())

    refused = charge(member_client, tenant, body={"amount": 0})

    assert refused.status_code == 400
    assert list(IdempotencyKey.objects.values()) == before


def test_purge_command_removes_only_expired_keys(member, capsys):
    now = timezone.now()
    for n in range(7):
        IdempotencyKey.objects.create(
            user=member.user,
            key=f"k{n}",
            fingerprint="f",
            state=IdempotencyKey.State.COMPLETED,
            created_at=now - timedelta(days=2),
            expires_at=now - timedelta(seconds=1)
            if n < 5
            else now + timedelta(hours=1),
        )

    call_command("hardened_payments_purge_idempotency_keys", "--dry-run")
    assert IdempotencyKey.objects.count() == 7
    assert "5 expired" in capsys.readouterr().out

    call_command("hardened_payments_purge_idempotency_keys", "--batch-size", "2")
    out = capsys.readouterr().out
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == ["k5", "k6"]
    assert "2/5" in out
    assert "5/5" in out


@pytest.mark.parametrize("size", ["0", "-1"])
def test_purge_command_refuses_an_empty_batch(member, size):
    IdempotencyKey.objects.create(
        user=member.user,
        key="old",
        fingerprint="f",
        state=IdempotencyKey.State.COMPLETED,
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("hardened_payments_purge_idempotency_keys", "--batch-size", size)
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.postgres
def test_fifty_concurrent_requests_with_one_key_create_one_charge(
    transactional_db, tenant, member, purge_ledger_after
):
    """Fifty threads send one key at once against the local Stripe stand-in.

    Uses the local Stripe stand-in server in place of Stripe's API; it counts
    every charge request that reaches it.
    """
    import stripe

    from tests.hardened_payments.stripe_standin import StripeStandIn

    server = StripeStandIn(delay=0.3).start()
    previous = stripe.api_base
    stripe.api_base = server.url
    login = Client()
    login.force_login(member.user)
    cookie = login.cookies
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    bodies: set[bytes] = set()
    lock = threading.Lock()

    def worker():
        client = Client()
        client.cookies = cookie
        try:
            barrier.wait()
            response = charge(client, tenant, key="one-key")
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 201:
                    bodies.add(response.content)
        finally:
            connection.close()

    try:
        from django.test import override_settings

        with override_settings(HARDENED_PAYMENTS_STRIPE_API_KEY="sk_test_standin"):
            threads = [threading.Thread(target=worker) for _ in range(50)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
    finally:
        stripe.api_base = previous
        server.stop()

    assert len(statuses) == 50
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert len(bodies) == 1
    assert len(server.created("/v1/payment_intents")) == 1
    assert Payment.objects.count() == 1
    assert LedgerTransfer.objects.count() == 1
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.COMPLETED


def test_money_endpoints_keep_csrf_protection(member, tenant, stripe_standin):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)

    response = charge(client, tenant)

    assert response.status_code == 403
    assert stripe_standin.requests == []
    assert state() == ([], 0, 0)


def test_an_abandoned_claim_is_taken_over_after_the_lock_timeout(
    member_client, tenant, stripe_standin, settings
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    settings.HARDENED_PAYMENTS_IDEMPOTENCY_LOCK_TIMEOUT = 60
    first_content = charge(member_client, tenant).content
    crashed = {"state": IdempotencyKey.State.IN_PROGRESS, "response_body": None}
    IdempotencyKey.objects.update(
        created_at=timezone.now() - timedelta(seconds=59), **crashed
    )
    assert charge(member_client, tenant).status_code == 409

    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    other = charge(
        member_client,
        tenant,
        body={"amount": 1, "currency": "USD", "payment_method": "pm_card_visa"},
    )
    assert other.status_code == 422

    retried = charge(member_client, tenant)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    calls = stripe_standin.created("/v1/payment_intents")
    assert len(calls) == 2
    assert calls[0]["idempotency_key"] == calls[1]["idempotency_key"]
    assert retried.content == first_content
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.COMPLETED


def _form_view():
    from django.http import HttpResponseRedirect

    from hardened_payments.idempotency import get_idempotency_key, idempotent_form

    calls = []

    @idempotent_form
    def view(request):
        calls.append(get_idempotency_key(request))
        return HttpResponseRedirect(f"/done/{len(calls)}/")

    return view, calls


def _form_post(user, body, content_type="application/x-www-form-urlencoded", **extra):
    from urllib.parse import urlencode

    from django.test import RequestFactory

    data = urlencode(body) if content_type.endswith("urlencoded") else body
    request = RequestFactory().post(
        "/buy/", data=data, content_type=content_type, **extra
    )
    request.user = user
    return request


def test_a_resubmitted_form_runs_once_and_follows_the_first_redirect(db):
    from hardened_payments.idempotency import new_key

    user = UserFactory()
    view, calls = _form_view()
    key = new_key()
    first = view(_form_post(user, {"idempotency_key": key, "amount": "5"}))
    again = view(_form_post(user, {"amount": "5", "idempotency_key": key}))

    assert (first.status_code, first["Location"]) == (302, "/done/1/")
    assert (again.status_code, again["Location"]) == (302, "/done/1/")
    assert again["Idempotent-Replayed"] == "true"
    assert len(calls) == 1
    assert calls[0].startswith("hp_")
    assert key not in calls[0]


def test_get_idempotency_key_needs_the_wrapper(db):
    from django.core.exceptions import ImproperlyConfigured

    from hardened_payments.idempotency import get_idempotency_key

    request = _form_post(UserFactory(), {"idempotency_key": "k", "amount": "5"})
    with pytest.raises(ImproperlyConfigured):
        get_idempotency_key(request)


def test_the_forwarded_key_follows_the_claimed_form_key_not_a_header(db):
    user = UserFactory()
    view, calls = _form_view()
    body = {"idempotency_key": "k", "amount": "5"}
    view(_form_post(user, body, HTTP_IDEMPOTENCY_KEY="h"))
    view(_form_post(UserFactory(), body, HTTP_IDEMPOTENCY_KEY="h"))

    plain = _form_post(user, body)
    from hardened_payments.internal.idempotency import fingerprint, provider_key

    assert calls[0] == provider_key(user.pk, "k", fingerprint(plain))
    assert calls[0] != calls[1]


def test_a_form_key_reused_for_another_body_is_refused(db):
    user = UserFactory()
    view, calls = _form_view()
    view(_form_post(user, {"idempotency_key": "k", "amount": "5"}))
    other = view(_form_post(user, {"idempotency_key": "k", "amount": "6"}))
    assert other.status_code == 422
    assert json.loads(other.content)["error"] == "idempotency_key_mismatch"
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "extra"),
    [
        ({"amount": "5"}, "application/x-www-form-urlencoded", {}),
        (
            {"amount": "5"},
            "application/x-www-form-urlencoded",
            {"HTTP_IDEMPOTENCY_KEY": "h"},
        ),
        ({"idempotency_key": "k" * 256}, "application/x-www-form-urlencoded", {}),
        ({"idempotency_key": "a b"}, "application/x-www-form-urlencoded", {}),
        ({"idempotency_key": "k"}, "multipart/form-data; boundary=BoUnDaRy", {}),
    ],
)
def test_a_form_without_a_usable_key_is_refused(db, body, content_type, extra):
    view, calls = _form_view()
    if content_type.startswith("multipart"):
        body = (
            '--BoUnDaRy\r\nContent-Disposition: form-data; name="idempotency_key"'
            "\r\n\r\nk\r\n--BoUnDaRy--\r\n"
        )
    response = view(_form_post(UserFactory(), body, content_type, **extra))
    assert response.status_code == 400
    assert json.loads(response.content)["message"] == (
        "Submit the form as rendered: its idempotency key is missing."
    )
    assert calls == []
    assert not IdempotencyKey.objects.exists()


def test_new_keys_are_distinct_and_usable():
    from hardened_payments.idempotency import new_key
    from hardened_payments.internal.idempotency import MAX_KEY_LENGTH

    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(0 < len(k) <= MAX_KEY_LENGTH and k.isprintable() for k in keys)


def test_a_charge_is_audited_with_its_amount_currency_and_key(
    member, member_client, tenant, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    response = charge(member_client, tenant)

    [event] = audit_log("payment_created")
    assert event["outcome"] == "success"
    assert event["actor"] == member.user.pk
    assert event["tenant"] == tenant.pk
    assert event["target"] == response.json()["provider_id"]
    assert (event["amount"], event["currency"]) == (1999, "USD")
    assert event["status"] == "succeeded"
    assert event["idempotency_key"] == forwarded_key(
        member.user, "key-1", charge_path(tenant), CHARGE_BODY
    )


def test_a_key_mismatch_and_a_replay_are_audited(
    member, member_client, tenant, stripe_standin, audit_log
):
    """Uses the local Stripe stand-in server in place of Stripe's API."""
    charge(member_client, tenant)
    charge(member_client, tenant)
    charge(member_client, tenant, body=CHARGE_BODY | {"amount": 1})

    [replayed] = audit_log("idempotency_replayed")
    [mismatch] = audit_log("idempotency_key_mismatch")
    assert replayed["outcome"] == "success"
    assert mismatch["outcome"] == "denied"
    for event in (replayed, mismatch):
        assert event["actor"] == member.user.pk
        assert event["target"] == charge_path(tenant)
        assert event["idempotency_key"] == "key-1"
    assert len(audit_log("payment_created")) == 1
