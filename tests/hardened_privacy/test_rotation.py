import base64
import datetime
import decimal
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from hardened_privacy import checks
from hardened_privacy.exceptions import DecryptionError, UnknownKeyError
from hardened_privacy.internal import legacy
from tests.hardened_privacy.testapp.models import Patient

pytestmark = pytest.mark.django_db

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "django_cryptography.json").read_text()
)
OLD = "development/master-1"
NEW = "development/master-2"
COLUMNS = ["note", "email", "born", "visits", "balance", "profile"]
# django-cryptography 1.1 (Django 4.2) and its fork django-cryptography-5
# (Django 5.2) made these values; both must read and rotate.
SOURCES = sorted(FIXTURE["sources"])
ORIGINAL = "django-cryptography"


@pytest.fixture
def new_key(monkeypatch):
    monkeypatch.setenv("MASTER_2", base64.b64encode(os.urandom(32)).decode())
    keys = {
        OLD: {"PROVIDER": "env", "REFERENCE": "HARDENED_PRIVACY_MASTER_KEY"},
        NEW: {"PROVIDER": "env", "REFERENCE": "MASTER_2"},
    }
    return override_settings(
        HARDENED_PRIVACY_KEYS=keys, HARDENED_PRIVACY_ACTIVE_KEY=NEW
    )


@pytest.fixture
def legacy_key(monkeypatch):
    monkeypatch.setenv("LEGACY_SECRET_KEY", FIXTURE["secret_key"])
    return override_settings(
        HARDENED_PRIVACY_LEGACY_DJANGO_CRYPTOGRAPHY=[
            {"SECRET_KEY": {"PROVIDER": "env", "REFERENCE": "LEGACY_SECRET_KEY"}}
        ]
    )


def raw(pk, column):
    assert column in COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM hardened_privacy_tests_patient WHERE id = %s",  # noqa: S608
            [pk],
        )
        value = cursor.fetchone()[0]
    return bytes(value).decode() if isinstance(value, bytes | memoryview) else value


def ciphertext(column, source=ORIGINAL):
    return bytes.fromhex(FIXTURE["sources"][source]["ciphertexts_hex"][column])


def store_legacy(pk, as_bytes=False, source=ORIGINAL):
    """Write the fixture's ciphertexts as a migrated column would hold them.

    On PostgreSQL, altering a bytea column to text leaves ``\\x<hex>``; on
    SQLite the blob stays a blob.
    """
    for column in COLUMNS:
        token = ciphertext(column, source)
        value = token if as_bytes else "\\x" + token.hex()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE hardened_privacy_tests_patient SET {column} = %s "  # noqa: S608
                "WHERE id = %s",
                [value, pk],
            )


def expected():
    values = FIXTURE["expected"]
    return {
        "note": values["note"],
        "email": values["email"],
        "born": datetime.date.fromisoformat(values["born"]),
        "visits": values["visits"],
        "balance": decimal.Decimal(values["balance"]),
        "profile": values["profile"],
    }


def loaded(pk):
    patient = Patient.objects.get(pk=pk)
    return {column: getattr(patient, column) for column in COLUMNS}


def test_fixture_holds_both_packages_values():
    assert SOURCES == ["django-cryptography", "django-cryptography-5"]
    generators = [FIXTURE["sources"][s]["generator"] for s in SOURCES]
    assert [(g["version"], g["django"][:3]) for g in generators] == [
        ("1.1", "4.2"),
        ("2.0.3", "5.2"),
    ]
    assert ciphertext("note", SOURCES[0]) != ciphertext("note", SOURCES[1])


@pytest.mark.parametrize("source", SOURCES)
def test_real_django_cryptography_values_are_read_with_legacy_key(legacy_key, source):
    patient = Patient.objects.create(name="legacy")
    store_legacy(patient.pk, source=source)
    with legacy_key:
        assert loaded(patient.pk) == expected()


@pytest.mark.parametrize("source", SOURCES)
def test_legacy_raw_bytes_are_read_too(legacy_key, source):
    """SQLite keeps a migrated blob as bytes; the reader takes those as well."""
    with legacy_key:
        for column, value in expected().items():
            token = ciphertext(column, source)
            field: Any = Patient._meta.get_field(column)
            assert field.from_db_value(token, None, connection) == value
            assert field.from_db_value(memoryview(token), None, connection) == value


def test_legacy_values_without_legacy_key_fail_closed():
    patient = Patient.objects.create(name="legacy")
    store_legacy(patient.pk)
    with pytest.raises(DecryptionError, match="not a hardened_privacy ciphertext"):
        Patient.objects.get(pk=patient.pk)


def test_wrong_legacy_key_fails_closed(monkeypatch):
    monkeypatch.setenv("LEGACY_SECRET_KEY", "another-secret-key" * 3)
    patient = Patient.objects.create(name="legacy")
    store_legacy(patient.pk)
    spec = [{"SECRET_KEY": {"PROVIDER": "env", "REFERENCE": "LEGACY_SECRET_KEY"}}]
    with (
        override_settings(HARDENED_PRIVACY_LEGACY_DJANGO_CRYPTOGRAPHY=spec),
        pytest.raises(DecryptionError, match="No legacy key opens"),
    ):
        Patient.objects.get(pk=patient.pk)


