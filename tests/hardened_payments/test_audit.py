"""The payments audit events and what they cost when nobody listens."""

import logging

import pytest
from django.http import HttpRequest

from hardened_payments.internal import audit


class Watched(HttpRequest):
    """A request whose user may only be read when ``allowed``."""

    def __init__(self, allowed):
        super().__init__()
        self.META["REMOTE_ADDR"] = "192.0.2.7"
        self.allowed = allowed
        self.reads = 0

    @property
    def user(self):  # type: ignore[override]
        self.reads += 1
        if not self.allowed:
            raise AssertionError("the request was read for a dropped event")
        return None


@pytest.mark.parametrize(
    ("level", "outcome", "logged"),
    [
        ("INFO", "success", True),
        ("WARNING", "success", False),
        ("WARNING", "denied", True),
        ("ERROR", "failure", False),
    ],
)
def test_an_event_is_built_only_when_the_logger_takes_it(
    caplog, level, outcome, logged
):
    caplog.set_level(level, logger="hardened_payments.audit")
    request = Watched(allowed=logged)

    assert audit.enabled(outcome) is logged
    audit.emit("payment_checked", outcome=outcome, request=request, target="p-1")

    records = [r for r in caplog.records if r.name == "hardened_payments.audit"]
    assert [r.hardened_audit["target"] for r in records] == (["p-1"] if logged else [])
    assert request.reads == (1 if logged else 0)


def test_a_disabled_logger_takes_no_event(caplog, monkeypatch):
    caplog.set_level("INFO", logger="hardened_payments.audit")
    monkeypatch.setattr(logging.getLogger("hardened_payments.audit"), "disabled", True)

    assert audit.enabled("success") is False
    audit.emit("payment_checked", outcome="success", request=Watched(allowed=False))
    assert caplog.records == []
