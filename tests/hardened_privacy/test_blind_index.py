import copy
import hashlib
import hmac

import pytest
from django.core.exceptions import FieldError
from django.db import connection, models
from django.db.models import F
from django.test import override_settings
from django.test.utils import isolate_apps
from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal import blind_index
from hardened_privacy.internal.keyring import _state, get_keyring, reset_keyring
from tests.hardened_privacy.testapp.models import Patient, Visit

pytestmark = pytest.mark.django_db


def make(email, name="p"):
    return Patient.objects.create(name=name, email=email)


def test_exact_lookup_finds_the_row_without_decrypting_in_sql():
    ada = make("ada@example.com", "ada")
    make("bob@example.com", "bob")
    assert list(Patient.objects.filter(email="ada@example.com")) == [ada]
    assert not Patient.objects.filter(email="eve@example.com").exists()


def test_email_index_folds_case():
    ada = make("Ada@Example.COM")
    assert Patient.objects.get(email="ada@example.com") == ada


def test_in_lookup_and_none():
    a, b = make("a@example.com"), make("b@example.com")
    nobody = make(None)
    found = set(Patient.objects.filter(email__in=["a@example.com", "b@example.com"]))
    assert found == {a, b}
    assert list(Patient.objects.filter(email=None)) == [nobody]


def test_index_is_a_keyed_digest_not_the_value():
    patient = make("ada@example.com")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email_index FROM hardened_privacy_tests_patient WHERE id = %s",
            [patient.pk],
        )
        digest = cursor.fetchone()[0]
    assert len(digest) == 64
    assert "ada" not in digest


def test_index_follows_changes_on_save():
    patient = make("old@example.com")
    patient.email = "new@example.com"
    patient.save()
    assert Patient.objects.get(email="new@example.com") == patient
    assert not Patient.objects.filter(email="old@example.com").exists()


def test_another_index_key_no_longer_matches(monkeypatch):
    make("ada@example.com")
    monkeypatch.setenv("OTHER_BLIND_KEY", "o" * 40)
    with override_settings(
        HARDENED_PRIVACY_BLIND_INDEX_KEY={
            "PROVIDER": "env",
            "REFERENCE": "OTHER_BLIND_KEY",
        }
    ):
        assert not Patient.objects.filter(email="ada@example.com").exists()


def test_short_or_missing_index_key_is_refused(monkeypatch):
    monkeypatch.setenv("SHORT_BLIND_KEY", "short")
    spec = {"PROVIDER": "env", "REFERENCE": "SHORT_BLIND_KEY"}
    with (
        override_settings(HARDENED_PRIVACY_BLIND_INDEX_KEY=spec),
        pytest.raises(HardenedPrivacyConfigurationError, match="at least 32"),
    ):
        list(Patient.objects.filter(email="a@example.com"))
    with (
        override_settings(HARDENED_PRIVACY_BLIND_INDEX_KEY=None),
        pytest.raises(HardenedPrivacyConfigurationError, match="PROVIDER"),
    ):
        list(Patient.objects.filter(email="a@example.com"))


def test_fields_without_index_refuse_exact_lookups():
    with pytest.raises(FieldError, match="Unsupported lookup"):
        list(Patient.objects.filter(note="x"))


def test_expressions_are_refused():
    with pytest.raises(FieldError, match="plain values"):
        list(Patient.objects.filter(email=F("name")))


def test_index_is_hmac_sha256_of_the_column_and_the_normalised_value():
    patient = make("Ada@Example.com")
    key = get_keyring().secret(app_settings.BLIND_INDEX_KEY, "key")
    expected = hmac.new(
        key, b"hardened_privacy_tests_patient.email\x00ada@example.com", hashlib.sha256
    ).hexdigest()
    other_column = hmac.new(
        key, b"hardened_privacy_tests_visit.contact\x00ada@example.com", hashlib.sha256
    ).hexdigest()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email_index FROM hardened_privacy_tests_patient WHERE id = %s",
            [patient.pk],
        )
        assert cursor.fetchone()[0] == expected
    assert Patient._meta.get_field("email_index").digest_for("ADA@example.com") == (
        expected
    )
    assert Visit._meta.get_field("contact_index").digest_for("ada@example.com") == (
        other_column
    )


@settings(max_examples=80, deadline=None)
@given(
    st.binary(min_size=32, max_size=200),
    st.text(max_size=40),
    st.text(max_size=300),
)
def test_digest_is_hmac_sha256_for_any_key_length(key, context, value):
    expected = hmac.new(
        key, context.encode() + b"\x00" + value.encode(), hashlib.sha256
    ).hexdigest()
    keyed = blind_index._Keyed(key)

    assert keyed.hexdigest(context, value) == expected
    assert keyed.hexdigest(context, value) == expected


def test_digest_follows_a_key_change_between_calls(monkeypatch):
    index = Patient._meta.get_field("email_index")
    message = b"hardened_privacy_tests_patient.email\x00ada@example.com"
    before = index.digest_for("ada@example.com")
    monkeypatch.setenv("OTHER_BLIND_KEY", "o" * 40)
    spec = {"PROVIDER": "env", "REFERENCE": "OTHER_BLIND_KEY"}

    with override_settings(HARDENED_PRIVACY_BLIND_INDEX_KEY=spec):
        during = index.digest_for("ada@example.com")

    assert during == hmac.new(b"o" * 40, message, hashlib.sha256).hexdigest()
    assert during != before
    assert index.digest_for("ada@example.com") == before


def test_index_key_read_for_a_replaced_keyring_is_not_kept(monkeypatch):
    stale = get_keyring()
    reset_keyring()
    monkeypatch.setattr(blind_index, "get_keyring", lambda: stale)
    blind_index.digest("table.column", "value")
    monkeypatch.undo()

    assert "blind_index_hmac" not in _state
    blind_index.digest("table.column", "value")
    assert get_keyring() is not stale
    assert "blind_index_hmac" in _state


def test_index_copied_to_another_model_digests_that_models_column():
    index = Patient._meta.get_field("email_index")
    source = Patient._meta.get_field("email")
    index.digest_for("ada@example.com")
    key = get_keyring().secret(app_settings.BLIND_INDEX_KEY, "key")

    with isolate_apps("tests.hardened_privacy.testapp"):

        class Copied(models.Model):
            email = copy.deepcopy(source)
            email_index = copy.deepcopy(index)

            class Meta:
                app_label = "hardened_privacy_tests"

            def __str__(self) -> str:
                return "copied"

        copied = Copied._meta.get_field("email_index")
        message = f"{Copied._meta.db_table}.email\x00ada@example.com".encode()

        assert copied.source_field() is Copied._meta.get_field("email")
        assert copied.digest_for("Ada@example.com") == (
            hmac.new(key, message, hashlib.sha256).hexdigest()
        )
        assert copied.digest_for("ada@example.com") != index.digest_for(
            "ada@example.com"
        )
