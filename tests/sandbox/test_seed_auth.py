"""The sandbox seeder that gives every demo user a second factor."""

import io
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import Client

from demo import seed_auth
from hardened_auth import stepup
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sandbox.seed_output import SecondFactor, second_factors

pytestmark = pytest.mark.django_db

DEMO_USERS = ("admin", "alice", "bob", "carol")


def _users() -> dict[str, Any]:
    users = {name: UserFactory(username=name) for name in DEMO_USERS}
    users["admin"].is_staff = users["admin"].is_superuser = True
    users["admin"].save()
    return users


def _seed(users: dict[str, Any]) -> tuple[str, dict[str, SecondFactor]]:
    out = io.StringIO()
    seed_auth.seed(tenants={}, users=users, stdout=out)
    printed = out.getvalue()
    return printed, second_factors(printed)


def _signed_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=DEFAULT_PASSWORD)
    return client


def _step_up(client: Client, code: str) -> int:
    return client.post("/auth/step-up/", {"code": code}).status_code


def test_every_user_gets_the_confirmed_authenticator_that_is_printed():
    users = _users()
    printed, factors = _seed(users)

    assert set(factors) == set(DEMO_USERS)
    for name, user in users.items():
        [device] = TOTPDevice.objects.filter(user=user)
        assert device.confirmed
        assert device.base32_secret == factors[name].secret
        assert device.verify_token(factors[name].code())
        assert len(factors[name].recovery_codes) == 10
        assert RecoveryCodeDevice.objects.get(user=user).remaining() == 10
    assert printed.rstrip().endswith("demo use only.")


def test_each_printed_uri_carries_the_same_key():
    _, factors = _seed(_users())

    for name, factor in factors.items():
        uri = urlsplit(factor.uri)
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        assert unquote(uri.path).endswith(f":{name}")
        assert parse_qs(uri.query)["secret"] == [factor.secret]


def test_keys_and_codes_differ_between_users():
    _, factors = _seed(_users())

    assert len({f.secret for f in factors.values()}) == len(DEMO_USERS)
    codes = [code for f in factors.values() for code in f.recovery_codes]
    assert len(set(codes)) == len(codes)


def test_one_users_key_and_codes_do_not_verify_another():
    users = _users()
    _, factors = _seed(users)

    carol = _signed_in("carol")
    assert _step_up(carol, factors["alice"].code()) == 400
    assert _step_up(carol, factors["alice"].recovery_codes[0]) == 400
    assert RecoveryCodeDevice.objects.get(user=users["alice"]).remaining() == 10


def test_printed_key_opens_the_admin_after_the_password():
    _, factors = _seed(_users())
    client = _signed_in("admin")
    assert client.get("/admin/").status_code == 302

    assert _step_up(client, factors["admin"].code()) == 302
    assert client.get("/admin/").status_code == 200


def test_printed_key_gives_the_seller_the_fresh_step_up_payouts_ask_for():
    _, factors = _seed(_users())
    carol = _signed_in("carol")
    held = carol.get("/")
    assert held.status_code == 302
    assert held["Location"].startswith("/auth/step-up/")
    assert stepup.SESSION_KEY not in carol.session

    assert _step_up(carol, factors["carol"].code()) == 302
    assert carol.get("/").status_code == 200
    assert 0 <= time.time() - carol.session[stepup.SESSION_KEY] < 60


def test_printed_recovery_code_works_once():
    _, factors = _seed(_users())
    code = factors["alice"].recovery_codes[0]

    first = _signed_in("alice")
    assert _step_up(first, code) == 302
    assert first.get("/").status_code == 200

    second = _signed_in("alice")
    assert _step_up(second, code) == 400
    assert second.get("/").status_code == 302


def test_running_again_replaces_the_key_and_the_codes():
    users = _users()
    _, old = _seed(users)
    _, new = _seed(users)

    for name, user in users.items():
        assert old[name].secret != new[name].secret
        assert TOTPDevice.objects.filter(user=user).count() == 1
        assert RecoveryCodeDevice.objects.filter(user=user).count() == 1
    assert _step_up(_signed_in("carol"), new["carol"].recovery_codes[0]) == 302
    client = _signed_in("carol")
    assert _step_up(client, old["carol"].recovery_codes[1]) == 400
    assert _step_up(client, old["carol"].code()) == 400


def test_a_recovery_device_left_unconfirmed_is_confirmed_again():
    users = _users()
    RecoveryCodeDevice.objects.create(
        user=users["bob"], name="Recovery codes", confirmed=False
    )
    _, factors = _seed(users)

    assert RecoveryCodeDevice.objects.get(user=users["bob"]).confirmed
    assert _step_up(_signed_in("bob"), factors["bob"].recovery_codes[0]) == 302