def test_tampered_legacy_value_fails_closed(legacy_key):
    token = bytearray(ciphertext("note"))
    token[30] ^= 1
    with legacy_key, pytest.raises(DecryptionError, match="No legacy key opens"):
        legacy.decrypt(bytes(token))


def test_legacy_pickle_of_arbitrary_objects_is_refused(legacy_key):
    """A correctly signed legacy value still cannot run code when unpickled."""
    key = legacy.LegacyKey(
        FIXTURE["secret_key"].encode(),
        FIXTURE["secret_key"].encode(),
        b"django-cryptography",
    )
    payload = pickle.dumps(os.system)
    token = _legacy_encrypt(key, payload)
    with legacy_key, pytest.raises(DecryptionError, match="not plain data"):
        legacy.decrypt(token)


def _legacy_encrypt(key, plaintext):
    import hashlib
    import hmac
    import struct

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.aes_key), modes.CBC(iv)).encryptor()
    body = struct.pack(">cQ", b"\x80", 0) + iv
    body += encryptor.update(padded) + encryptor.finalize()
    return body + hmac.new(key.mac_key, body, hashlib.sha256).digest()


def _patients(count):
    return [
        Patient.objects.create(
            name=f"p{i}", note=f"note {i}", email=f"p{i}@example.com", visits=i
        )
        for i in range(count)
    ]


def test_rotation_moves_every_value_to_the_active_key(new_key):
    patients = _patients(7)
    with new_key:
        out = io.StringIO()
        call_command("hardened_privacy_rotate_keys", batch_size=3, stdout=out)
        assert "7 of 7 rows re-encrypted under development/master-2" in out.getvalue()
        assert "batch 3, 7/7" in out.getvalue()
        for patient in patients:
            assert raw(patient.pk, "note").startswith(f"hp1${NEW}$")
            assert raw(patient.pk, "email").startswith(f"hp1${NEW}$")
        assert [p.note for p in Patient.objects.order_by("pk")] == [
            f"note {i}" for i in range(7)
        ]
        assert Patient.objects.get(email="p3@example.com").visits == 3
    keys_without_old = {NEW: {"PROVIDER": "env", "REFERENCE": "MASTER_2"}}
    with override_settings(
        HARDENED_PRIVACY_KEYS=keys_without_old, HARDENED_PRIVACY_ACTIVE_KEY=NEW
    ):
        assert Patient.objects.count() == 7
        assert {p.note for p in Patient.objects.all()} == {
            f"note {i}" for i in range(7)
        }


def test_rotation_is_resumable(new_key):
    _patients(5)
    with new_key:
        call_command(
            "hardened_privacy_rotate_keys",
            batch_size=2,
            max_batches=1,
            stdout=io.StringIO(),
        )
        remaining = Patient.objects.filter(note__ciphertext_startswith=f"hp1${OLD}$")
        assert remaining.count() == 3
        out = io.StringIO()
        call_command("hardened_privacy_rotate_keys", batch_size=2, stdout=out)
        assert "3 of 3 rows" in out.getvalue()
        assert not remaining.exists()


def test_dry_run_changes_nothing(new_key):
    patient = _patients(1)[0]
    before = raw(patient.pk, "note")
    with new_key:
        out = io.StringIO()
        call_command("hardened_privacy_rotate_keys", dry_run=True, stdout=out)
    assert "Patient: 1 rows would be re-encrypted" in out.getvalue()
    assert raw(patient.pk, "note") == before


@pytest.mark.parametrize("source", SOURCES)
def test_rotation_converts_django_cryptography_values(legacy_key, source):
    patient = Patient.objects.create(name="legacy")
    store_legacy(patient.pk, source=source)
    with legacy_key:
        call_command("hardened_privacy_rotate_keys", stdout=io.StringIO())
    for column in COLUMNS:
        assert raw(patient.pk, column).startswith(f"hp1${OLD}$")
    assert loaded(patient.pk) == expected()


def test_rotation_stops_on_unreadable_rows(new_key):
    patient = _patients(1)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE hardened_privacy_tests_patient SET note = %s WHERE id = %s",
            ["hp1$development/gone$AAAA", patient.pk],
        )
    with new_key, pytest.raises(UnknownKeyError):
        call_command("hardened_privacy_rotate_keys", stdout=io.StringIO())


def test_rotation_refuses_unknown_model_and_bad_batch():
    with pytest.raises(CommandError, match=r"No encrypted fields on: auth\.user"):
        call_command("hardened_privacy_rotate_keys", model=["auth.User"])
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("hardened_privacy_rotate_keys", batch_size=0)


def test_retired_key_check_warns_until_rotation(new_key):
    _patients(2)
    with new_key:
        messages = checks.check_retired_keys(databases=["default"])
        assert [m.id for m in messages] == ["hardened_privacy.W001"]
        assert messages[0].msg == checks.W001_MSG
        assert "Patient: 2 under development/master-1" in str(messages[0].hint)
        call_command("hardened_privacy_rotate_keys", stdout=io.StringIO())
        assert checks.check_retired_keys(databases=["default"]) == []


def test_retired_key_check_reports_legacy_rows():
    patient = Patient.objects.create(name="legacy")
    store_legacy(patient.pk)
    messages = checks.check_retired_keys(databases=["default"])
    assert "Patient: 1 in a legacy format" in str(messages[0].hint)


def test_retired_key_check_skips_without_databases():
    assert checks.check_retired_keys() == []
