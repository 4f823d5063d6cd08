"""Find the account a ledger entry moves by its primary key on PostgreSQL.

``hardened_payments_apply_entry`` (from ``0002_ledger_database_rules``) runs
before every entry is inserted. It compared the account's tenant with a
scalar subquery on the transfer, and the cached generic plan of that UPDATE
finds the account through its tenant index, reading every account of the
tenant to update one. It now joins the transfer in the UPDATE, whose plan
finds the account by its primary key. The rule is the same: the amount is
added to the account only when the account exists, holds the entry's currency
and belongs to the tenant of the entry's transfer, and otherwise the insert is
refused with ``check_violation``. Every other trigger of ``0002`` is left as
it is.

Reversing restores ``0002``'s definition of the function.
"""

from typing import Any

from django.db import migrations

ACCOUNT = "hardened_payments_ledgeraccount"
TRANSFER = "hardened_payments_ledgertransfer"

FORWARD = f"""
CREATE OR REPLACE FUNCTION hardened_payments_apply_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {ACCOUNT} AS a SET balance = a.balance + NEW.amount
      FROM {TRANSFER} AS t
     WHERE a.id = NEW.account_id
       AND a.currency = NEW.currency
       AND t.id = NEW.transfer_id
       AND a.tenant_id = t.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hardened_payments: entry for account % does not match '
            'its currency or tenant', NEW.account_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""  # noqa: S608

BACKWARD = f"""
CREATE OR REPLACE FUNCTION hardened_payments_apply_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {ACCOUNT} SET balance = balance + NEW.amount
     WHERE id = NEW.account_id
       AND currency = NEW.currency
       AND tenant_id = (SELECT tenant_id FROM {TRANSFER} WHERE id = NEW.transfer_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hardened_payments: entry for account % does not match '
            'its currency or tenant', NEW.account_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""  # noqa: S608


def _run(sql: str) -> Any:
    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("hardened_payments", "0008_ledger_post_function")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
