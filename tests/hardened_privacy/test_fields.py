import base64
import copy
import datetime
import decimal
import os

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured, ValidationError
from django.db import connection, models, transaction
from django.test import override_settings
from django.test.utils import isolate_apps
from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_privacy.exceptions import (
    DecryptionError,
    HardenedPrivacyConfigurationError,
    KeyProviderError,
    UnknownKeyError,
)
from hardened_privacy.internal.envelope import get_cipher, parse_key_id
from tests.hardened_privacy.testapp.models import Patient

pytestmark = pytest.mark.django_db

ACTIVE = "development/master-1"


COLUMNS = {"note", "email", "profile", "born", "visits", "balance", "secret"}


def raw_column(pk, column):
    assert column in COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM hardened_privacy_tests_patient WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def write_column(pk, column, value):
    assert column in COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE hardened_privacy_tests_patient SET {column} = %s WHERE id = %s",  # noqa: S608
            [value, pk],
        )


def make_patient(**kwargs):
    values = {
        "name": "p",
        "note": "allergic to penicillin",
        "email": "Ada@Example.com",
        "profile": {"blood": "0-", "tags": [1, 2, None], "ok": True},
        "born": datetime.date(1990, 2, 28),
        "visits": -42,
        "balance": decimal.Decimal("1234.50"),
        "secret": "JBSWY3DPEHPK3PXP",
    }
    values.update(kwargs)
    return Patient.objects.create(**values)


def test_every_field_round_trips_through_the_database():
    patient = make_patient()
    loaded = Patient.objects.get(pk=patient.pk)
    assert loaded.note == "allergic to penicillin"
    assert loaded.email == "Ada@Example.com"
    assert loaded.profile == {"blood": "0-", "tags": [1, 2, None], "ok": True}
    assert loaded.born == datetime.date(1990, 2, 28)
    assert loaded.visits == -42
    assert loaded.balance == decimal.Decimal("1234.50")
    assert loaded.secret == "JBSWY3DPEHPK3PXP"


def test_database_holds_only_ciphertext_naming_the_key():
    patient = make_patient()
    for column in ["note", "email", "profile", "born", "visits", "balance", "secret"]:
        stored = raw_column(patient.pk, column)
        assert stored.startswith(f"hp1${ACTIVE}$")
        assert parse_key_id(stored) == ACTIVE
    assert "penicillin" not in raw_column(patient.pk, "note")
    assert "Example" not in raw_column(patient.pk, "email")


def test_deferred_columns_are_decrypted_only_when_read(monkeypatch):
    patient = make_patient()
    cipher = get_cipher()
    opened = []
    decrypt = cipher.decrypt

    def counting(token, context):
        opened.append(context)
        return decrypt(token, context)

    monkeypatch.setattr(cipher, "decrypt", counting)
    loaded = Patient.objects.only("name", "email").get(pk=patient.pk)
    assert opened == [b"hardened_privacy_tests_patient.email"]
    assert loaded.email == "Ada@Example.com"
    assert loaded.note == "allergic to penicillin"
    assert opened[-1] == b"hardened_privacy_tests_patient.note"
    assert len(opened) == 2


def test_same_plaintext_encrypts_differently_each_time():
    a, b = make_patient(), make_patient()
    assert raw_column(a.pk, "note") != raw_column(b.pk, "note")


def test_none_is_stored_as_sql_null():
    patient = make_patient(note=None, profile=None, visits=None)
    assert raw_column(patient.pk, "note") is None
    loaded = Patient.objects.get(pk=patient.pk)
    assert (loaded.note, loaded.profile, loaded.visits) == (None, None, None)
    assert Patient.objects.filter(note__isnull=True).get() == patient


def test_ciphertext_copied_to_another_column_does_not_decrypt():
    patient = make_patient()
    write_column(patient.pk, "note", raw_column(patient.pk, "secret"))
    with pytest.raises(DecryptionError, match="failed authentication"):
        Patient.objects.get(pk=patient.pk)


