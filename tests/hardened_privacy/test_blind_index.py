import hashlib
import hmac

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from django.db.models import F
from django.test import override_settings

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.keyring import get_keyring
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
