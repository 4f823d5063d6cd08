import json
import logging
import os
import re
import threading
import uuid

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from hardened_auth.conf import DEFAULT_RATE_LIMITED_VIEWS, DEFAULT_RATE_LIMITS
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
def test_limit_is_shared_through_redis(settings):
    """The limiter counts in the Redis server that REDIS_URL names."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"rl-{uuid.uuid4().hex}",
        }
    }
    ip = _ip()
    for _ in range(4):
        assert _login(ip, _name()).status_code == 200
    assert _login(ip, _name()).status_code == 429


EVERY_SCOPE_ONCE = {
    scope: {"ip": "1/h"}
    for scope in ("login", "signup", "reset", "email_change", "mfa", "token")
}
NEW_PASSWORD = "a brand new passphrase 4 limits"


def _anonymous(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def _signed_in(ip: str) -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(UserFactory())
    return client


def _new_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


# Each rate-limited view, the client that posts to it and a form it accepts.
LIMITED_POSTS = {
    "admin:login": (_anonymous, lambda: {"username": _name(), "password": "x"}),
    "account_login": (_anonymous, lambda: {"login": _new_email(), "password": "x"}),
    "account_signup": (
        _anonymous,
        lambda: {
            "email": _new_email(),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    ),
    "account_reset_password": (_anonymous, lambda: {"email": _new_email()}),
    "account_email": (_signed_in, lambda: {"email": _new_email(), "action_add": ""}),
    "hardened_auth:step_up": (_signed_in, lambda: {"code": "000000"}),
    "hardened_auth:token": (
        _anonymous,
        lambda: {"login": _new_email(), "password": "x"},
    ),
    "hardened_auth:token_refresh": (_anonymous, lambda: {"refresh_token": "hrt_x"}),
    "hardened_auth:token_revoke": (_anonymous, lambda: {"refresh_token": "hrt_x"}),
    "otp_webauthn:credential-authentication-begin": (_anonymous, dict),
    "otp_webauthn:credential-authentication-complete": (_anonymous, dict),
}
# allauth.mfa is not installed here; its views are limited where it is.
ALLAUTH_MFA_VIEWS = {"mfa_authenticate", "mfa_reauthenticate"}


def test_every_default_rate_limited_view_is_exercised():
    assert set(DEFAULT_RATE_LIMITED_VIEWS) == set(LIMITED_POSTS) | ALLAUTH_MFA_VIEWS


@pytest.mark.parametrize("view_name", sorted(LIMITED_POSTS))
def test_every_rate_limited_view_answers_429_before_hashing(
    view_name, settings, hash_calls, caplog
):
    settings.HARDENED_AUTH_RATE_LIMITS = EVERY_SCOPE_ONCE
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = DEFAULT_RATE_LIMITED_VIEWS
    make_client, form = LIMITED_POSTS[view_name]
    client = make_client(_ip())
    url = reverse(view_name)
    assert client.post(url, form()).status_code != 429

    hash_calls.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = client.post(url, form())
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response["Cache-Control"] == "no-store"
    assert hash_calls == []
    [event] = [
        r for r in caplog.records if r.getMessage() == "excess_rate_limit_exceeded"
    ]
    assert event.hardened_audit["target"] == DEFAULT_RATE_LIMITED_VIEWS[view_name]
    assert event.hardened_audit["dimension"] == "ip"


@pytest.mark.parametrize(
    "view_name",
    [
        "hardened_auth:token",
        "hardened_auth:token_refresh",
        "hardened_auth:token_revoke",
    ],
)
def test_token_endpoints_answer_429_in_json_whatever_the_client_accepts(
    view_name, settings
):
    settings.HARDENED_AUTH_RATE_LIMITS = EVERY_SCOPE_ONCE
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = DEFAULT_RATE_LIMITED_VIEWS
    client, form = _anonymous(_ip()), LIMITED_POSTS[view_name][1]
    client.post(reverse(view_name), form(), HTTP_ACCEPT="text/html")
    response = client.post(reverse(view_name), form(), HTTP_ACCEPT="text/html")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body == {
        "error": "rate_limited",
        "retry_after": int(response["Retry-After"]),
    }


def test_signup_is_limited_per_submitted_email_across_ips(settings, hash_calls):
    settings.HARDENED_AUTH_RATE_LIMITS = {
        "signup": {"ip": "100/h", "identifier": "2/h"}
    }
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {"account_signup": "signup"}
    email = _new_email()
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    for spelling in (email, email.upper()):
        response = _anonymous(_ip()).post(
            "/accounts/signup/", {**form, "email": spelling}
        )
        assert response.status_code != 429
    hash_calls.clear()
    response = _anonymous(_ip()).post("/accounts/signup/", {**form, "email": email})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert hash_calls == []
    other = _anonymous(_ip()).post("/accounts/signup/", {**form, "email": _new_email()})
    assert other.status_code != 429


def _token_pair(user) -> dict[str, str]:
    response = _anonymous(_ip()).post(
        "/auth/token/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.content
    pair: dict[str, str] = json.loads(response.content)
    return pair


def test_refresh_is_limited_per_token_family_across_ips(settings, caplog):
    settings.HARDENED_AUTH_RATE_LIMITS = {
        "login": {"ip": "100/h", "identifier": "100/h"},
        "token": {"ip": "100/h", "identifier": "2/h"},
    }
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {
        "hardened_auth:token": "login",
        "hardened_auth:token_refresh": "token",
    }
    user = UserFactory()
    pair = _token_pair(user)
    for _ in range(2):
        response = _anonymous(_ip()).post(
            "/auth/token/refresh/", {"refresh_token": pair["refresh_token"]}
        )
        assert response.status_code == 200
        pair = json.loads(response.content)

    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        refused = _anonymous(_ip()).post(
            "/auth/token/refresh/", {"refresh_token": pair["refresh_token"]}
        )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    [event] = [
        r for r in caplog.records if r.getMessage() == "excess_rate_limit_exceeded"
    ]
    assert event.hardened_audit["dimension"] == "identifier"

    other_family = _token_pair(user)
    response = _anonymous(_ip()).post(
        "/auth/token/refresh/", {"refresh_token": other_family["refresh_token"]}
    )
    assert response.status_code == 200


def test_unknown_refresh_tokens_are_limited_by_address(settings):
    settings.HARDENED_AUTH_RATE_LIMITS = {"token": {"ip": "2/h", "identifier": "1/h"}}
    settings.HARDENED_AUTH_RATE_LIMITED_VIEWS = {"hardened_auth:token_refresh": "token"}
    client = _anonymous(_ip())
    for token in ("hrt_forged-one", "hrt_forged-two"):
        response = client.post("/auth/token/refresh/", {"refresh_token": token})
        assert response.status_code == 401
    response = client.post("/auth/token/refresh/", {"refresh_token": "hrt_forged-3"})
    assert response.status_code == 429


def test_step_up_is_limited_per_user_across_ips(settings):
    settings.HARDENED_AUTH_RATE_LIMITS = {"mfa": {"ip": "100/h", "identifier": "2/h"}}
    user = UserFactory()
    statuses = []
    for _ in range(3):
        client = Client(REMOTE_ADDR=_ip())
        client.force_login(user)
        statuses.append(client.post("/auth/step-up/", {"code": "000000"}).status_code)
    assert statuses == [400, 400, 429]


def test_every_default_scope_is_limited_per_ip_and_per_account():
    assert {scope: sorted(rates) for scope, rates in DEFAULT_RATE_LIMITS.items()} == {
        scope: ["identifier", "ip"]
        for scope in ("login", "signup", "reset", "email_change", "mfa", "token")
    }


def test_address_over_its_limit_is_refused_before_the_body_is_read(
    settings, monkeypatch
):
    settings.HARDENED_AUTH_RATE_LIMITS = {"login": {"ip": "1/h", "identifier": "2/h"}}
    name, ip = _name(), _ip()
    assert _login(ip, name).status_code == 200

    read: list[str] = []
    real = limiter.submitted_identifier

    def spy(request):
        read.append(request.path)
        return real(request)

    monkeypatch.setattr(limiter, "submitted_identifier", spy)
    for _ in range(3):
        assert _login(ip, name).status_code == 429
    assert read == []

    monkeypatch.setattr(limiter, "submitted_identifier", real)
    assert _login(_ip(), name).status_code == 200
    refused = _login(_ip(), name)
    assert refused.status_code == 429


def test_refusal_pages_name_each_wait(settings):
    from hardened_auth.internal.throttle_responses import rate_limited_response

    request = RequestFactory().post("/admin/login/")
    first = rate_limited_response(request, 17)
    second = rate_limited_response(request, 923)
    again = rate_limited_response(request, 17)
    assert b"wait 17 seconds" in first.content
    assert b"wait 923 seconds" in second.content
    assert again.content == first.content
    assert (first["Retry-After"], second["Retry-After"]) == ("17", "923")


class RewritePathMiddleware:
    """Send posts to ``/elsewhere/...`` on to the rest of the path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/elsewhere/"):
            request.path_info = request.path_info[len("/elsewhere") :]
        return self.get_response(request)


