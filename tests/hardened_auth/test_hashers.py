import argon2
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import (
    PBKDF2PasswordHasher,
    check_password,
    identify_hasher,
    make_password,
)
from django.test import Client, override_settings

from hardened_auth.hashers import HardenedArgon2PasswordHasher
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _params(encoded: str) -> argon2.Parameters:
    return argon2.extract_parameters("$" + encoded.split("$", 1)[1])


def test_new_passwords_are_argon2id_at_owasp_minimum():
    encoded = make_password("a long enough passphrase")
    assert encoded.startswith("argon2$argon2id$")
    params = _params(encoded)
    assert params.type is argon2.Type.ID
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)


@override_settings(
    HARDENED_AUTH_ARGON2_MEMORY_COST=32768,
    HARDENED_AUTH_ARGON2_TIME_COST=3,
    HARDENED_AUTH_ARGON2_PARALLELISM=2,
)
def test_parameters_follow_settings():
    params = _params(make_password("a long enough passphrase"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (32768, 3, 2)


def test_wrong_password_is_refused():
    encoded = make_password("a long enough passphrase")
    assert check_password("a long enough passphrase", encoded)
    assert not check_password("a long enough passphrasE", encoded)


def test_pbkdf2_hash_is_upgraded_on_login():
    user = UserFactory()
    user.password = PBKDF2PasswordHasher().encode(
        DEFAULT_PASSWORD, PBKDF2PasswordHasher().salt()
    )
    user.save(update_fields=["password"])
    assert authenticate(username=user.username, password=DEFAULT_PASSWORD) == user
    user.refresh_from_db()
    assert isinstance(identify_hasher(user.password), HardenedArgon2PasswordHasher)
    assert _params(user.password).type is argon2.Type.ID


def test_weaker_argon2_hash_is_upgraded_on_login():
    user = UserFactory()
    with override_settings(HARDENED_AUTH_ARGON2_MEMORY_COST=8192):
        user.set_password(DEFAULT_PASSWORD)
        user.save(update_fields=["password"])
    assert _params(user.password).memory_cost == 8192
    client = Client()
    assert client.login(username=user.username, password=DEFAULT_PASSWORD)
    user.refresh_from_db()
    assert _params(user.password).memory_cost == 19456


def test_argon2i_hash_is_upgraded_to_argon2id():
    user = UserFactory()
    raw = argon2.PasswordHasher(
        time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.I
    ).hash(DEFAULT_PASSWORD)
    user.password = "argon2" + raw
    user.save(update_fields=["password"])
    assert authenticate(username=user.username, password=DEFAULT_PASSWORD) == user
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


def test_failed_login_does_not_upgrade():
    user = UserFactory()
    legacy = PBKDF2PasswordHasher().encode(
        DEFAULT_PASSWORD, PBKDF2PasswordHasher().salt()
    )
    user.password = legacy
    user.save(update_fields=["password"])
    assert authenticate(username=user.username, password="not the password") is None
    user.refresh_from_db()
    assert user.password == legacy