def test_tampered_ciphertext_fails_closed():
    patient = make_patient()
    stored = raw_column(patient.pk, "note")
    head, payload = stored.rsplit("$", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-5] ^= 0x01
    forged = head + "$" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    write_column(patient.pk, "note", forged)
    with pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_tampered_wrapped_data_key_fails_closed():
    patient = make_patient()
    stored = raw_column(patient.pk, "note")
    head, payload = stored.rsplit("$", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[5] ^= 0x80
    forged = head + "$" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    write_column(patient.pk, "note", forged)
    with pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_truncated_ciphertext_fails_closed(cut):
    patient = make_patient()
    write_column(patient.pk, "note", raw_column(patient.pk, "note")[:-cut])
    with pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


@pytest.mark.parametrize(
    "stored",
    [
        "plain text that was never encrypted",
        "hp1$development/master-1$",
        "hp1$development/master-1$!!!!",
        "hp2$development/master-1$AAAA",
        "hp1$NOT A KEY$AAAA",
        "",
    ],
)
def test_malformed_values_fail_closed(stored):
    patient = make_patient()
    write_column(patient.pk, "note", stored)
    with pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_header_renamed_to_another_configured_key_fails_closed(monkeypatch):
    monkeypatch.setenv("SECOND_KEY", base64.b64encode(os.urandom(32)).decode())
    patient = make_patient()
    stored = raw_column(patient.pk, "note")
    keys = {
        ACTIVE: {"PROVIDER": "env", "REFERENCE": "HARDENED_PRIVACY_MASTER_KEY"},
        "development/other": {"PROVIDER": "env", "REFERENCE": "SECOND_KEY"},
    }
    write_column(patient.pk, "note", stored.replace(ACTIVE, "development/other", 1))
    with override_settings(HARDENED_PRIVACY_KEYS=keys), pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_unknown_key_id_fails_closed():
    patient = make_patient()
    with (
        override_settings(HARDENED_PRIVACY_KEYS={}, HARDENED_PRIVACY_ACTIVE_KEY=None),
        pytest.raises(UnknownKeyError, match="not configured"),
    ):
        Patient.objects.get(pk=patient.pk)


def test_wrong_master_key_material_fails_closed(monkeypatch):
    patient = make_patient()
    monkeypatch.setenv(
        "HARDENED_PRIVACY_MASTER_KEY", base64.b64encode(os.urandom(32)).decode()
    )
    with (
        override_settings(HARDENED_PRIVACY_ACTIVE_KEY=ACTIVE),
        pytest.raises(DecryptionError),
    ):
        Patient.objects.get(pk=patient.pk)


def test_missing_provider_refuses_to_encrypt_and_decrypt():
    patient = make_patient()
    with override_settings(HARDENED_PRIVACY_KEY_PROVIDERS={}):
        with (
            pytest.raises(KeyProviderError, match="No key provider"),
            transaction.atomic(),
        ):
            make_patient()
        with pytest.raises(KeyProviderError, match="No key provider"):
            Patient.objects.get(pk=patient.pk)


def test_encrypting_without_active_key_is_refused():
    with (
        override_settings(HARDENED_PRIVACY_ACTIVE_KEY=None),
        pytest.raises(HardenedPrivacyConfigurationError, match="ACTIVE_KEY"),
    ):
        make_patient()


def test_active_key_of_another_environment_is_refused(monkeypatch):
    # Outside development the provider ignores its development defaults; the
    # blind-index key is given for real so only the active key's environment
    # is wrong, whichever key the save asks for first.
    monkeypatch.setenv(
        "HARDENED_PRIVACY_BLIND_INDEX_KEY",
        "S9L3uOnpc5L1qZYvtzOTzBWuhH4Tcx9J7XuMDfk5Xyc=",
    )
    with (
        override_settings(HARDENED_PRIVACY_ENVIRONMENT="staging"),
        pytest.raises(ImproperlyConfigured, match="another environment"),
    ):
        make_patient()


def test_data_key_is_renewed_after_its_use_limit():
    with override_settings(HARDENED_PRIVACY_DATA_KEY_MAX_USES=2):
        patients = [make_patient(secret=None, email=None) for _ in range(3)]
        wrapped = {raw_column(p.pk, "note").rsplit("$", 1)[1][:80] for p in patients}
        loaded = [Patient.objects.get(pk=p.pk).note for p in patients]
    assert len(wrapped) >= 2
    assert loaded == ["allergic to penicillin"] * 3


def test_email_field_still_validates_addresses():
    patient = Patient(name="p", email="not an address")
    with pytest.raises(ValidationError) as info:
        patient.full_clean()
    assert "email" in info.value.message_dict


@pytest.mark.parametrize(
    "lookup",
    ["note", "note__icontains", "note__startswith", "born__year", "visits__gt"],
)
def test_queries_that_would_compare_ciphertext_are_refused(lookup):
    with pytest.raises(FieldError, match="Unsupported lookup"):
        list(Patient.objects.filter(**{lookup: "x"}))


def test_json_key_transforms_are_refused():
    with pytest.raises(FieldError, match="Unsupported lookup"):
        list(Patient.objects.filter(profile__blood="0-"))


def test_decrypted_value_of_wrong_type_fails_closed():
    patient = make_patient()
    token = get_cipher().encrypt(
        b"not a number", b"hardened_privacy_tests_patient.visits"
    )
    write_column(patient.pk, "visits", token)
    with pytest.raises(DecryptionError, match="does not have the field's type"):
        Patient.objects.get(pk=patient.pk)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_envelope_round_trip_property(plaintext, context):
    cipher = get_cipher()
    token = cipher.encrypt(plaintext, context)
    assert cipher.decrypt(token, context) == plaintext
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, context + b"x")


