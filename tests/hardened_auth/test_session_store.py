"""Store keys sealed in session rows, and the store entries they reach."""

from importlib import import_module

import pytest
from django.conf import settings

from hardened_auth.internal import session_store

KEY = "k3y0f4s3ss10nst0r3entry0123456789"
ROW = "a" * 64
OTHER_SECRET = "a-rotated-secret-key-for-this-test-only-0123456789abcdef"


def test_sealed_key_opens_for_its_row_only():
    sealed = session_store.seal(KEY, ROW)
    assert KEY not in sealed
    assert session_store.open_sealed(sealed, ROW) == KEY
    assert session_store.open_sealed(sealed, "b" * 64) is None


def test_each_seal_is_different():
    assert session_store.seal(KEY, ROW) != session_store.seal(KEY, ROW)


@pytest.mark.parametrize(
    "sealed", ["", "not base64 at all!", "é", "AAAA", "A" * 16, "A" * 120]
)
def test_malformed_seal_does_not_open(sealed):
    assert session_store.open_sealed(sealed, ROW) is None


def test_seal_opens_with_a_fallback_secret_and_not_without(settings):
    sealed = session_store.seal(KEY, ROW)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = OTHER_SECRET
    settings.SECRET_KEY_FALLBACKS = []
    assert session_store.open_sealed(sealed, ROW) is None
    settings.SECRET_KEY_FALLBACKS = ["an-unrelated-fallback-secret-0123456789", old]
    assert session_store.open_sealed(sealed, ROW) == KEY


def _store_class():
    return import_module(settings.SESSION_ENGINE).SessionStore


@pytest.mark.django_db
def test_mark_entry_writes_an_existing_entry():
    store = _store_class()()
    store["signed_in"] = "yes"
    store.create()
    assert session_store.mark_entry(store.session_key, "flag", required="signed_in")
    assert _store_class()(store.session_key)["flag"] is True


@pytest.mark.django_db
def test_mark_entry_does_not_bring_back_an_ended_entry():
    store = _store_class()()
    store["signed_in"] = "yes"
    store.create()
    key = store.session_key
    session_store.delete_entry(key)
    assert not session_store.mark_entry(key, "flag", required="signed_in")
    assert not _store_class()().exists(key)


@pytest.mark.django_db
def test_mark_entry_skips_an_entry_without_the_required_value():
    store = _store_class()()
    store["other"] = "yes"
    store.create()
    assert not session_store.mark_entry(store.session_key, "flag", required="x")
    assert "flag" not in _store_class()(store.session_key)


@pytest.mark.django_db
def test_entry_exists_until_the_entry_is_deleted():
    store = _store_class()()
    store["signed_in"] = "yes"
    store.create()
    assert session_store.entry_exists(store.session_key)
    session_store.delete_entry(store.session_key)
    assert not session_store.entry_exists(store.session_key)
