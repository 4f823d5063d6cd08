"""Fixtures the attack suites borrow from the payments tests."""

from tests.hardened_payments.conftest import (
    purge_ledger_after,
    stripe_standin,
    tenant,
)

__all__ = ["purge_ledger_after", "stripe_standin", "tenant"]
