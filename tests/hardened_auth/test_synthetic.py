"""The synthetic checks sign in and charge against a live server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hardened_auth import checks
from hardened_payments.models import Payment
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TenantFactory
from tests.hardened_auth.test_enumeration import _verified_user
from tests.hardened_payments.conftest import (  # noqa: F401 - fixtures used by name
    purge_ledger_after,
    stripe_standin,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(settings: Any) -> Any:
    user = _verified_user()
    tenant = TenantFactory(slug="synthetic")
    MembershipFactory(user=user, tenant=tenant)
    settings.HARDENED_AUTH_SYNTHETIC_EMAIL = user.email
    settings.HARDENED_AUTH_SYNTHETIC_PASSWORD = DEFAULT_PASSWORD
    settings.HARDENED_AUTH_SYNTHETIC_TENANT = "synthetic"
    return user


def _run(*args: str) -> tuple[list[dict[str, Any]], str]:
    out = StringIO()
    error = ""
    try:
        call_command("hardened_auth_synthetic", *args, stdout=out)
    except CommandError as exc:
        error = str(exc)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return lines, error


@pytest.mark.usefixtures("stripe_standin", "purge_ledger_after")
def test_signs_in_and_charges_idempotently(live_server: Any, account: Any) -> None:
    """The charge goes to the local Stripe stand-in: Stripe is out of reach."""
    lines, error = _run(live_server.url, "--amount", "250")

    assert error == ""
    assert [(line["check"], line["ok"], line["status"]) for line in lines] == [
        ("sign_in", True, 200),
        ("charge", True, 201),
    ]
    assert all(line["level"] == "INFO" and line["latency_ms"] > 0 for line in lines)
    assert lines[1]["steps"][-2:] == [
        "POST /payments/synthetic/charges/",
        "POST /payments/synthetic/charges/",
    ]
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency) == (250, "USD")


def test_a_refused_password_fails_without_logging_it(
    live_server: Any, account: Any, settings: Any
) -> None:
    settings.HARDENED_AUTH_SYNTHETIC_PASSWORD = "not the password at all"
    settings.HARDENED_AUTH_SYNTHETIC_TENANT = ""

    lines, error = _run(live_server.url)

    assert error == "Synthetic checks failed: sign_in"
    assert len(lines) == 1
    assert lines[0]["ok"] is False
    assert lines[0]["level"] == "ERROR"
    assert "credentials refused" in lines[0]["error"]
    assert "not the password at all" not in json.dumps(lines)


def test_another_tenant_is_refused(live_server: Any, account: Any) -> None:
    TenantFactory(slug="elsewhere")

    lines, error = _run(live_server.url, "--tenant", "elsewhere")

    assert error == "Synthetic checks failed: charge"
    assert lines[0]["ok"] is True
    assert lines[1]["error"] == "/payments/elsewhere/charges/ answered 404"
    assert not Payment.objects.exists()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_timeout_bounds_a_site_that_never_answers(
    silent_server: str, account: Any
) -> None:
    start = time.monotonic()

    lines, error = _run(silent_server, "--timeout", "0.5")

    assert time.monotonic() - start < 5
    assert error == "Synthetic checks failed: sign_in, charge"
    assert [line["ok"] for line in lines] == [False, False]
    assert all("GET /accounts/login/" in line["error"] for line in lines)


def test_refuses_to_run_without_the_account(settings: Any) -> None:
    settings.HARDENED_AUTH_SYNTHETIC_EMAIL = ""
    with pytest.raises(CommandError, match="SYNTHETIC_EMAIL"):
        call_command("hardened_auth_synthetic", "http://127.0.0.1:1")


def test_refuses_a_base_url_that_is_not_http(account: Any) -> None:
    with pytest.raises(CommandError, match="must start with http:// or https://"):
        call_command("hardened_auth_synthetic", "file:///etc/passwd")


@pytest.mark.parametrize(
    ("email", "password", "tenant", "ids"),
    [
        ("", "", "", []),
        ("s@example.com", "pw", "acme", []),
        ("s@example.com", "", "", ["hardened_auth.E028"]),
        ("", "pw", "", ["hardened_auth.E028"]),
        ("s@example.com", "pw", 7, ["hardened_auth.E028"]),
    ],
)
def test_synthetic_settings_check(
    settings: Any, email: Any, password: Any, tenant: Any, ids: list[str]
) -> None:
    settings.HARDENED_AUTH_SYNTHETIC_EMAIL = email
    settings.HARDENED_AUTH_SYNTHETIC_PASSWORD = password
    settings.HARDENED_AUTH_SYNTHETIC_TENANT = tenant

    messages = checks.check_synthetic()

    assert [m.id for m in messages] == ids
    assert all(m.msg == checks.E028_MSG for m in messages)
