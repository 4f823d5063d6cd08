import io
import json
import logging
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.utils import IntegrityError, OperationalError
from django.test import override_settings

from hardened_privacy.audit import AuditJSONFormatter, AuditLogHandler
from hardened_privacy.exceptions import AuditChainError
from hardened_privacy.internal.audit import (
    AuditEvent,
    append,
    chain_for,
    verify_chain,
)
from hardened_privacy.models import AuditRecord

pytestmark = pytest.mark.django_db


def log_event(logger, event="authn_login_fail", tenant=None, **extra):
    payload = {
        "event": event,
        "actor": 7,
        "tenant": tenant,
        "target": "user:7",
        "outcome": "failure",
        "ip": "203.0.113.9",
        **extra,
    }
    logger.warning(event, extra={"hardened_audit": payload})


def raw_update(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_handler_stores_chained_records(audit_logger):
    for _ in range(3):
        log_event(audit_logger)
    rows = list(AuditRecord.objects.filter(chain="global"))
    assert [r.sequence for r in rows] == [1, 2, 3]
    assert rows[0].previous_hash == "0" * 64
    assert rows[1].previous_hash == rows[0].record_hash
    assert (rows[0].event, rows[0].actor, rows[0].outcome) == (
        "authn_login_fail",
        "7",
        "failure",
    )
    assert rows[0].ip == "203.0.113.9"
    assert rows[0].logger == "hardened_test.audit"
    assert verify_chain("global") == (3, None)


def test_each_tenant_has_its_own_chain(audit_logger):
    log_event(audit_logger, tenant=1)
    log_event(audit_logger, tenant=2)
    log_event(audit_logger, tenant=1)
    assert list(
        AuditRecord.objects.filter(chain="tenant:1").values_list("sequence", flat=True)
    ) == [1, 2]
    assert AuditRecord.objects.get(chain="tenant:2").sequence == 1


def test_records_without_audit_payload_are_ignored(audit_logger):
    audit_logger.warning("plain message")
    assert not AuditRecord.objects.exists()


def test_secrets_in_extra_fields_are_masked_before_storage(audit_logger):
    log_event(
        audit_logger,
        password="hunter2-hunter2",
        detail="token=abcdef123456 for ada@example.com",
    )
    row = AuditRecord.objects.get()
    stored = json.dumps(row.data)
    assert "hunter2" not in stored
    assert "abcdef123456" not in stored
    assert "ada@example.com" not in stored


def test_oversized_values_are_bounded(audit_logger):
    log_event(audit_logger, target="t" * 5000, blob="x" * 50000)
    row = AuditRecord.objects.get()
    assert len(row.target) == 255
    assert len(json.dumps(row.data)) < 9000


def test_event_without_name_is_reported_not_stored():
    with pytest.raises(AuditChainError, match="needs an event name"):
        AuditEvent.from_payload({"outcome": "success"}, "x", "INFO")


def test_unknown_outcome_is_marked_invalid():
    event = AuditEvent.from_payload({"event": "e", "outcome": "maybe"}, "x", "INFO")
    assert event.outcome == "invalid:maybe"


def test_storage_failure_goes_to_handle_error(monkeypatch):
    handler = AuditLogHandler()
    failures: list[logging.LogRecord] = []
    handler.handleError = failures.append  # type: ignore[assignment]
    with override_settings(HARDENED_PRIVACY_AUDIT_KEY=None):
        record = logging.LogRecord("x", logging.INFO, "", 0, "e", None, None)
        record.hardened_audit = {"event": "e", "outcome": "success"}
        handler.emit(record)
    assert failures == [record]
    assert not AuditRecord.objects.exists()


def test_json_formatter_emits_one_escaped_line():
    record = logging.LogRecord(
        "hardened_auth.audit", logging.WARNING, "", 0, "evil\nline", None, None
    )
    record.hardened_audit = {"event": "authz_fail", "actor": None}
    line = AuditJSONFormatter().format(record)
    assert "\n" not in line
    document = json.loads(line)
    assert document["message"] == "evil\nline"
    assert document["audit"] == {"event": "authz_fail", "actor": None}
    assert document["logger"] == "hardened_auth.audit"


def _as_table_owner(statement):
    """Run ``statement`` with the append-only triggers off, as an owner could."""
    if connection.vendor == "postgresql":
        raw_update("ALTER TABLE hardened_privacy_auditrecord DISABLE TRIGGER USER", [])
    statement()
    if connection.vendor == "postgresql":
        raw_update("ALTER TABLE hardened_privacy_auditrecord ENABLE TRIGGER USER", [])


def _break(sql_field, value, sequence=2):
    pk = AuditRecord.objects.get(chain="global", sequence=sequence).pk
    _as_table_owner(
        lambda: AuditRecord.objects.filter(pk=pk).update(**{sql_field: value})
    )
    return pk


@pytest.fixture
def chain_of_four(audit_logger):
    for index in range(4):
        log_event(audit_logger, event=f"event_{index}")


def test_verify_command_reports_intact_chain(chain_of_four):
    out = io.StringIO()
    call_command("hardened_privacy_verify_audit", stdout=out)
    assert "global: 4 records, intact" in out.getvalue()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("event", "authn_login_success", "its contents were altered"),
        ("actor", "1", "its contents were altered"),
        ("record_hash", "f" * 64, "its contents were altered"),
        ("previous_hash", "0" * 64, "does not link"),
        ("sequence", 9, "records are missing"),
    ],
)
def test_verify_names_first_tampered_record(chain_of_four, field, value, reason):
    pk = _break(field, value)
    if field == "sequence":
        # Renumbering leaves a gap: the record after it is the first break.
        pk = AuditRecord.objects.get(chain="global", sequence=3).pk
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 audit chain"):
        call_command("hardened_privacy_verify_audit", stdout=io.StringIO(), stderr=err)
    assert f"global: BROKEN at record id={pk} sequence=" in err.getvalue()
    assert reason in err.getvalue()


