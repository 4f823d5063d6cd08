"""PostgreSQL triggers that keep the audit table append-only.

UPDATE and DELETE are refused row by row and TRUNCATE per statement. A
session may allow TRUNCATE (only) by setting
``hardened_privacy.allow_truncate`` to ``on``; the test suite does so to
empty its database between tests.
"""

from typing import Any

from django.db import migrations

TABLE = "hardened_privacy_auditrecord"

FORWARD = f"""
CREATE FUNCTION hardened_privacy_audit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('hardened_privacy.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'hardened_privacy: % on % is refused: the audit log is '
        'append-only', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER hardened_privacy_audit_no_change
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION hardened_privacy_audit_refuse();
CREATE TRIGGER hardened_privacy_audit_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION hardened_privacy_audit_refuse();
"""

BACKWARD = f"""
DROP TRIGGER IF EXISTS hardened_privacy_audit_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS hardened_privacy_audit_no_change ON {TABLE};
DROP FUNCTION IF EXISTS hardened_privacy_audit_refuse();
"""


def _run(sql: str) -> Any:
    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("hardened_privacy", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
