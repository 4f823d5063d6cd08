"""Delay, then proof-of-work challenge, then lock after failed sign-ins."""

import base64
import json
import logging
import time
import uuid

import pytest
from altcha import v1 as altcha_v1
from django.test import Client, RequestFactory

from hardened_auth.internal import velocity
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

THRESHOLDS = {
    "identifier": {"delay": 2, "challenge": 3, "lock": 5},
    "ip": {"delay": None, "challenge": None, "lock": None},
    "site": {"delay": None, "challenge": None, "lock": None},
}
WRONG = "definitely wrong"


@pytest.fixture(autouse=True)
def _small_thresholds(settings):
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = THRESHOLDS
    settings.HARDENED_AUTH_ALTCHA_MAX_NUMBER = 2000


def _ip() -> str:
    value = uuid.uuid4().int
    return f"203.0.{value % 250}.{(value >> 8) % 250 + 1}"


def _fail(username: str, times: int, ip: str = "198.51.100.1") -> None:
    for _ in range(times):
        request = RequestFactory().post(
            "/admin/login/", {"username": username}, REMOTE_ADDR=ip
        )
        velocity.record_failure(request)


def _attempt(username: str, password: str = WRONG, **data: str):
    return Client(REMOTE_ADDR=_ip()).post(
        "/admin/login/",
        {"username": username, "password": password, **data},
        HTTP_ACCEPT="application/json",
    )


def _solve(challenge: dict, number: int | None = None) -> str:
    solution = altcha_v1.solve_challenge(
        challenge["challenge"],
        challenge["salt"],
        challenge["algorithm"],
        challenge["maxnumber"],
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number if number is None else number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_failed_sign_ins_are_counted_through_the_login_view():
    user = UserFactory()
    for _ in range(2):
        assert _attempt(user.username).status_code == 200
    response = _attempt(user.username)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_delay_stage_spaces_attempts_out():
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 2)
    response = _attempt(name)
    assert response.status_code == 429
    assert json.loads(response.content)["error"] == "rate_limited"


