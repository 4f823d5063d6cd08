import json
import logging

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from hardened_privacy.audit import (
    AuditJSONFormatter,
    bind_request_id,
    current_request_id,
)
from hardened_privacy.checks import check_privacy_settings
from hardened_privacy.internal import request_id
from hardened_privacy.middleware import RequestIdMiddleware
from hardened_privacy.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stored(audit_logger):
    return audit_logger


def log_event(**extra):
    payload = {"event": "authz_fail", "outcome": "denied", **extra}
    logging.getLogger("hardened_test.audit").warning(
        "authz_fail", extra={"hardened_audit": payload}
    )


def serve(headers=None, view=None):
    seen = {}

    def default_view(request):
        seen["bound"] = request_id.current()
        seen["attribute"] = request.request_id
        log_event()
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view or default_view)
    response = middleware(RequestFactory().get("/", headers=headers or {}))
    return response, seen


def test_each_request_gets_a_fresh_id_on_its_response_and_its_events():
    first, seen = serve()
    second, _ = serve()
    assert first["X-Request-ID"] == seen["bound"] == seen["attribute"]
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]
    stored = [r.data["request_id"] for r in AuditRecord.objects.order_by("pk")]
    assert stored == [first["X-Request-ID"], second["X-Request-ID"]]


def test_the_id_is_unbound_after_the_request_even_when_the_view_fails():
    def broken(request):
        raise ValueError("view failed")

    with pytest.raises(ValueError, match="view failed"):
        serve(view=broken)
    assert request_id.current() is None


def test_an_incoming_header_is_ignored_unless_a_trusted_one_is_named():
    response, _ = serve({"X-Request-ID": "from-the-client"})
    assert response["X-Request-ID"] != "from-the-client"


@override_settings(HARDENED_PRIVACY_REQUEST_ID_HEADER="X-Request-ID")
def test_a_well_formed_id_from_the_trusted_header_is_kept():
    response, seen = serve({"X-Request-ID": "edge-7f3a:42.lb"})
    assert response["X-Request-ID"] == seen["bound"] == "edge-7f3a:42.lb"
    assert AuditRecord.objects.get().data["request_id"] == "edge-7f3a:42.lb"


@override_settings(HARDENED_PRIVACY_REQUEST_ID_HEADER="X-Request-ID")
@pytest.mark.parametrize(
    "forged",
    [
        "line\nbreak",
        'quote"d',
        "spa ce",
        "x" * 129,
        "",
        "semi;colon",
        "é",
        "user@example.com",
    ],
)
def test_a_malformed_id_from_the_trusted_header_is_replaced(forged):
    response, _ = serve({"X-Request-ID": forged})
    assert response["X-Request-ID"] != forged
    assert len(response["X-Request-ID"]) == 32


def test_a_job_binds_its_own_id_through_the_public_module():
    with bind_request_id("nightly-retention"):
        assert current_request_id() == "nightly-retention"
        log_event()
    assert current_request_id() is None
    assert AuditRecord.objects.get().data["request_id"] == "nightly-retention"


def test_an_event_naming_its_own_request_id_keeps_it():
    with request_id.bound("outer"):
        log_event(request_id="job-17")
    assert AuditRecord.objects.get().data["request_id"] == "job-17"


def test_events_outside_a_request_carry_no_id():
    log_event()
    assert "request_id" not in AuditRecord.objects.get().data


def test_json_formatter_adds_the_bound_id():
    record = logging.LogRecord(
        "hardened_auth.audit", logging.WARNING, "", 0, "authz_fail", None, None
    )
    record.hardened_audit = {"event": "authz_fail"}
    with request_id.bound("abc123"):
        document = json.loads(AuditJSONFormatter().format(record))
    assert document["request_id"] == "abc123"
    assert document["audit"] == {"event": "authz_fail", "request_id": "abc123"}
    assert "request_id" not in json.loads(AuditJSONFormatter().format(record))


@pytest.mark.parametrize(
    "value", ["HTTP_X_REQUEST_ID", "X Request", "-leading", 42, "X-" + "a" * 63]
)
def test_check_refuses_a_malformed_header_setting(value):
    with override_settings(HARDENED_PRIVACY_REQUEST_ID_HEADER=value):
        ids = [message.id for message in check_privacy_settings()]
    assert "hardened_privacy.E080" in ids


@pytest.mark.parametrize("value", [None, "X-Request-ID", "X-Amzn-Trace-Id"])
def test_check_accepts_a_header_name_or_none(value):
    with override_settings(HARDENED_PRIVACY_REQUEST_ID_HEADER=value):
        ids = [message.id for message in check_privacy_settings()]
    assert "hardened_privacy.E080" not in ids


def test_sandbox_puts_the_middleware_first():
    from sandbox.settings import base

    assert base.MIDDLEWARE[0] == "hardened_privacy.middleware.RequestIdMiddleware"
