"""Services that go away mid-request, on the real PostgreSQL and Redis.

Redis stops answering between two sign-in attempts; the database connection
that posts a ledger transfer is killed from another connection half-way
through; a key provider answers too slowly while a row is being encrypted.
Each time the caller gets a clear refusal and nothing is left half-done.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.db import (
    DatabaseError,
    InterfaceError,
    connection,
    connections,
    transaction,
)
from django.test import Client, override_settings
from django.urls import reverse

from hardened_payments import ledger
from hardened_payments.models import LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from hardened_privacy.exceptions import KeyProviderUnavailable
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.hardened_privacy.testapp.models import Patient
from tests.hardened_privacy.vault_standin import TOKEN, VaultStandIn


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _login(client: Client, password: str, **extra: Any) -> Any:
    return client.post(
        reverse("account_login"),
        {"login": "victim@example.com", "password": password},
        REMOTE_ADDR="203.0.113.50",
        **extra,
    )


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_logins_fail_closed_when_redis_stops_answering(accept):
    """The limiter counts in Redis; when Redis goes, logins are refused."""
    UserFactory(username="victim", email="victim@example.com")
    client = Client()
    counted = _login(client, "wrong password", HTTP_ACCEPT=accept)
    assert counted.status_code in {200, 400}

    dead = {
        **django_settings.CACHES,
        "limiter": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        },
    }
    # override_settings() rebuilds the cache handlers, as a restart would.
    with override_settings(CACHES=dead, RATELIMIT_USE_CACHE="limiter"):
        for password in ("wrong password", DEFAULT_PASSWORD):
            response = _login(client, password, HTTP_ACCEPT=accept)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "30"
            if accept == "application/json":
                assert response.json()["error"] == "rate_limiter_unavailable"
            else:
                assert b"Sign-in temporarily unavailable" in response.content
            assert SESSION_KEY not in client.session

    assert _login(client, DEFAULT_PASSWORD, HTTP_ACCEPT=accept).status_code != 503


@pytest.mark.postgres
def test_a_transfer_whose_connection_is_killed_is_not_half_posted(
    transactional_db, tenant, purge_ledger_after
):
    """pg_terminate_backend() ends the posting connection after its first write.

    Another connection holds the target account's row lock, so the posting
    statement claims its transfer id and then waits; the posting backend is
    terminated while it waits.
    """
    source = ledger.open_account(tenant, "source", "USD", allow_negative=True)
    target = ledger.open_account(tenant, "target", "USD")
    legs = [
        ledger.Leg(source, Money(-500, "USD")),
        ledger.Leg(target, Money(500, "USD")),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
        # Should the kill never come, the wait ends and the test fails.
        cursor.execute("SET lock_timeout = '30s'")
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM hardened_payments_ledgeraccount WHERE id = %s FOR UPDATE",
            [target.pk],
        )
    killed, stop = threading.Event(), threading.Event()

    def kill_while_it_waits() -> None:
        watcher = connections.create_connection("default")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not stop.is_set():
                with watcher.cursor() as cursor:
                    cursor.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                        [pid],
                    )
                    row = cursor.fetchone()
                if row is not None and row[0] == "Lock":
                    with watcher.cursor() as cursor:
                        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                    killed.set()
                    return
                time.sleep(0.01)
        finally:
            watcher.close()

    killer = threading.Thread(target=kill_while_it_waits)
    killer.start()
    try:
        with pytest.raises((DatabaseError, InterfaceError)):
            ledger.post_transfer(tenant, "killed-1", legs)
    finally:
        stop.set()
        killer.join()
        holder.rollback()
        holder.close()
    connection.close()
    assert killed.is_set()

    assert not LedgerTransfer.objects.filter(transfer_id="killed-1").exists()
    assert LedgerEntry.objects.count() == 0
    assert ledger.balance(source) == Money(0, "USD")
    assert ledger.balance(target) == Money(0, "USD")

    posted = ledger.post_transfer(tenant, "killed-1", legs)
    assert posted.entries.count() == 2
    assert ledger.balance(target) == Money(500, "USD")


@pytest.mark.django_db
def test_a_key_provider_that_times_out_writes_no_plaintext(monkeypatch):
    """Vault stand-in (a local HTTP server) answers slower than the timeout."""
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    secret = f"chaos-plaintext-{os.getpid()}"
    with VaultStandIn() as vault:
        vault.delay = 2.5
        providers = {
            "vault": {
                "BACKEND": "hardened_privacy.keys.VaultTransitKeyProvider",
                "OPTIONS": {"URL": vault.url, "TIMEOUT": 1},
            }
        }
        keys = {"development/chaos-1": {"PROVIDER": "vault", "REFERENCE": "chaos"}}
        # Django marks the enclosing transaction broken when save() raises;
        # the savepoint keeps the test's transaction usable.
        with (
            override_settings(
                HARDENED_PRIVACY_KEY_PROVIDERS=providers,
                HARDENED_PRIVACY_KEYS=keys,
                HARDENED_PRIVACY_ACTIVE_KEY="development/chaos-1",
            ),
            pytest.raises(KeyProviderUnavailable, match="did not answer"),
            transaction.atomic(),
        ):
            Patient.objects.create(name="chaos", note=secret)

    assert not Patient.objects.filter(name="chaos").exists()
    table = Patient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    assert not any(secret in str(row) for row in rows)