def test_verify_detects_a_deleted_record(chain_of_four):
    _as_table_owner(lambda: AuditRecord.objects.filter(sequence=2).delete())
    _count, problem = verify_chain("global")
    assert problem is not None
    assert (problem.sequence, problem.reason) == (
        3,
        "expected sequence 2: records are missing",
    )


def test_verify_with_another_key_fails(chain_of_four, monkeypatch):
    monkeypatch.setenv("OTHER_AUDIT_KEY", "k" * 40)
    spec = {"PROVIDER": "env", "REFERENCE": "OTHER_AUDIT_KEY"}
    with override_settings(HARDENED_PRIVACY_AUDIT_KEY=spec):
        _, problem = verify_chain("global")
    assert problem is not None
    assert problem.sequence == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE hardened_privacy_auditrecord SET event = 'x'",
        "DELETE FROM hardened_privacy_auditrecord",
    ],
)
def test_postgres_refuses_update_and_delete(chain_of_four, sql):
    with (
        pytest.raises(IntegrityError, match="audit log is append-only"),
        transaction.atomic(),
    ):
        raw_update(sql, [])
    assert verify_chain("global") == (4, None)


@pytest.mark.postgres
def test_postgres_refuses_truncate_unless_session_allows(chain_of_four):
    with transaction.atomic():
        raw_update("SET LOCAL hardened_privacy.allow_truncate = off", [])
        with pytest.raises(IntegrityError, match="TRUNCATE on"):
            raw_update("TRUNCATE hardened_privacy_auditrecord", [])
        transaction.set_rollback(True)
    assert AuditRecord.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_cannot_fork_a_chain():
    errors = []

    def writer(index):
        try:
            for n in range(10):
                append(
                    AuditEvent.from_payload(
                        {"event": f"w{index}_{n}", "tenant": 5, "outcome": "success"},
                        "t",
                        "INFO",
                    )
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chain = chain_for("5")
    assert verify_chain(chain) == (60, None)
    assert AuditRecord.objects.filter(chain=chain).count() == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writer_waits_for_the_chain_lock():
    """A writer blocks while another transaction holds the chain's lock."""
    append(AuditEvent.from_payload({"event": "first", "tenant": 9}, "t", "INFO"))
    holder_ready, release = threading.Event(), threading.Event()
    outcome = []

    def holder():
        with transaction.atomic():
            append(AuditEvent.from_payload({"event": "held", "tenant": 9}, "t", "INFO"))
            holder_ready.set()
            release.wait(10)
        connections.close_all()

    def contender():
        holder_ready.wait(10)
        try:
            with transaction.atomic():
                raw_update("SET LOCAL lock_timeout = '300ms'", [])
                append(
                    AuditEvent.from_payload({"event": "late", "tenant": 9}, "t", "INFO")
                )
            outcome.append("written")
        except OperationalError as exc:
            outcome.append(type(exc).__name__)
        finally:
            release.set()
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=contender)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome == ["OperationalError"]
    assert verify_chain(chain_for("9")) == (2, None)


@pytest.mark.parametrize("app", ["hardened_auth", "hardened_rbac", "hardened_payments"])
def test_sandbox_logging_stores_every_apps_audit_events(app):
    """The shared LOGGING routes each app's audit logger to the chain."""
    logging.getLogger(f"{app}.audit").warning(
        "authz_fail",
        extra={
            "hardened_audit": {
                "event": "authz_fail",
                "actor": 3,
                "tenant": 8,
                "target": "invoice:1",
                "outcome": "denied",
                "ip": "198.51.100.4",
                "note": "Bearer abcdef0123456789",
            }
        },
    )
    row = AuditRecord.objects.get(chain="tenant:8")
    assert (row.logger, row.event, row.outcome) == (
        f"{app}.audit",
        "authz_fail",
        "denied",
    )
    assert "abcdef0123456789" not in json.dumps(row.data)
    assert verify_chain("tenant:8") == (1, None)