def _with_rewrite(settings) -> None:
    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("hardened_auth.middleware.RateLimitMiddleware") + 1
    middleware.insert(at, "tests.hardened_auth.test_ratelimit.RewritePathMiddleware")
    settings.MIDDLEWARE = middleware


def test_refusal_comes_before_the_later_middleware_and_the_csrf_check(monkeypatch):
    from django.core.handlers.base import BaseHandler
    from django.middleware.csrf import CsrfViewMiddleware

    ip = _ip()
    for _ in range(4):
        _login(ip, _name())
    reached: list[str] = []
    real_resolve = BaseHandler.resolve_request
    real_csrf = CsrfViewMiddleware.process_view

    def resolve_request(self, request):
        reached.append("resolve")
        return real_resolve(self, request)

    def process_view(self, request, *args):
        reached.append("csrf")
        return real_csrf(self, request, *args)

    monkeypatch.setattr(BaseHandler, "resolve_request", resolve_request)
    monkeypatch.setattr(CsrfViewMiddleware, "process_view", process_view)
    assert _login(ip, _name()).status_code == 429
    assert reached == []
    assert _login(_ip(), _name()).status_code == 200
    assert reached[0] == "resolve"
    assert "csrf" in reached


def test_path_rewritten_after_the_limiter_is_limited_as_its_view(settings, hash_calls):
    _with_rewrite(settings)
    ip = _ip()
    for path in ("/elsewhere/admin/login/", "/admin/login/") * 2:
        response = Client(REMOTE_ADDR=ip).post(
            path, {"username": _name(), "password": WRONG_PASSWORD}
        )
        assert response.status_code == 200
    hash_calls.clear()
    response = Client(REMOTE_ADDR=ip).post(
        "/elsewhere/admin/login/", {"username": _name(), "password": WRONG_PASSWORD}
    )
    assert response.status_code == 429
    assert hash_calls == []


def test_path_of_another_view_rewritten_to_a_limited_one_is_counted(settings):
    _with_rewrite(settings)
    settings.HARDENED_AUTH_RATE_LIMITS = {"login": {"ip": "2/h", "identifier": "9/h"}}
    ip = _ip()
    statuses = [
        Client(REMOTE_ADDR=ip)
        .post("/elsewhere/admin/login/", {"username": _name(), "password": "x"})
        .status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