def test_delay_is_measured_from_the_failure_not_its_whole_second(monkeypatch):
    """A failure late in one second still delays an attempt early in the next."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    clock = [1_000_000.98]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    _fail(name, 2)
    request = RequestFactory().post("/admin/login/", {"username": name})
    clock[0] = 1_000_001.05
    assert velocity.friction(request) == velocity.Friction("delay", 1, "identifier")
    clock[0] = 1_000_001.98
    assert velocity.friction(request) == velocity.Friction(None)


def test_challenge_stage_requires_a_solved_challenge(caplog):
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 3)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = _attempt(name)
    assert response.status_code == 429
    body = json.loads(response.content)
    assert body["error"] == "challenge_required"
    assert "authn_challenge_required" in [r.getMessage() for r in caplog.records]

    payload = _solve(body["challenge"])
    assert _attempt(name, altcha=payload).status_code == 200


def test_solved_challenge_works_once():
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 3)
    challenge = velocity.new_challenge()
    payload = _solve(challenge)
    assert _attempt(name, altcha=payload).status_code == 200
    replay = _attempt(name, altcha=payload)
    assert replay.status_code == 429


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: _solve(c, number=c["maxnumber"] + 1),
        lambda c: _solve({**c, "signature": "0" * 64}),
        lambda c: "not base64 at all",
        lambda c: "A" * 5000,
        lambda c: base64.b64encode(b'{"algorithm": 1}').decode(),
    ],
)
def test_tampered_or_malformed_solutions_are_refused(mangle):
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 3)
    response = _attempt(name, altcha=mangle(velocity.new_challenge()))
    assert response.status_code == 429
    assert json.loads(response.content)["error"] == "challenge_required"


def test_expired_challenge_is_refused(settings):
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 3)
    settings.HARDENED_AUTH_ALTCHA_TTL = -10
    payload = _solve(velocity.new_challenge())
    settings.HARDENED_AUTH_ALTCHA_TTL = 300
    assert _attempt(name, altcha=payload).status_code == 429


def test_challenge_from_another_key_is_refused():
    name = f"user-{uuid.uuid4().hex[:8]}"
    _fail(name, 3)
    foreign = altcha_v1.create_challenge(
        altcha_v1.ChallengeOptions(hmac_key="someone else", max_number=1000)
    )
    challenge = {
        "algorithm": foreign.algorithm,
        "challenge": foreign.challenge,
        "maxnumber": foreign.max_number,
        "salt": foreign.salt,
        "signature": foreign.signature,
    }
    assert _attempt(name, altcha=_solve(challenge)).status_code == 429


def test_lock_stage_refuses_even_a_solved_challenge(caplog):
    user = UserFactory()
    _fail(user.username, 5)
    payload = _solve(velocity.new_challenge())
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = _attempt(user.username, DEFAULT_PASSWORD, altcha=payload)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "authn_login_lock" in [r.getMessage() for r in caplog.records]


def test_look_alike_identifier_shares_the_count():
    name = f"carol-{uuid.uuid4().hex[:8]}"
    _fail(name, 5)
    assert _attempt(name.upper()).status_code == 429


def test_site_wide_spike_challenges_new_identifiers(settings):
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = {
        "site": {"delay": None, "challenge": 3, "lock": None}
    }
    for _ in range(3):
        _fail(f"someone-{uuid.uuid4().hex[:8]}", 1, ip=_ip())
    response = _attempt(f"fresh-{uuid.uuid4().hex[:8]}")
    assert json.loads(response.content)["error"] == "challenge_required"


def test_challenge_endpoint_serves_a_verifiable_challenge():
    response = Client().get("/auth/challenge/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    challenge = json.loads(response.content)
    ok, _ = altcha_v1.verify_solution(_solve(challenge), velocity._hmac_key())
    assert ok


def test_successful_sign_in_below_thresholds_is_untouched():
    user = UserFactory()
    _fail(user.username, 1)
    client = Client(REMOTE_ADDR=_ip())
    response = client.post(
        "/admin/login/", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200


def _fail_token(email: str, times: int) -> None:
    for _ in range(times):
        request = RequestFactory().post(
            "/auth/token/", {"login": email}, REMOTE_ADDR="198.51.100.1"
        )
        velocity.record_failure(request)


def _token(email: str, password: str = DEFAULT_PASSWORD, **data: str):
    """Ask the token endpoint for a pair the way an API client does."""
    return Client(REMOTE_ADDR=_ip()).post(
        "/auth/token/", {"login": email, "password": password, **data}
    )


def test_failed_token_requests_are_counted_towards_friction():
    user = UserFactory()
    for _ in range(2):
        assert _token(user.email, WRONG).status_code == 401
    response = _token(user.email)
    assert response.status_code == 429
    assert json.loads(response.content)["error"] == "rate_limited"


def test_locked_identifier_gets_429_from_the_token_endpoint(caplog):
    user = UserFactory()
    _fail_token(user.email.upper(), 5)
    payload = _solve(velocity.new_challenge())
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = _token(user.email, altcha=payload)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert b"access_token" not in response.content
    [lock] = [r for r in caplog.records if r.getMessage() == "authn_login_lock"]
    assert lock.hardened_audit["target"] == "token"


def test_challenged_token_request_needs_a_solved_challenge():
    user = UserFactory()
    _fail_token(user.email, 3)
    refused = _token(user.email)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    body = json.loads(refused.content)
    assert body["error"] == "challenge_required"
    assert b"access_token" not in refused.content

    payload = _solve(body["challenge"])
    granted = _token(user.email, altcha=payload)
    assert granted.status_code == 200
    assert "access_token" in json.loads(granted.content)
    assert _token(user.email, altcha=payload).status_code == 429


def test_token_refresh_is_not_held_back_by_sign_in_friction(settings):
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = {
        "site": {"delay": None, "challenge": 1, "lock": None}
    }
    _fail_token(f"someone-{uuid.uuid4().hex[:8]}@example.com", 1)
    response = Client(REMOTE_ADDR=_ip()).post(
        "/auth/token/refresh/", {"refresh_token": "hrt_unknown"}
    )
    assert response.status_code == 401
