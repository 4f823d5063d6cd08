import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, RequestFactory, override_settings

from hardened_auth import stepup
from hardened_auth.models import TOTP_STEP_SECONDS, TOTPDevice
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hardened_auth.urls")]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _set_verified_at(client: Client, value: object) -> None:
    session = client.session
    session[stepup.SESSION_KEY] = value
    session.save()


def _current_code(device: TOTPDevice) -> str:
    return device.code_at(int(time.time()) // TOTP_STEP_SECONDS)


def test_missing_step_up_redirects_to_verification_with_next():
    client = _client_for(UserFactory())
    response = client.get("/guarded/default/?amount=5")
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert parts.path == "/auth/step-up/"
    assert parse_qs(parts.query) == {"next": ["/guarded/default/?amount=5"]}


def test_recent_step_up_lets_the_view_run():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) - 10)
    response = client.get("/guarded/default/")
    assert response.status_code == 200
    assert response.content == b"money moved"


def test_default_max_age_is_300_seconds():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) - 290)
    assert client.get("/guarded/default/").status_code == 200
    _set_verified_at(client, int(time.time()) - 310)
    assert client.get("/guarded/default/").status_code == 302


@override_settings(HARDENED_AUTH_STEP_UP_MAX_AGE=30)
def test_max_age_setting_changes_the_default():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) - 45)
    assert client.get("/guarded/default/").status_code == 302


def test_explicit_max_age_overrides_the_setting():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) - 90)
    assert client.get("/guarded/default/").status_code == 200
    assert client.get("/guarded/short/").status_code == 302


def test_mixin_uses_its_max_age_attribute():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) - 100)
    assert client.get("/guarded/class/").content == b"class view ran"
    _set_verified_at(client, int(time.time()) - 130)
    assert client.get("/guarded/class/").status_code == 302


def test_mixin_guards_every_method():
    client = _client_for(UserFactory())
    assert client.post("/guarded/class/").status_code == 302


def test_json_client_gets_401_with_error_body():
    client = _client_for(UserFactory())
    response = client.get("/guarded/default/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"error": "step_up_required"}


def test_json_body_request_gets_401():
    client = _client_for(UserFactory())
    response = client.post(
        "/guarded/class/", data="{}", content_type="application/json"
    )
    assert response.status_code == 401
    assert json.loads(response.content) == {"error": "step_up_required"}


def test_browser_accept_header_gets_redirect():
    client = _client_for(UserFactory())
    response = client.get(
        "/guarded/default/",
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/json;q=0.9",
    )
    assert response.status_code == 302


@pytest.mark.parametrize("value", ["1700000000", None, True, 1.5, [1]])
def test_malformed_timestamp_counts_as_missing(value):
    client = _client_for(UserFactory())
    _set_verified_at(client, value)
    assert client.get("/guarded/default/").status_code == 302


def test_timestamp_in_the_future_is_refused():
    client = _client_for(UserFactory())
    _set_verified_at(client, int(time.time()) + 3600)
    assert client.get("/guarded/default/").status_code == 302


def test_anonymous_user_is_never_verified():
    client = Client()
    _set_verified_at(client, int(time.time()))
    assert client.get("/guarded/default/").status_code == 302


def test_unsafe_request_path_gives_no_next():
    """A request path of //evil.example must not become an open redirect."""
    request = RequestFactory().get("/x/")
    request.path_info = request.path = "//evil.example/x/"
    request.user = UserFactory()
    request.session = Client().session
    response = stepup.step_up_response(request)
    assert response["Location"] == "/auth/step-up/"


def test_refused_post_returns_to_the_page_that_held_the_form():
    client = _client_for(UserFactory())
    response = client.post(
        "/guarded/class/", HTTP_REFERER="http://testserver/settings/?tab=2"
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"next": ["http://testserver/settings/?tab=2"]}


@pytest.mark.parametrize(
    "referer", ["https://evil.example/form/", "//evil.example/form/", ""]
)
def test_refused_post_with_a_foreign_or_no_referer_gives_no_next(referer):
    client = _client_for(UserFactory())
    response = client.post("/guarded/class/", HTTP_REFERER=referer)
    assert response["Location"] == "/auth/step-up/"


@override_settings(HARDENED_AUTH_STEP_UP_URL="/verify/?method=totp")
def test_custom_url_with_query_keeps_it():
    client = _client_for(UserFactory())
    response = client.get("/guarded/default/")
    parts = urlsplit(response["Location"])
    assert parts.path == "/verify/"
    assert parse_qs(parts.query) == {
        "method": ["totp"],
        "next": ["/guarded/default/"],
    }


def test_denial_is_audited(caplog):
    user = UserFactory()
    client = _client_for(user)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        client.get("/guarded/default/")
    [record] = [r for r in caplog.records if r.getMessage() == "authz_fail"]
    assert record.hardened_audit["outcome"] == "denied"
    assert record.hardened_audit["actor"] == str(user.pk)
    assert record.hardened_audit["cause"] == "step_up_required"
    assert record.hardened_audit["ip"] == "127.0.0.1"


def test_mark_verified_rotates_the_session_key():
    user = UserFactory()
    client = _client_for(user)
    request = RequestFactory().get("/")
    request.user = user
    from importlib import import_module

    from django.conf import settings

    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(client.session.session_key)
    old_key = request.session.session_key
    before = int(time.time())
    stepup.mark_second_factor_verified(request)
    request.session.save()
    assert request.session.session_key != old_key
    assert before <= request.session[stepup.SESSION_KEY] <= int(time.time())
    assert stepup.verified_within(request, 5)
    assert not engine.SessionStore().exists(old_key)


def test_verification_page_round_trip_with_totp():
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = _client_for(user)
    old_key = client.session.session_key
    response = client.get("/guarded/short/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b'value="/guarded/short/"' in page.content

    verified = client.post(
        "/auth/step-up/",
        {"code": _current_code(device), "next": "/guarded/short/"},
    )
    assert verified.status_code == 302
    assert verified["Location"] == "/guarded/short/"
    assert client.session.session_key != old_key
    assert client.get("/guarded/short/").content == b"role granted"


def test_wrong_code_is_refused_and_changes_nothing(caplog):
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = _client_for(user)
    wrong = str((int(_current_code(device)) + 1) % 1_000_000).zfill(6)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = client.post("/auth/step-up/", {"code": wrong})
    assert response.status_code == 400
    assert stepup.SESSION_KEY not in client.session
    assert client.get("/guarded/short/").status_code == 302
    events = [r.getMessage() for r in caplog.records if r.name == "hardened_auth.audit"]
    assert "authn_mfa_fail" in events
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_replayed_totp_code_is_refused():
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = _client_for(user)
    code = _current_code(device)
    assert client.post("/auth/step-up/", {"code": code}).status_code == 302
    other = _client_for(user)
    assert other.post("/auth/step-up/", {"code": code}).status_code == 400


def test_unconfirmed_device_does_not_count():
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=False)
    client = _client_for(user)
    response = client.post("/auth/step-up/", {"code": _current_code(device)})
    assert response.status_code == 400


def test_oversized_code_is_refused():
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = _client_for(user)
    response = client.post("/auth/step-up/", {"code": "1" * 10_000})
    assert response.status_code == 400


def test_external_next_is_dropped_after_verification():
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = _client_for(user)
    response = client.post(
        "/auth/step-up/",
        {"code": _current_code(device), "next": "https://evil.example/steal"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_verification_page_requires_login():
    response = Client().get("/auth/step-up/")
    assert response.status_code == 302
    assert "/auth/step-up/" not in urlsplit(response["Location"]).path
