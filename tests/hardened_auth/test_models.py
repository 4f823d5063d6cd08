import threading
import time

import pytest
from django.db import connection

from hardened_auth.models import (
    TOTP_STEP_SECONDS,
    RecoveryCode,
    RecoveryCodeDevice,
    TOTPDevice,
    hash_recovery_code,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _step() -> int:
    return int(time.time()) // TOTP_STEP_SECONDS


def _device(**kwargs) -> TOTPDevice:
    device: TOTPDevice = TOTPDevice.objects.create(
        user=UserFactory(), name="phone", **kwargs
    )
    return device


def test_current_code_is_accepted_once():
    device = _device()
    code = device.code_at(_step())
    assert device.verify_token(code)
    assert not device.verify_token(code)
    assert not TOTPDevice.objects.get(pk=device.pk).verify_token(code)


def test_older_code_is_refused_after_a_newer_one():
    device = _device()
    previous = device.code_at(_step() - 1)
    assert device.verify_token(device.code_at(_step()))
    assert not device.verify_token(previous)


def test_code_outside_the_tolerance_is_refused():
    device = _device()
    assert not device.verify_token(device.code_at(_step() - 3))
    assert not device.verify_token(device.code_at(_step() + 3))


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "abcdef", "12 345", "9" * 5000]
)
def test_malformed_codes_are_refused(code):
    assert not _device().verify_token(code)


def test_failures_throttle_the_device():
    device = _device()
    assert not device.verify_token(
        "000000" if device.code_at(_step()) != "000000" else "111111"
    )
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert not device.verify_token(device.code_at(_step()))


@pytest.mark.django_db(transaction=True)
def test_concurrent_use_of_one_code_succeeds_once():
    device = _device()
    code = device.code_at(_step())
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def attempt():
        try:
            copy = TOTPDevice.objects.get(pk=device.pk)
            barrier.wait()
            results.append(copy.verify_token(code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_secret_is_encrypted_at_rest():
    device = _device()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM hardened_auth_totpdevice WHERE id = %s", [device.pk]
        )
        [stored] = cursor.fetchone()
    assert stored.startswith("hp1$")
    assert device.secret not in stored
    assert TOTPDevice.objects.get(pk=device.pk).secret == device.secret


def test_config_url_carries_the_base32_secret():
    device = _device()
    url = device.config_url("Example Site")
    assert url.startswith("otpauth://totp/Example%20Site%3A")
    assert f"secret={device.base32_secret}" in url
    assert "period=30" in url


def _recovery_device():
    device = RecoveryCodeDevice.objects.create(user=UserFactory(), name="codes")
    return device, device.generate_codes()


def test_recovery_codes_are_stored_only_as_hashes():
    device, codes = _recovery_device()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(device=device).values_list("code_hash"))
    flat = " ".join(h for (h,) in stored)
    assert all(code.replace("-", "") not in flat for code in codes)
    assert {hash_recovery_code(c) for c in codes} == {h for (h,) in stored}


def test_recovery_code_works_once():
    device, codes = _recovery_device()
    assert device.verify_token(codes[0])
    assert not device.verify_token(codes[0])
    assert device.remaining() == 9


def test_recovery_code_tolerates_case_spaces_and_dashes():
    device, codes = _recovery_device()
    assert device.verify_token(" " + codes[1].replace("-", " ").lower() + " ")


def test_recovery_code_of_another_user_is_refused():
    device, _ = _recovery_device()
    _, other_codes = _recovery_device()
    assert not device.verify_token(other_codes[0])


def test_new_codes_replace_the_old_ones():
    device, old = _recovery_device()
    new = device.generate_codes()
    assert device.verify_token(new[0])
    assert not device.verify_token(old[0])


def test_failures_throttle_the_recovery_codes():
    device, codes = _recovery_device()
    assert not device.verify_token("WRONG-CODE-0000")
    assert not device.verify_token(codes[0])
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert device.remaining() == 10


def test_oversized_recovery_code_is_refused():
    device, _ = _recovery_device()
    assert not device.verify_token("A" * 10_000)


def test_recovery_code_format_is_not_tried_as_totp():
    device, codes = _recovery_device()
    assert device.accepts_format(codes[0])
    assert not device.accepts_format("123456")
    assert not _device().accepts_format(codes[0])