@settings(max_examples=40, deadline=None)
@given(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    ),
    st.dates(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
def test_field_round_trip_property(note, profile, born, visits):
    patient = make_patient(note=note, profile=profile, born=born, visits=visits)
    loaded = Patient.objects.get(pk=patient.pk)
    expected_profile = None if profile is None else profile
    assert (loaded.note, loaded.profile, loaded.born, loaded.visits) == (
        note,
        expected_profile,
        born,
        visits,
    )


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_binary_envelope_round_trip_property(plaintext, context):
    cipher = get_cipher()
    blob = cipher.seal(plaintext, context)
    assert blob[:1] == b"\x01"
    assert ACTIVE.encode() in blob[:40]
    assert cipher.open(blob, context) == plaintext
    with pytest.raises(DecryptionError):
        cipher.open(blob, context + b"x")


def test_binary_envelope_fails_closed():
    cipher = get_cipher()
    blob = cipher.seal(b"secret value", b"ctx")
    flipped = bytearray(blob)
    flipped[-3] ^= 1
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.open(bytes(flipped), b"ctx")
    with pytest.raises(DecryptionError, match="truncated"):
        cipher.open(blob[:40], b"ctx")
    with pytest.raises(DecryptionError, match="not a hardened_privacy envelope"):
        cipher.open(b"\x02" + blob[1:], b"ctx")
    other = blob.replace(ACTIVE.encode(), b"development/master-9", 1)
    with pytest.raises(UnknownKeyError):
        cipher.open(other, b"ctx")
    with pytest.raises(DecryptionError, match="not readable"):
        cipher.open(b"\x01\x02\xff\xfe" + blob[4:], b"ctx")


@pytest.mark.parametrize("visits", [-(2**63), 0, 2**63 - 1])
def test_integer_field_validates_any_64_bit_value_on_every_database(visits):
    patient = make_patient(visits=visits)
    patient.full_clean()
    patient.save()
    assert Patient.objects.get(pk=patient.pk).visits == visits


@pytest.mark.parametrize("visits", [-(2**63) - 1, 2**63, 10**30])
def test_integer_field_refuses_values_beyond_64_bits(visits):
    patient = make_patient(visits=visits)
    with pytest.raises(ValidationError) as refused:
        patient.full_clean()
    assert "visits" in refused.value.message_dict


def test_values_of_other_types_are_converted_before_encryption():
    patient = make_patient(
        note=12, born=datetime.datetime(2020, 1, 2, 3, 4), visits=True
    )
    loaded = Patient.objects.get(pk=patient.pk)

    assert (loaded.note, loaded.born, loaded.visits) == (
        "12",
        datetime.date(2020, 1, 2),
        1,
    )
    assert get_cipher().decrypt(
        raw_column(patient.pk, "born"), b"hardened_privacy_tests_patient.born"
    ) == (b"2020-01-02")


def test_field_copied_to_another_model_encrypts_for_that_models_column():
    used = Patient._meta.get_field("note")
    stored = used.get_db_prep_save("kept", connection)

    with isolate_apps("tests.hardened_privacy.testapp"):

        class Copied(models.Model):
            note = copy.deepcopy(used)

            class Meta:
                app_label = "hardened_privacy_tests"

            def __str__(self) -> str:
                return "copied"

        copied = Copied._meta.get_field("note")
        context = f"{Copied._meta.db_table}.note".encode()
        token = copied.get_db_prep_save("moved", connection)

        assert copied.encryption_context() == context
        assert get_cipher().decrypt(token, context) == b"moved"
        with pytest.raises(DecryptionError, match="failed authentication"):
            copied.from_db_value(stored, None, connection)
    assert used.from_db_value(stored, None, connection) == "kept"
