"""Device pages, the second-factor gate after sign-in, and admin revocation."""

import json
import logging
import re
import time

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client

from hardened_auth import stepup
from hardened_auth.models import (
    TOTP_STEP_SECONDS,
    RecoveryCodeDevice,
    TOTPDevice,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hardened_auth.urls")]


def _code(device: TOTPDevice) -> str:
    return device.code_at(int(time.time()) // TOTP_STEP_SECONDS)


def _signed_in(user=None, verified: bool = False) -> Client:
    client = Client()
    client.force_login(user or UserFactory())
    if verified:
        session = client.session
        session[stepup.SESSION_KEY] = int(time.time())
        session.save()
    return client


def _confirmed_totp(user) -> TOTPDevice:
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True
    )
    return device


def _with_verified_email(user):
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    return user


def _verify(client: Client, device: TOTPDevice) -> None:
    response = client.post("/auth/step-up/", {"code": _code(device)})
    assert response.status_code == 302


def test_enrol_authenticator_app(caplog):
    user = UserFactory()
    client = _signed_in(user)
    page = client.get("/auth/devices/totp/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    assert device.base32_secret.encode() in page.content
    assert page["Cache-Control"].startswith("max-age=0")

    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        done = client.post(
            "/auth/devices/totp/", {"device": device.pk, "code": _code(device)}
        )
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    events = [r.getMessage() for r in caplog.records if r.name == "hardened_auth.audit"]
    assert "authn_mfa_enrolled" in events
    assert device.secret not in caplog.text


def test_enrolment_with_a_wrong_code_stays_unconfirmed():
    user = UserFactory()
    client = _signed_in(user)
    client.get("/auth/devices/totp/")
    device = TOTPDevice.objects.get(user=user)
    wrong = "000000" if _code(device) != "000000" else "111111"
    response = client.post("/auth/devices/totp/", {"device": device.pk, "code": wrong})
    assert response.status_code == 400
    device.refresh_from_db()
    assert not device.confirmed


def test_cannot_confirm_another_users_pending_device():
    victim = UserFactory()
    pending = TOTPDevice.objects.create(user=victim, name="x", confirmed=False)
    client = _signed_in()
    response = client.post(
        "/auth/devices/totp/", {"device": pending.pk, "code": _code(pending)}
    )
    assert response.status_code == 404
    pending.refresh_from_db()
    assert not pending.confirmed


def test_adding_a_second_device_requires_step_up():
    user = UserFactory()
    _confirmed_totp(user)
    client = _signed_in(user)
    response = client.get("/auth/devices/totp/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/step-up/")


def test_recovery_codes_are_shown_once():
    user = UserFactory()
    client = _signed_in(user)
    response = client.post("/auth/devices/recovery-codes/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", response.content.decode())
    assert len(codes) == 10
    assert client.get("/auth/devices/recovery-codes/").status_code == 405
    listing = client.get("/auth/devices/").content.decode()
    assert all(code not in listing for code in codes)
    assert "10 unused recovery codes left." in listing


def test_new_recovery_codes_need_step_up_when_a_device_exists():
    user = UserFactory()
    _confirmed_totp(user)
    client = _signed_in(user)
    assert client.post("/auth/devices/recovery-codes/").status_code == 302
    assert not RecoveryCodeDevice.objects.filter(user=user).exists()


def test_remove_device_needs_step_up_then_works(caplog):
    user = UserFactory()
    device = _confirmed_totp(user)
    client = _signed_in(user)
    refused = client.post("/auth/devices/remove/", {"device": device.persistent_id})
    assert refused.status_code == 302
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    _verify(client, device)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        done = client.post("/auth/devices/remove/", {"device": device.persistent_id})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert "authn_mfa_removed" in [r.getMessage() for r in caplog.records]


def test_cannot_remove_another_users_device():
    victim_device = _confirmed_totp(UserFactory())
    client = _signed_in(verified=True)
    response = client.post(
        "/auth/devices/remove/", {"device": victim_device.persistent_id}
    )
    assert response.status_code == 404
    assert TOTPDevice.objects.filter(pk=victim_device.pk).exists()


@pytest.mark.parametrize(
    "value", ["", "nonsense", "hardened_auth.totpdevice/x", "a" * 500]
)
def test_malformed_device_reference_is_404(value):
    client = _signed_in(verified=True)
    assert client.post("/auth/devices/remove/", {"device": value}).status_code == 404


def test_sign_in_with_a_device_is_held_until_verified():
    user = _with_verified_email(UserFactory())
    device = _confirmed_totp(user)
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    held = client.get("/guarded/class/")
    assert held.status_code == 302
    assert held["Location"].startswith("/auth/step-up/?next=")
    api = client.get("/auth/devices/", HTTP_ACCEPT="application/json")
    assert api.status_code == 401
    assert json.loads(api.content) == {"error": "second_factor_required"}

    _verify(client, device)
    assert client.get("/auth/devices/").status_code == 200


def test_sign_in_with_a_recovery_code():
    user = _with_verified_email(UserFactory())
    _confirmed_totp(user)
    recovery = RecoveryCodeDevice.objects.create(user=user, name="codes")
    codes = recovery.generate_codes()
    client = Client()
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert client.post("/auth/step-up/", {"code": codes[3]}).status_code == 302
    assert client.get("/auth/devices/").status_code == 200
    other = Client()
    other.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert other.post("/auth/step-up/", {"code": codes[3]}).status_code == 400


def test_user_without_device_is_not_held():
    client = _signed_in()
    assert client.get("/auth/devices/").status_code == 200


def test_passkey_registration_needs_step_up_when_a_device_exists():
    """Otherwise a password-only session could add a passkey and be verified."""
    user = UserFactory()
    _confirmed_totp(user)
    client = _signed_in(user)
    response = client.post(
        "/auth/passkeys/registration/begin/", content_type="application/json"
    )
    assert response.status_code == 401
    assert json.loads(response.content)["error"] in {
        "second_factor_required",
        "step_up_required",
    }


def test_passkey_registration_begins_for_a_verified_user():
    user = UserFactory()
    device = _confirmed_totp(user)
    client = _signed_in(user)
    _verify(client, device)
    response = client.post(
        "/auth/passkeys/registration/begin/", content_type="application/json"
    )
    assert response.status_code == 200
    assert "challenge" in json.loads(response.content)


def _staff():
    return get_user_model().objects.create_superuser(
        "root-" + str(time.time_ns()), "root@example.com", DEFAULT_PASSWORD
    )


def test_second_factor_admin_refuses_unverified_staff():
    client = _signed_in(_staff())
    response = client.get("/secure-admin/")
    assert response.status_code == 302
    assert "/secure-admin/login/" in response["Location"]


def test_second_factor_admin_opens_to_verified_staff():
    staff = _staff()
    device = _confirmed_totp(staff)
    client = _signed_in(staff)
    _verify(client, device)
    assert client.get("/secure-admin/").status_code == 200


def test_admin_revokes_a_device_with_an_audit_event(caplog):
    staff = _staff()
    victim_device = _confirmed_totp(UserFactory())
    client = _signed_in(staff)
    _verify(client, _confirmed_totp(staff))
    url = f"/admin/hardened_auth/totpdevice/{victim_device.pk}/delete/"
    page = client.get(url)
    assert page.status_code == 200
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        client.post(url, {"post": "yes"})
    assert not TOTPDevice.objects.filter(pk=victim_device.pk).exists()
    [event] = [r for r in caplog.records if r.getMessage() == "authn_mfa_removed"]
    assert event.hardened_audit["actor"] == str(staff.pk)
    assert event.hardened_audit["owner"] == str(victim_device.user_id)


def test_admin_never_shows_the_secret():
    staff = _staff()
    device = _confirmed_totp(UserFactory())
    client = _signed_in(staff)
    _verify(client, _confirmed_totp(staff))
    page = client.get(f"/admin/hardened_auth/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.secret.encode() not in page.content
    assert device.base32_secret.encode() not in page.content


def test_device_added_elsewhere_holds_the_session_after_the_recheck():
    """The no-device answer is reused for at most a minute per session."""
    from hardened_auth.middleware import NO_DEVICE_CHECKED_KEY

    user = UserFactory()
    client = _signed_in(user)
    assert client.get("/auth/devices/").status_code == 200
    _confirmed_totp(user)
    assert client.get("/auth/devices/").status_code == 200
    session = client.session
    session[NO_DEVICE_CHECKED_KEY] = int(time.time()) - 61
    session.save()
    assert client.get("/auth/devices/").status_code == 302


@pytest.mark.parametrize("value", ["x", "1 OR 1=1", "\u0661\u0662", ""])
def test_malformed_pending_device_id_is_404(value):
    client = _signed_in()
    response = client.post("/auth/devices/totp/", {"device": value, "code": "123456"})
    assert response.status_code == 404


def test_step_up_page_with_empty_post_is_refused():
    client = _signed_in()
    assert client.post("/auth/step-up/", {}).status_code == 400
