import base64
import os
import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.test import override_settings

from hardened_privacy.exceptions import DecryptionError, UnknownKeyError
from hardened_privacy.internal import envelope
from hardened_privacy.internal.envelope import (
    NONCE_BYTES,
    EnvelopeCipher,
    get_cipher,
    key_prefix,
)
from hardened_privacy.internal.keyring import _state, get_keyring, reset_keyring

ACTIVE = "development/master-1"
CONTEXT = b"table.column"


def unpadded(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def payload_of(token):
    text = token.rsplit("$", 1)[1]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def current(cipher):
    """The data key ``cipher`` encrypts with now."""
    data_key = cipher._current
    assert data_key is not None
    return data_key


def layout_token(data_key, nonce, plaintext, context):
    """A text envelope built from the documented layout, byte by byte."""
    aad = b"\x00".join([b"hp1", data_key.key_id.encode(), data_key.wrapped, b""])
    body = data_key.aead.encrypt(nonce, plaintext, aad + context)
    header = len(data_key.wrapped).to_bytes(2, "big") + data_key.wrapped
    return key_prefix(data_key.key_id) + unpadded(header + nonce + body)


def test_text_envelope_keeps_the_documented_layout():
    cipher = get_cipher()
    token = cipher.encrypt(b"value", CONTEXT)
    data_key = current(cipher)
    raw = payload_of(token)

    wrapped_length = int.from_bytes(raw[:2], "big")
    wrapped = raw[2 : 2 + wrapped_length]
    nonce = raw[2 + wrapped_length : 2 + wrapped_length + NONCE_BYTES]
    body = raw[2 + wrapped_length + NONCE_BYTES :]
    aad = b"\x00".join([b"hp1", ACTIVE.encode(), wrapped, b""]) + CONTEXT

    assert token.startswith(f"hp1${ACTIVE}$")
    assert "=" not in token
    assert wrapped == data_key.wrapped
    assert data_key.aead.decrypt(nonce, body, aad) == b"value"


@pytest.mark.parametrize("wrapped_length", [57, 58, 59, 60, 61, 90])
def test_text_envelope_round_trips_for_any_wrapped_key_length(wrapped_length):
    cipher = EnvelopeCipher(get_keyring())
    wrapped = os.urandom(wrapped_length)
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    cipher._current = envelope._DataKey(ACTIVE, aead, wrapped)
    token = cipher.encrypt(b"value", CONTEXT)

    assert payload_of(token)[2 : 2 + wrapped_length] == wrapped
    assert cipher.decrypt(token, CONTEXT) == b"value"
    nonce = payload_of(token)[2 + wrapped_length :][:NONCE_BYTES]
    assert token == layout_token(current(cipher), nonce, b"value", CONTEXT)


def test_values_written_under_an_earlier_data_key_still_open():
    earlier = get_cipher()
    token = earlier.encrypt(b"kept", CONTEXT)
    built = layout_token(current(earlier), os.urandom(12), b"built", CONTEXT)

    later = EnvelopeCipher(get_keyring())
    later.encrypt(b"other", CONTEXT)

    assert current(later).wrapped != current(earlier).wrapped
    assert later.decrypt(token, CONTEXT) == b"kept"
    assert later.decrypt(built, CONTEXT) == b"built"
    assert later.decrypt(later.encrypt(b"new", CONTEXT), CONTEXT) == b"new"


def test_value_sharing_the_current_head_with_another_wrapped_tail_fails_closed():
    cipher = get_cipher()
    token = cipher.encrypt(b"value", CONTEXT)
    head = current(cipher).text_head
    raw = bytearray(payload_of(token))
    raw[len(current(cipher).header) - 1] ^= 0x01
    forged = key_prefix(ACTIVE) + unpadded(bytes(raw))

    assert forged.startswith(head)
    with pytest.raises(DecryptionError):
        cipher.decrypt(forged, CONTEXT)


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("", "truncated"),
        ("AAAA", "truncated"),
        ("!!!!", "not valid base64"),
        ("AAA+" * 12, "not valid base64"),
        ("AAA/" * 12, "not valid base64"),
        ("AAAAA", "not valid base64"),
        ("AA\u00e9A" * 12, "not valid base64"),
    ],
)
def test_value_cut_after_the_current_head_fails_closed(suffix, message):
    cipher = get_cipher()
    cipher.encrypt(b"value", CONTEXT)
    token = current(cipher).text_head + suffix

    with pytest.raises(DecryptionError, match=message):
        cipher.decrypt(token, CONTEXT)


def test_current_data_key_value_fails_closed_in_another_context():
    cipher = get_cipher()
    token = cipher.encrypt(b"value", CONTEXT)

    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt(token, b"table.other")
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.open(cipher.seal(b"value", CONTEXT), b"table.other")


def test_value_of_a_removed_key_fails_closed_after_the_settings_change():
    token = get_cipher().encrypt(b"value", CONTEXT)

    with (
        override_settings(HARDENED_PRIVACY_KEYS={}, HARDENED_PRIVACY_ACTIVE_KEY=None),
        pytest.raises(UnknownKeyError, match="not configured"),
    ):
        get_cipher().decrypt(token, CONTEXT)
    assert get_cipher().decrypt(token, CONTEXT) == b"value"


def test_nonces_are_twelve_bytes_and_never_repeat_across_threads():
    drawn: list[list[bytes]] = [[] for _ in range(4)]

    def draw(into):
        for _ in range(3 * envelope._NONCE_BATCH):
            into.append(envelope._nonce())

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [nonce for into in drawn for nonce in into]

    assert {len(nonce) for nonce in everything} == {NONCE_BYTES}
    assert len(set(everything)) == len(everything)


def test_forked_child_draws_no_nonce_its_parent_draws():
    envelope._nonce()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(writing, b"".join(envelope._nonce() for _ in range(16)))
        finally:
            os._exit(0)
    os.close(writing)
    parent = {envelope._nonce() for _ in range(16)}
    received = b""
    while chunk := os.read(reading, 4096):
        received += chunk
    os.close(reading)
    os.waitpid(child, 0)
    children = {received[i : i + 12] for i in range(0, len(received), 12)}

    assert len(children) == 16
    assert not parent & children


def test_cipher_is_kept_until_a_settings_change(monkeypatch):
    cipher = get_cipher()
    assert get_cipher() is cipher
    monkeypatch.setenv("SECOND_KEY", base64.b64encode(os.urandom(32)).decode())
    keys = {"development/other": {"PROVIDER": "env", "REFERENCE": "SECOND_KEY"}}

    with override_settings(
        HARDENED_PRIVACY_KEYS=keys, HARDENED_PRIVACY_ACTIVE_KEY="development/other"
    ):
        changed = get_cipher()
        token = changed.encrypt(b"value", CONTEXT)
        assert changed is not cipher
        assert changed.keyring is get_keyring()
        assert token.startswith(key_prefix("development/other"))
    with pytest.raises(UnknownKeyError):
        get_cipher().decrypt(token, CONTEXT)


def test_cipher_built_for_a_replaced_keyring_is_not_kept(monkeypatch):
    stale = get_keyring()
    reset_keyring()
    monkeypatch.setattr(envelope, "get_keyring", lambda: stale)
    assert get_cipher().keyring is stale
    monkeypatch.undo()

    assert "cipher" not in _state
    assert get_cipher().keyring is get_keyring() is not stale
    assert get_cipher() is _state["cipher"]
