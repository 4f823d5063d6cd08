"""Fixtures for the payments tests."""

import pytest
from django.db import connection, transaction

from tests.factories import TenantFactory

LEDGER_TABLES = [
    "hardened_payments_ledgerentry",
    "hardened_payments_ledgertransfer",
    "hardened_payments_ledgeraccount",
]


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def purge_ledger_after(transactional_db):
    """Empty the append-only tables after a test that commits.

    The triggers refuse to truncate a ledger that holds rows, so the
    transactional test database is emptied here with triggers switched off for
    one transaction (the test role is a superuser) before Django flushes it.
    """
    yield
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        for table in LEDGER_TABLES:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608


@pytest.fixture
def stripe_standin(settings):
    """Start the local Stripe stand-in and point the stripe library at it."""
    import stripe

    from tests.hardened_payments.stripe_standin import StripeStandIn

    server = StripeStandIn().start()
    previous = stripe.api_base
    stripe.api_base = server.url
    settings.HARDENED_PAYMENTS_STRIPE_API_KEY = "sk_test_standin"
    yield server
    stripe.api_base = previous
    server.stop()


@pytest.fixture
def audit_log(caplog):
    """Return the structured fields of the payments audit events by name."""
    caplog.set_level("INFO", logger="hardened_payments.audit")

    def events(name):
        return [
            record.hardened_audit
            for record in caplog.records
            if record.name == "hardened_payments.audit" and record.getMessage() == name
        ]

    return events
