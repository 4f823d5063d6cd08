"""Shared helpers for hardened_rbac tests."""

import logging

import pytest


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [
        r.hardened_audit
        for r in caplog.records
        if r.name == "hardened_rbac.audit" and hasattr(r, "hardened_audit")
    ]


def capture_audit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hardened_rbac.audit")
