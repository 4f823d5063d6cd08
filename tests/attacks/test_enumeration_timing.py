"""Existing and missing accounts take the same time to answer.

The answers themselves (status, headers, body) are compared in
``tests/hardened_auth/test_enumeration.py``; this suite measures how long
each takes. Every trial asks about a fresh address on both sides, as a
probing attacker would, so per-address locks and mail limits never turn one
side into a cheaper refusal. The two sides run in pairs, in random order
within each pair, so a burst of load from another process lands on both.

A flow is told apart when both tests agree: the median ratio of the paired
times leaves a band of a quarter either side of 1, and a sign test over the
pairs says one side is faster far more often than chance allows. Load can
skew a few pairs but not both statistics at once; a side that is half as
slow again in most pairs fails both, and a flow that skips the password
hash for one side, several times faster in nearly every pair, fails by far.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from social.models import FriendRequest

from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory
from tests.hardened_auth.test_enumeration import (
    NEW_PASSWORD,
    _client,
    _missing_email,
    _verified_user,
)

PAIRS = 24
WARMUP = 2
# The band for the median of existing / missing times, and the two-sided
# probability below which the sign test calls the split of pairs skewed.
RATIO_BAND = 1.25
SIGN_TEST_ALPHA = 0.002

Attempt = Callable[[], Any]

# A load spike can still flip a pair or two in the self-tests below; what
# they pin is a split far past what the sign test lets through.
MOSTLY_SLOWER = r"existing faster in [0-2] of 24"
MOSTLY_FASTER = r"existing faster in 2[2-4] of 24"


@pytest.fixture(autouse=True)
def no_limits(settings):
    # Dozens of attempts from one test would trip the limiter and time the
    # refusal instead of the flow; the limiter has its own tests.
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {}


def sign_test_p(faster: int, pairs: int) -> float:
    """Two-sided binomial probability of a split at least this uneven."""
    extreme = min(faster, pairs - faster)
    tail: float = sum(math.comb(pairs, k) for k in range(extreme + 1)) / 2**pairs
    return min(1.0, 2 * tail)


def paired_times(existing: Attempt, missing: Attempt) -> list[tuple[float, float]]:
    for _ in range(WARMUP):
        existing(), missing()
    rng = random.Random(8)
    pairs = []
    for _ in range(PAIRS):
        order = [("existing", existing), ("missing", missing)]
        rng.shuffle(order)
        took = {}
        for which, attempt in order:
            start = time.perf_counter()
            attempt()
            took[which] = time.perf_counter() - start
        pairs.append((took["existing"], took["missing"]))
    return pairs


def assert_indistinguishable(existing: Attempt, missing: Attempt) -> None:
    pairs = paired_times(existing, missing)
    ratio = statistics.median(a / b for a, b in pairs)
    existing_faster = sum(a < b for a, b in pairs)
    p = sign_test_p(existing_faster, len(pairs))
    in_band = 1 / RATIO_BAND <= ratio <= RATIO_BAND
    assert in_band or p >= SIGN_TEST_ALPHA, (
        f"median existing/missing ratio {ratio:.2f}, existing faster in "
        f"{existing_faster} of {len(pairs)} pairs (p={p:.2g}); {pairs}"
    )


def fresh_addresses(count: int) -> Iterator[str]:
    """Addresses of verified accounts, each handed out once."""
    return iter([_verified_user().email for _ in range(count)])


def test_sign_test_probability():
    assert sign_test_p(12, 24) == 1.0
    assert sign_test_p(24, 24) == pytest.approx(2 / 2**24)
    assert sign_test_p(0, 24) == sign_test_p(24, 24)
    assert sign_test_p(3, 24) < SIGN_TEST_ALPHA < sign_test_p(5, 24)


def test_a_flow_that_skips_work_for_one_side_is_told_apart():
    def slow() -> None:
        time.sleep(0.02)

    def fast() -> None:
        time.sleep(0.002)

    with pytest.raises(AssertionError, match=MOSTLY_FASTER):
        assert_indistinguishable(fast, slow)
    with pytest.raises(AssertionError, match=MOSTLY_SLOWER):
        assert_indistinguishable(slow, fast)
    assert_indistinguishable(slow, slow)


def test_a_side_half_as_slow_again_is_told_apart():
    def slower() -> None:
        time.sleep(0.015)

    def slow() -> None:
        time.sleep(0.01)

    with pytest.raises(AssertionError, match=MOSTLY_SLOWER):
        assert_indistinguishable(slower, slow)
    with pytest.raises(AssertionError, match=MOSTLY_FASTER):
        assert_indistinguishable(slow, slower)


@pytest.mark.django_db
def test_login_takes_as_long_for_a_missing_account():
    taken = fresh_addresses(PAIRS + WARMUP)

    def login(email: Callable[[], str]) -> Attempt:
        return lambda: _client().post(
            "/accounts/login/", {"login": email(), "password": "wrong password x"}
        )

    assert_indistinguishable(login(lambda: next(taken)), login(_missing_email))


@pytest.mark.django_db
def test_signup_takes_as_long_for_a_taken_address():
    taken = fresh_addresses(PAIRS + WARMUP)
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}

    def signup(email: Callable[[], str]) -> Attempt:
        return lambda: _client().post("/accounts/signup/", {**data, "email": email()})

    assert_indistinguishable(signup(lambda: next(taken)), signup(_missing_email))


@pytest.mark.django_db
def test_password_reset_takes_as_long_for_a_missing_account():
    taken = fresh_addresses(PAIRS + WARMUP)

    def reset(email: Callable[[], str]) -> Attempt:
        return lambda: _client().post("/accounts/password/reset/", {"email": email()})

    assert_indistinguishable(reset(lambda: next(taken)), reset(_missing_email))


@pytest.mark.django_db
def test_email_change_takes_as_long_for_a_taken_address():
    taken = fresh_addresses(PAIRS + WARMUP)
    user = _verified_user()
    client = _client()
    client.force_login(user)

    def change(email: Callable[[], str]) -> Attempt:
        return lambda: client.post(
            "/accounts/email/", {"email": email(), "action_add": ""}
        )

    assert_indistinguishable(change(lambda: next(taken)), change(_missing_email))


@pytest.mark.django_db
def test_a_friend_request_takes_as_long_for_a_missing_address(settings):
    settings.HARDENED_RBAC_FRIEND_REQUEST_LIMITS = {
        "sender": (10_000, 3600),
        "ip": (10_000, 3600),
    }
    tenant = TenantFactory(slug="timing", name="Timing")

    def joined() -> Any:
        user = _verified_user()
        MembershipFactory(tenant=tenant, user=user)
        return user

    members = iter([joined().email for _ in range(PAIRS + WARMUP)])
    client = _client()
    client.force_login(joined())

    def send(email: Callable[[], str]) -> Attempt:
        return lambda: client.post(
            "/t/timing/social/friends/request/", {"email": email()}
        )

    assert_indistinguishable(send(lambda: next(members)), send(_missing_email))
    with use_tenant(tenant):
        assert FriendRequest.objects.count() == PAIRS + WARMUP
    assert len(mail.outbox) == PAIRS + WARMUP
