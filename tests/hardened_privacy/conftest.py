import logging

import pytest

from hardened_privacy.audit import AuditLogHandler


@pytest.fixture
def audit_logger():
    """A logger whose audit events are stored; a storage failure fails the test."""
    logger = logging.getLogger("hardened_test.audit")
    handler = AuditLogHandler()

    def fail(record):
        raise RuntimeError("audit handler failed")

    handler.handleError = fail  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger
    logger.removeHandler(handler)
