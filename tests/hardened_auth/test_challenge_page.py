"""The page a browser gets when its sign-in must carry a solved challenge.

It solves the challenge with a static script (no inline code, so the
sandbox's Content-Security-Policy holds), asks again for the password
without echoing it, and tells a browser without JavaScript what is needed.
The ``{% sign_in_challenge %}`` tag puts the same widget on a sign-in page.
"""

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from altcha import v1 as altcha_v1
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory

from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import velocity
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "a wrong password, never shown"


@pytest.fixture(autouse=True)
def _thresholds(settings: Any) -> None:
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = {
        "identifier": {"challenge": 2},
        "ip": {"challenge": 40},
        "site": {},
    }
    settings.HARDENED_AUTH_ALTCHA_MAX_NUMBER = 2000


def _client() -> Client:
    value = uuid.uuid4().int
    return Client(REMOTE_ADDR=f"192.0.2.{value % 250 + 1}")


def _email() -> str:
    return f"who-{uuid.uuid4().hex[:10]}@example.com"


def _fail(field: str, identifier: str, times: int = 2, ip: str = "192.0.2.9") -> None:
    for _ in range(times):
        request = RequestFactory().post(
            "/accounts/login/", {field: identifier}, REMOTE_ADDR=ip
        )
        velocity.record_failure(request)


def _challenge_of(body: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="altcha-challenge" type="application/json">(.*?)</script>', body
    )
    assert found is not None
    challenge: dict[str, Any] = json.loads(found[1])
    return challenge


def _solve(challenge: dict[str, Any]) -> str:
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
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def _scripts(body: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", body)


def test_challenge_page_asks_again_without_echoing_the_password():
    email = _email()
    _fail("login", email)
    response = _client().post(
        "/accounts/login/?next=/feed/", {"login": email, "password": WRONG}
    )
    body = response.content.decode()

    assert response.status_code == 429
    assert '<form method="post" action="/accounts/login/?next=/feed/"' in body
    assert f'name="login" id="challenge-identifier" value="{email}"' in body
    assert 'type="password" name="password"' in body
    assert WRONG not in body
    assert "data-altcha-widget" in body
    assert 'src="/static/hardened_auth/altcha.js"' in body
    assert "JavaScript is needed to sign in right now." in body
    assert re.search(r"wait\s+\d+ seconds and try again", body)


def test_challenge_page_has_no_inline_script_or_style():
    email = _email()
    _fail("login", email)
    response = _client().post("/accounts/login/", {"login": email, "password": WRONG})
    body = response.content.decode()

    for tag in _scripts(body):
        assert "src=" in tag or 'type="application/json"' in tag
    assert "style=" not in body
    assert "<style" not in body
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_challenge_from_the_page_signs_in_once_solved_and_only_once():
    user = UserFactory(email=_email())
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    _fail("login", user.email)
    client = _client()
    refused = client.post(
        "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert refused.status_code == 429
    solved = _solve(_challenge_of(refused.content.decode()))

    data = {"login": user.email, "password": DEFAULT_PASSWORD, "altcha": solved}
    signed_in = client.post("/accounts/login/", data)
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/"

    replayed = _client().post("/accounts/login/", data)
    assert replayed.status_code == 429


def test_hostile_identifier_is_escaped_and_cut_to_length():
    hostile = '"><script>alert(1)</script>@example.com' + "x" * 400
    _fail("login", hostile)
    response = _client().post("/accounts/login/", {"login": hostile, "password": "x"})
    body = response.content.decode()

    assert response.status_code == 429
    assert "<script>alert(1)" not in body
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body
    value = re.search(r'id="challenge-identifier" value="([^"]*)"', body)
    assert value is not None
    assert "x" * 300 not in value[1]


def test_foreign_next_is_not_carried_over():
    email = _email()
    _fail("login", email)
    response = _client().post(
        "/accounts/login/",
        {"login": email, "password": "x", "next": "https://evil.example/"},
    )
    assert response.status_code == 429
    assert b"evil.example" not in response.content


def test_admin_form_keeps_its_code_field_and_device():
    username = f"op-{uuid.uuid4().hex[:8]}"
    _fail("username", username)
    response = _client().post(
        "/admin/login/",
        {
            "username": username,
            "password": "x",
            "otp_device": "hardened_auth.totpdevice/7",
            "otp_token": "123456",
        },
    )
    body = response.content.decode()

    assert response.status_code == 429
    assert 'name="username" id="challenge-identifier"' in body
    assert 'name="otp_device" value="hardened_auth.totpdevice/7"' in body
    assert 'name="otp_token" id="challenge-otp"' in body
    assert "123456" not in body


def test_json_clients_still_get_the_challenge_as_json():
    email = _email()
    _fail("login", email)
    response = _client().post(
        "/accounts/login/",
        {"login": email, "password": WRONG},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 429
    assert json.loads(response.content)["error"] == "challenge_required"


def test_sign_in_page_has_no_widget_below_the_thresholds():
    response = _client().get("/accounts/login/")
    assert response.status_code == 200
    assert b"data-altcha-widget" not in response.content


def test_sign_in_page_shows_the_widget_when_the_address_must_solve_one(settings):
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = {"ip": {"challenge": 2}}
    _fail("login", _email(), ip="198.51.100.77")
    response = Client(REMOTE_ADDR="198.51.100.77").get("/accounts/login/")
    body = response.content.decode()

    assert response.status_code == 200
    assert "data-altcha-widget" in body
    ok, _ = altcha_v1.verify_solution(_solve(_challenge_of(body)), velocity._hmac_key())
    assert ok


def test_sign_in_page_re_rendered_after_the_last_allowed_failure_shows_it():
    email = _email()
    _fail("login", email, times=1)
    response = _client().post("/accounts/login/", {"login": email, "password": WRONG})
    assert response.status_code == 200
    assert b"data-altcha-widget" in response.content


def test_sign_in_page_shows_no_widget_when_the_limiter_cannot_count(monkeypatch):
    def unavailable(request: Any) -> velocity.Friction:
        raise RateLimiterUnavailable("velocity")

    monkeypatch.setattr(velocity, "friction", unavailable)
    response = _client().get("/accounts/login/")
    assert response.status_code == 200
    assert b"data-altcha-widget" not in response.content


def test_widget_script_is_a_static_file():
    path = finders.find("hardened_auth/altcha.js")
    assert path is not None
    source = Path(path).read_text(encoding="utf-8")
    assert "crypto.subtle.digest" in source
    assert "eval(" not in source
