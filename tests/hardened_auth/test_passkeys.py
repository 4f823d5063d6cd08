"""Passkey sign-in, verification and revocation, with a software authenticator.

The authenticator in ``passkey_authenticator`` signs real assertions, so
each ceremony runs django-otp-webauthn's whole verification.
"""

import json
import logging
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn.models import WebAuthnCredential

from hardened_auth import stepup
from hardened_auth.models import TOTPDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory, force_login_verified
from tests.hardened_auth.passkey_authenticator import (
    BEGIN_URL,
    COMPLETE_URL,
    SoftwarePasskey,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hardened_auth.urls")]


def _events(caplog, name: str) -> list[dict]:
    return [
        r.hardened_audit
        for r in caplog.records
        if r.name == "hardened_auth.audit" and r.getMessage() == name
    ]


def _is_signed_in(client: Client) -> bool:
    return client.get("/auth/sessions/").status_code == 200


def test_passkey_sign_in_is_audited_once(caplog):
    user = UserFactory()
    passkey = SoftwarePasskey(user)
    client = Client()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client)
    assert response.status_code == 200
    assert json.loads(response.content)["id"] == passkey.device.pk
    [login] = _events(caplog, "authn_login_success")
    assert login["actor"] == str(user.pk)
    [verified] = _events(caplog, "authn_mfa_success")
    assert verified["target"] == passkey.device.persistent_id
    assert verified["ceremony"] == "sign_in"
    assert client.session[DEVICE_ID_SESSION_KEY] == passkey.device.persistent_id
    assert _is_signed_in(client)


def test_passkey_verifies_a_password_session_and_rotates_its_key(caplog):
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    passkey = SoftwarePasskey(user)
    client = Client()
    client.force_login(user)
    assert client.get("/auth/sessions/").status_code == 302
    before = client.session.session_key

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client)
    assert response.status_code == 200
    assert client.session.session_key != before
    assert 0 <= time.time() - client.session[stepup.SESSION_KEY] < 60
    assert _events(caplog, "authn_login_success") == []
    [verified] = _events(caplog, "authn_mfa_success")
    assert verified["ceremony"] == "verification"
    assert verified["actor"] == str(user.pk)
    assert _is_signed_in(client)


def _refused(client: Client, caplog, response, code: str) -> None:
    assert response.status_code in {400, 403, 404, 422}
    assert json.loads(response.content)["code"] == code
    [failure] = _events(caplog, "authn_mfa_fail")
    assert failure["outcome"] == "failure"
    assert failure["cause"] == code
    assert failure["device_type"] == "webauthn"
    assert _events(caplog, "authn_login_success") == []
    assert _events(caplog, "authn_mfa_success") == []
    assert not _is_signed_in(client)


def test_forged_assertion_is_refused_and_audited(caplog):
    passkey = SoftwarePasskey(UserFactory())
    client = Client()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client, forge=True)
    _refused(client, caplog, response, "invalid_authentication_response")
    passkey.device.refresh_from_db()
    assert passkey.device.sign_count == 0


def test_assertion_for_another_origin_is_refused_and_audited(caplog):
    passkey = SoftwarePasskey(UserFactory())
    client = Client()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client, origin="https://evil.example")
    _refused(client, caplog, response, "invalid_authentication_response")


def test_replayed_assertion_is_refused_and_audited(caplog):
    passkey = SoftwarePasskey(UserFactory())
    client = Client()
    begun = json.loads(client.post(BEGIN_URL, content_type="application/json").content)
    body = json.dumps(passkey.assertion(begun))
    assert (
        client.post(COMPLETE_URL, body, content_type="application/json").status_code
        == 200
    )
    client.logout()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = client.post(COMPLETE_URL, body, content_type="application/json")
    _refused(client, caplog, response, "invalid_state")


def test_assertion_of_an_unknown_credential_is_refused_and_audited(caplog):
    passkey = SoftwarePasskey(UserFactory())
    passkey.device.delete()
    client = Client()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client)
    _refused(client, caplog, response, "credential_not_found")


def test_disabled_passkey_is_refused_and_audited(caplog):
    passkey = SoftwarePasskey(UserFactory())
    WebAuthnCredential.objects.filter(pk=passkey.device.pk).update(confirmed=False)
    client = Client()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = passkey.use(client)
    _refused(client, caplog, response, "credential_disabled")


def _operator() -> Client:
    staff = get_user_model().objects.create_superuser(
        f"root-{time.time_ns()}", "root@example.com", DEFAULT_PASSWORD
    )
    client = Client()
    force_login_verified(client, staff)
    client.staff = staff  # type: ignore[attr-defined]
    return client


PASSKEY_ADMIN = "/admin/django_otp_webauthn/webauthncredential/"


def test_admin_lists_passkeys_read_only():
    passkey = SoftwarePasskey(UserFactory(), name="Laptop passkey")
    client = _operator()
    listing = client.get(PASSKEY_ADMIN)
    assert listing.status_code == 200
    assert b"Laptop passkey" in listing.content
    assert client.get(f"{PASSKEY_ADMIN}add/").status_code == 403

    change_url = f"{PASSKEY_ADMIN}{passkey.device.pk}/change/"
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="name"' not in page.content
    client.post(change_url, {"name": "renamed", "confirmed": ""})
    passkey.device.refresh_from_db()
    assert (passkey.device.name, passkey.device.confirmed) == ("Laptop passkey", True)


def test_admin_deletes_a_passkey_with_an_audit_event(caplog):
    owner = UserFactory()
    passkey = SoftwarePasskey(owner)
    client = _operator()
    url = f"{PASSKEY_ADMIN}{passkey.device.pk}/delete/"
    assert client.get(url).status_code == 200
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert client.post(url, {"post": "yes"}).status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=passkey.device.pk).exists()
    [event] = _events(caplog, "authn_mfa_removed")
    assert event["actor"] == str(client.staff.pk)  # type: ignore[attr-defined]
    assert event["owner"] == str(owner.pk)
    assert event["target"] == passkey.device.persistent_id
    assert passkey.use(Client()).status_code == 404


def test_admin_bulk_deletes_passkeys_with_an_event_each(caplog):
    passkeys = [SoftwarePasskey(UserFactory()) for _ in range(2)]
    client = _operator()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = client.post(
            PASSKEY_ADMIN,
            {
                "action": "delete_selected",
                "_selected_action": [p.device.pk for p in passkeys],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(
        pk__in=[p.device.pk for p in passkeys]
    ).exists()
    assert sorted(e["target"] for e in _events(caplog, "authn_mfa_removed")) == sorted(
        p.device.persistent_id for p in passkeys
    )
