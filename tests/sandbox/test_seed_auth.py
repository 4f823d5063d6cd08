"""The sandbox seeder that gives the demo superuser a second factor."""

import base64
import io
import re

import pytest
from django.test import Client
from django_otp.oath import totp

from demo import seed_auth
from hardened_auth.models import TOTP_STEP_SECONDS, RecoveryCodeDevice, TOTPDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _seed(users: dict) -> tuple[str, list[str]]:
    out = io.StringIO()
    seed_auth.seed(tenants={}, users=users, stdout=out)
    printed = out.getvalue()
    secret = re.search(r"key \(base32\): ([A-Z2-7]+)$", printed, re.MULTILINE)
    assert secret is not None
    codes = re.findall(r"^    (\w{4}-\w{4}-\w{4})$", printed, re.MULTILINE)
    return secret[1], codes


def _code(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=TOTP_STEP_SECONDS):06d}"


def _signed_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=DEFAULT_PASSWORD)
    return client


def _step_up(client: Client, code: str) -> int:
    return client.post("/auth/step-up/", {"code": code}).status_code


def test_printed_key_is_the_superusers_confirmed_authenticator():
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    secret, codes = _seed({"admin": admin, "alice": UserFactory(username="alice")})

    [device] = TOTPDevice.objects.filter(user=admin)
    assert device.confirmed
    assert device.base32_secret == secret
    assert len(codes) == 10
    assert RecoveryCodeDevice.objects.get(user=admin).remaining() == 10
    assert not TOTPDevice.objects.filter(user__username="alice").exists()
    assert not RecoveryCodeDevice.objects.filter(user__username="alice").exists()


def test_printed_key_opens_the_admin_after_the_password():
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    secret, _ = _seed({"admin": admin})
    client = _signed_in("admin")
    assert client.get("/admin/").status_code == 302

    assert _step_up(client, _code(secret)) == 302
    assert client.get("/admin/").status_code == 200


def test_printed_recovery_code_works_once():
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    _, codes = _seed({"admin": admin})

    first = _signed_in("admin")
    assert _step_up(first, codes[0]) == 302
    assert first.get("/admin/").status_code == 200

    second = _signed_in("admin")
    assert _step_up(second, codes[0]) == 400
    assert second.get("/admin/").status_code == 302


def test_running_again_replaces_the_key_and_the_codes():
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    old_secret, old_codes = _seed({"admin": admin})
    new_secret, new_codes = _seed({"admin": admin})

    assert old_secret != new_secret
    assert TOTPDevice.objects.filter(user=admin).count() == 1
    assert RecoveryCodeDevice.objects.filter(user=admin).count() == 1
    assert _step_up(_signed_in("admin"), new_codes[0]) == 302
    client = _signed_in("admin")
    assert _step_up(client, old_codes[1]) == 400
    assert _step_up(client, _code(old_secret)) == 400
