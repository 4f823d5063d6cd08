"""Reach the session store entry behind a ``UserSession`` row.

A row keeps the store key of its session sealed with AES-256-GCM under a key
derived from ``SECRET_KEY``, the row's session hash bound in as associated
data, so a database dump alone yields no usable session key and a sealed key
copied into another row does not open there. Ending a session deletes its
store entry, and the session arrives empty on its next request.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from importlib import import_module

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

SEAL_SALT = "hardened_auth.session_store_key"
NONCE_BYTES = 12


def _cipher(secret: str | bytes) -> AESGCM:
    key = salted_hmac(SEAL_SALT, "aes-256-gcm", secret=secret, algorithm="sha256")
    return AESGCM(key.digest())


def seal(session_key: str, sid_hash: str) -> str:
    """The store key ``session_key`` sealed for the row of ``sid_hash``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings.SECRET_KEY).encrypt(
        nonce, session_key.encode(), sid_hash.encode()
    )
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed(sealed: str, sid_hash: str) -> str | None:
    """The store key in ``sealed``, or ``None`` when no secret opens it.

    ``SECRET_KEY`` is tried first, then each of ``SECRET_KEY_FALLBACKS``.
    """
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error):
        return None
    nonce, body = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    if len(nonce) != NONCE_BYTES or not body:
        return None
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        try:
            opened = _cipher(secret).decrypt(nonce, body, sid_hash.encode())
        except InvalidTag:
            continue
        try:
            return opened.decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key=session_key)
    return store


def entry_exists(session_key: str) -> bool:
    """Tell whether the session engine holds an entry for ``session_key``."""
    return bool(_store().exists(session_key))


def delete_entry(session_key: str) -> None:
    """Delete the store entry of ``session_key`` from the session engine."""
    _store().delete(session_key)


def mark_entry(session_key: str, name: str, required: str) -> bool:
    """Set ``name`` to ``True`` in the store entry of ``session_key``.

    Only an entry that still holds ``required`` is written, so an entry that
    expired or was ended is not brought back. Returns whether it was written.
    """
    store = _store(session_key)
    if store.get(required) is None or store.session_key is None:
        return False
    store[name] = True
    try:
        store.save()
    except UpdateError:
        return False
    return True
