"""API tokens: short-lived access, rotating refresh, family revocation."""

import json
import logging
import re
import threading
import time
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from hardened_auth.internal.tokens import token_hash
from hardened_auth.models import (
    TOTP_STEP_SECONDS,
    AccessToken,
    RefreshToken,
    TokenFamily,
    TOTPDevice,
)
from hardened_auth.sessions import end_all_sessions
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hardened_auth.urls")]


def _user():
    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    return user


def _obtain(user, **extra):
    response = Client().post(
        "/auth/token/", {"login": user.email, "password": DEFAULT_PASSWORD, **extra}
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)


def _refresh(token: str):
    return Client().post("/auth/token/refresh/", {"refresh_token": token})


def _me(access: str):
    return Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_obtain_and_use_an_access_token():
    user = _user()
    pair = _obtain(user)
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 600
    response = _me(pair["access_token"])
    assert response.status_code == 200
    assert response.content == f"user {user.pk}".encode()


def test_tokens_are_stored_only_as_hashes():
    pair = _obtain(_user())
    stored = list(AccessToken.objects.values_list("token_hash", flat=True)) + list(
        RefreshToken.objects.values_list("token_hash", flat=True)
    )
    assert token_hash(pair["access_token"]) in stored
    assert token_hash(pair["refresh_token"]) in stored
    assert all(pair["access_token"] not in h for h in stored)


def test_wrong_password_gets_invalid_grant(caplog):
    user = _user()
    with caplog.at_level(logging.INFO):
        response = Client().post(
            "/auth/token/", {"login": user.email, "password": "not it at all"}
        )
    assert response.status_code == 401
    assert json.loads(response.content) == {"error": "invalid_grant"}
    assert "not it at all" not in caplog.text


def test_account_with_a_second_factor_needs_a_code():
    user = _user()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    response = Client().post(
        "/auth/token/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 401
    assert json.loads(response.content) == {"error": "second_factor_required"}
    code = device.code_at(int(time.time()) // TOTP_STEP_SECONDS)
    assert "access_token" in _obtain(user, code=code)


def test_refresh_rotates_and_the_old_token_stops_working():
    pair = _obtain(_user())
    first = _refresh(pair["refresh_token"])
    assert first.status_code == 200
    new = json.loads(first.content)
    assert new["refresh_token"] != pair["refresh_token"]
    assert _me(new["access_token"]).status_code == 200


def test_reused_refresh_token_revokes_the_family(caplog):
    user = _user()
    pair = _obtain(user)
    new = json.loads(_refresh(pair["refresh_token"]).content)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        replay = _refresh(pair["refresh_token"])
    assert replay.status_code == 401
    assert json.loads(replay.content) == {"error": "invalid_grant"}
    [event] = [r for r in caplog.records if r.getMessage() == "authn_token_reuse"]
    assert event.hardened_audit["outcome"] == "denied"
    assert event.hardened_audit["actor"] == str(user.pk)
    assert pair["refresh_token"] not in caplog.text
    assert _me(new["access_token"]).status_code == 401
    assert _refresh(new["refresh_token"]).status_code == 401
    family = TokenFamily.objects.get(user=user)
    assert family.revoked_reason == "refresh_token_reuse"


def test_other_families_survive_a_reuse():
    user = _user()
    laptop, phone = _obtain(user), _obtain(user)
    _refresh(laptop["refresh_token"])
    _refresh(laptop["refresh_token"])
    assert _me(phone["access_token"]).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_with_one_token_succeeds_once_and_revokes():
    """Run on PostgreSQL: SQLite's shared in-memory test database locks tables."""
    pair = _obtain(_user())
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def attempt():
        try:
            barrier.wait()
            statuses.append(_refresh(pair["refresh_token"]).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401]
    assert TokenFamily.objects.get().revoked_at is not None


def test_expired_access_token_is_refused():
    pair = _obtain(_user())
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _me(pair["access_token"])
    assert response.status_code == 401
    assert 'error_description="expired"' in response["WWW-Authenticate"]


def test_expired_refresh_token_is_refused():
    pair = _obtain(_user())
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _refresh(pair["refresh_token"]).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Basic abc",
        "Bearer hat_forged",
        "Bearer hrt_x",
        "Bearer " + "a" * 9000,
    ],
)
def test_missing_forged_or_malformed_access_token_is_refused(header):
    _obtain(_user())
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("token", ["", "hrt_forged", "hat_x", "hrt_" + "a" * 5000])
def test_forged_refresh_token_is_refused_and_changes_nothing(token):
    pair = _obtain(_user())
    assert _refresh(token).status_code == 401
    assert _me(pair["access_token"]).status_code == 200
    assert TokenFamily.objects.get().revoked_at is None


def test_refresh_token_is_not_an_access_token():
    pair = _obtain(_user())
    assert _me(pair["refresh_token"]).status_code == 401


def test_revoke_ends_the_family():
    pair = _obtain(_user())
    response = Client().post(
        "/auth/token/revoke/", {"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 204
    assert _me(pair["access_token"]).status_code == 401
    assert _refresh(pair["refresh_token"]).status_code == 401


def test_deactivated_user_tokens_stop_working():
    user = _user()
    pair = _obtain(user)
    user.is_active = False
    user.save()
    assert _me(pair["access_token"]).status_code == 401
    assert _refresh(pair["refresh_token"]).status_code == 401


def test_end_all_sessions_revokes_tokens():
    user = _user()
    pair = _obtain(user)
    end_all_sessions(user)
    assert _me(pair["access_token"]).status_code == 401


def test_get_is_not_allowed_on_token_endpoints():
    assert Client().get("/auth/token/").status_code == 405
    assert Client().get("/auth/token/refresh/").status_code == 405


NEW_PASSWORD = "an entirely new passphrase 88"


def _assert_families_revoked(user, pairs, caplog) -> None:
    for pair in pairs:
        assert _me(pair["access_token"]).status_code == 401
        assert _refresh(pair["refresh_token"]).status_code == 401
    reasons = set(
        TokenFamily.objects.filter(user=user).values_list("revoked_reason", flat=True)
    )
    assert reasons == {"password_changed"}
    [event] = [r for r in caplog.records if r.getMessage() == "authn_token_revoked"]
    assert event.hardened_audit["cause"] == "password_changed"
    assert event.hardened_audit["count"] == len(pairs)
    assert NEW_PASSWORD not in " ".join(str(r.__dict__) for r in caplog.records)


def test_password_change_revokes_every_token_family(caplog):
    user = _user()
    pairs = [_obtain(user), _obtain(user)]
    bystander = _obtain(_user())
    browser = Client()
    browser.force_login(user)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = browser.post(
            "/accounts/password/change/",
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
    assert response.status_code == 302
    _assert_families_revoked(user, pairs, caplog)
    assert _me(bystander["access_token"]).status_code == 200


def test_password_reset_revokes_every_token_family_and_ends_sessions(caplog):
    user = _user()
    pairs = [_obtain(user), _obtain(user)]
    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get("/auth/sessions/").status_code == 200

    mail.outbox.clear()
    visitor = Client()
    assert (
        visitor.post("/accounts/password/reset/", {"email": user.email}).status_code
        == 302
    )
    [message] = mail.outbox
    link = re.search(
        r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", str(message.body)
    )
    assert link is not None
    form_url = visitor.get(link.group(1))["Location"]
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = visitor.post(
            form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    _assert_families_revoked(user, pairs, caplog)
    assert signed_in.get("/auth/sessions/").status_code == 302
