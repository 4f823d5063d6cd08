"""The admin site that opens only after a second factor, as the sandbox uses it."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from hardened_auth.admin_site import NO_DEVICE_MESSAGE
from hardened_auth.models import TOTP_STEP_SECONDS, TOTPDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECOND_FACTOR_MIDDLEWARE = "hardened_auth.middleware.SecondFactorMiddleware"


def _staff(username: str = "root"):
    return get_user_model().objects.create_superuser(
        username, f"{username}@example.com", DEFAULT_PASSWORD
    )


def _device(user) -> TOTPDevice:
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True
    )
    return device


def _code(device: TOTPDevice) -> str:
    return device.code_at(int(time.time()) // TOTP_STEP_SECONDS)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_with_a_device_verify_before_the_admin_opens():
    staff = _staff()
    device = _device(staff)
    client = _signed_in(staff)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/step-up/?next=%2Fadmin%2F"

    verified = client.post(response["Location"], {"code": _code(device)})
    assert verified.status_code == 302
    assert verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_verified_staff_opening_the_admin_login_go_to_the_index():
    staff = _staff()
    device = _device(staff)
    client = _signed_in(staff)
    client.post("/auth/step-up/", {"code": _code(device)})

    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_staff_without_a_device_are_sent_to_add_one():
    client = _signed_in(_staff())

    response = client.get("/admin/", follow=True)
    assert [url for url, _ in response.redirect_chain] == [
        "/admin/login/?next=/admin/",
        "/auth/devices/",
    ]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [NO_DEVICE_MESSAGE]


def test_unverified_staff_go_to_verification_without_the_middleware(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != SECOND_FACTOR_MIDDLEWARE
    ]
    staff = _staff()
    _device(staff)
    client = _signed_in(staff)

    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/step-up/?next=")
    assert client.get("/admin/").status_code == 302


def test_signed_in_user_who_is_not_staff_sees_the_login_form():
    client = _signed_in(UserFactory())
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="otp_token"' in response.content


def test_password_alone_does_not_open_the_admin():
    staff = _staff()
    _device(staff)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": staff.username, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200
    assert b"Please enter your OTP token" in response.content
    assert client.get("/admin/").status_code == 302


def test_admin_login_form_accepts_password_and_code():
    staff = _staff()
    device = _device(staff)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": staff.username,
            "password": DEFAULT_PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _code(device),
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_login_refuses_another_users_device():
    staff = _staff()
    _device(staff)
    other_device = _device(UserFactory())
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": staff.username,
            "password": DEFAULT_PASSWORD,
            "otp_device": other_device.persistent_id,
            "otp_token": _code(other_device),
        },
    )
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_session_naming_another_users_device_is_not_verified():
    staff = _staff()
    _device(staff)
    other_device = _device(UserFactory())
    client = _signed_in(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = other_device.persistent_id
    session.save()

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/step-up/")


def test_replayed_code_does_not_open_the_admin():
    staff = _staff()
    device = _device(staff)
    code = _code(device)
    first = _signed_in(staff)
    assert first.post("/auth/step-up/", {"code": code}).status_code == 302

    second = _signed_in(staff)
    assert second.post("/auth/step-up/", {"code": code}).status_code == 400
    assert second.get("/admin/").status_code == 302
