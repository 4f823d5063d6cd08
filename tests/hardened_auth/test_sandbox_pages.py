"""The sandbox serves the account, device and session pages."""

import pytest
from django.test import Client

from hardened_auth.models import TOTPDevice
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/accounts/login/", b'name="login"'),
        ("/accounts/signup/", b'name="password2"'),
        ("/accounts/password/reset/", b'name="email"'),
    ],
)
def test_account_pages_render(url, text):
    response = Client().get(url)
    assert response.status_code == 200
    assert text in response.content


def test_device_pages_render_for_a_signed_in_user():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    devices = client.get("/auth/devices/")
    assert devices.status_code == 200
    assert b"passkey-register-button" in devices.content
    assert b"otp_webauthn_config" in devices.content
    totp = client.get("/auth/devices/totp/")
    assert totp.status_code == 200
    device = TOTPDevice.objects.get(user=user)
    assert device.base32_secret.encode() in totp.content
    assert b"data:image/svg+xml;base64," in totp.content
    assert client.get("/auth/sessions/").status_code == 200
    assert client.get("/auth/step-up/").status_code == 200
