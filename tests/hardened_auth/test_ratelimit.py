import json
import logging
import re
import threading
import uuid

import pytest
from django.test import Client, RequestFactory, override_settings

from hardened_auth.hashers import HardenedArgon2PasswordHasher
from hardened_auth.internal import limiter
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMITS = {
    "login": {"ip": "4/h", "identifier": "2/h"},
    "mfa": {"ip": "5/h"},
}
VIEWS = {"admin:login": "login", "hardened_auth:step_up": "mfa"}
PROXIES = ["10.0.0.0/8"]


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.HARDENED_AUTH_RATE_LIMITS = LIMITS
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = VIEWS


@pytest.fixture
def hash_calls(monkeypatch):
    """Record every time the password hasher runs."""
    calls: list[str] = []
    real_encode = HardenedArgon2PasswordHasher.encode
    real_verify = HardenedArgon2PasswordHasher.verify

    def encode(self, password, salt):
        calls.append("encode")
        return real_encode(self, password, salt)

    def verify(self, password, encoded):
        calls.append("verify")
        return real_verify(self, password, encoded)

    monkeypatch.setattr(HardenedArgon2PasswordHasher, "encode", encode)
    monkeypatch.setattr(HardenedArgon2PasswordHasher, "verify", verify)
    return calls


def _ip() -> str:
    value = uuid.uuid4().int
    return f"198.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


def _name() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}"


WRONG_PASSWORD = "wrong password"


def _login(ip: str, username: str, password: str = WRONG_PASSWORD, **extra):
    return Client(REMOTE_ADDR=ip).post(
        "/admin/login/", {"username": username, "password": password}, **extra
    )


def test_attempts_within_the_limit_reach_the_login_view():
    ip = _ip()
    assert _login(ip, _name()).status_code == 200
    assert _login(ip, _name()).status_code == 200


def test_ip_over_its_limit_gets_429_with_retry_after(hash_calls):
    ip = _ip()
    for _ in range(4):
        assert _login(ip, _name()).status_code == 200
    hash_calls.clear()
    response = _login(ip, _name())
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert b"Too many attempts" in response.content
    assert hash_calls == []


def test_identifier_is_limited_across_ips(hash_calls):
    user = UserFactory()
    assert _login(_ip(), user.username).status_code == 200
    assert _login(_ip(), user.username).status_code == 200
    hash_calls.clear()
    response = _login(_ip(), user.username, password=DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert hash_calls == []


def test_identifier_limit_does_not_reveal_whether_the_account_exists():
    existing = UserFactory().username
    missing = _name()
    answers = []
    for name in (existing, missing):
        for _ in range(2):
            _login(_ip(), name)
        answers.append(_login(_ip(), name))
    assert [a.status_code for a in answers] == [429, 429]
    bodies = [re.sub(rb"\d+", b"N", a.content) for a in answers]
    assert bodies[0] == bodies[1]
    assert sorted(answers[0].headers) == sorted(answers[1].headers)


FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"


@pytest.mark.parametrize(
    "variant", ["ALICE-{}", FULL_WIDTH_ALICE + "-{}", " Alice-{} "]
)
def test_look_alike_identifiers_share_a_bucket(variant):
    suffix = uuid.uuid4().hex[:8]
    _login(_ip(), f"alice-{suffix}")
    _login(_ip(), f"alice-{suffix}")
    assert _login(_ip(), variant.format(suffix)).status_code == 429


def test_forged_forwarded_for_does_not_change_the_bucket():
    ip = _ip()
    for n in range(4):
        _login(ip, _name(), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = _login(ip, _name(), HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_clients_behind_a_trusted_proxy_have_their_own_buckets():
    client_a, client_b = _ip(), _ip()
    for _ in range(4):
        _login("10.0.0.2", _name(), HTTP_X_FORWARDED_FOR=client_a)
    assert _login("10.0.0.2", _name(), HTTP_X_FORWARDED_FOR=client_a).status_code == 429
    assert _login("10.0.0.2", _name(), HTTP_X_FORWARDED_FOR=client_b).status_code == 200


def test_get_requests_are_not_counted():
    ip = _ip()
    client = Client(REMOTE_ADDR=ip)
    for _ in range(6):
        assert client.get("/admin/login/").status_code == 200
    assert _login(ip, _name()).status_code == 200


def test_json_client_gets_json_429():
    ip = _ip()
    for _ in range(4):
        _login(ip, _name())
    response = _login(ip, _name(), HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    body = json.loads(response.content)
    assert body["error"] == "rate_limited"
    assert body["retry_after"] == int(response["Retry-After"])


def test_refusal_is_audited_without_the_password(caplog):
    ip = _ip()
    for _ in range(4):
        _login(ip, _name())
    with caplog.at_level(logging.INFO):
        _login(ip, _name(), password="hunter2-secret")
    [record] = [
        r for r in caplog.records if r.getMessage() == "excess_rate_limit_exceeded"
    ]
    assert record.hardened_audit["outcome"] == "denied"
    assert record.hardened_audit["ip"] == ip
    assert record.hardened_audit["dimension"] == "ip"
    assert record.hardened_audit["target"] == "login"
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "hunter2-secret" not in text


def test_step_up_page_is_limited_per_ip():
    user = UserFactory()
    client = Client(REMOTE_ADDR=_ip())
    client.force_login(user)
    for _ in range(5):
        assert client.post("/auth/step-up/", {"code": "000000"}).status_code == 400
    assert client.post("/auth/step-up/", {"code": "000000"}).status_code == 429


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {"BACKEND": "tests.hardened_auth.caches.UnreachableCache"},
    },
    RATELIMIT_USE_CACHE="limits",
)
def test_unreachable_cache_fails_closed_before_hashing(hash_calls, caplog):
    user = UserFactory()
    hash_calls.clear()
    with caplog.at_level(logging.INFO):
        response = _login(_ip(), user.username, password=DEFAULT_PASSWORD)
    assert response.status_code == 503
    assert b"cannot be reached" in response.content
    assert response["Retry-After"] == "30"
    assert hash_calls == []
    events = [r for r in caplog.records if r.name == "hardened_auth.audit"]
    assert events[0].hardened_audit["cause"] == "limiter_unavailable"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    },
    RATELIMIT_USE_CACHE="limits",
)
def test_redis_on_a_wrong_port_fails_closed(hash_calls):
    user = UserFactory()
    hash_calls.clear()
    response = _login(
        _ip(), user.username, password=DEFAULT_PASSWORD, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 503
    assert json.loads(response.content)["error"] == "rate_limiter_unavailable"
    assert hash_calls == []


@override_settings(RATELIMIT_ENABLE=False)
def test_disabled_django_ratelimit_still_fails_closed():
    assert _login(_ip(), _name()).status_code == 503


def test_concurrent_attempts_never_exceed_the_limit():
    """Twenty simultaneous attempts from one IP let exactly four through."""
    ip = _ip()
    results: list[bool] = []
    barrier = threading.Barrier(20)

    def attempt():
        request = RequestFactory().post("/admin/login/", {}, REMOTE_ADDR=ip)
        barrier.wait()
        results.append(limiter.check(request, "login").allowed)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 4


@pytest.mark.redis
@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"rl-{uuid.uuid4().hex}",
        }
    }
)
def test_limit_is_shared_through_redis():
    ip = _ip()
    for _ in range(4):
        assert _login(ip, _name()).status_code == 200
    assert _login(ip, _name()).status_code == 429
