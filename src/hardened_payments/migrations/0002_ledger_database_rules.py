"""Make PostgreSQL itself enforce the ledger's rules.

* every transfer balances per currency and has two legs or more (deferred
  constraint triggers, checked at commit);
* transfers and entries are append-only: UPDATE and DELETE are refused, and
  TRUNCATE is refused while the table holds rows;
* an account's balance changes only through its entries, which must match the
  account's currency and the transfer's tenant;
* an account that forbids it never goes below zero (a CHECK constraint).

Other databases get the same rules from the code that posts transfers.
"""

from typing import Any

from django.db import migrations

ACCOUNT = "hardened_payments_ledgeraccount"
TRANSFER = "hardened_payments_ledgertransfer"
ENTRY = "hardened_payments_ledgerentry"

FORWARD = f"""
CREATE FUNCTION hardened_payments_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hardened_payments: % on % is refused: the ledger is append-only',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE FUNCTION hardened_payments_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    has_rows boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA,
                   TG_TABLE_NAME) INTO has_rows;
    IF has_rows THEN
        RAISE EXCEPTION 'hardened_payments: TRUNCATE on % is refused: the ledger '
            'is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION hardened_payments_apply_entry() RETURNS trigger
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

CREATE FUNCTION hardened_payments_guard_account() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'hardened_payments: a new account starts at zero'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.currency <> OLD.currency OR NEW.tenant_id <> OLD.tenant_id THEN
        RAISE EXCEPTION 'hardened_payments: an account keeps its currency and tenant'
            USING ERRCODE = 'restrict_violation';
    ELSIF NEW.balance <> OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'hardened_payments: a balance changes only through entries'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION hardened_payments_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    transfer bigint;
    unbalanced text;
    legs integer;
BEGIN
    IF TG_TABLE_NAME = '{ENTRY}' THEN
        transfer := NEW.transfer_id;
    ELSE
        transfer := NEW.id;
    END IF;
    SELECT sum(n), min(currency) FILTER (WHERE total <> 0)
      INTO legs, unbalanced
      FROM (SELECT currency, sum(amount) AS total, count(*) AS n
              FROM {ENTRY} WHERE transfer_id = transfer GROUP BY currency) AS g;
    IF coalesce(legs, 0) < 2 THEN
        RAISE EXCEPTION 'hardened_payments: transfer % has fewer than two legs',
            transfer USING ERRCODE = 'check_violation';
    END IF;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'hardened_payments: transfer % does not balance in %',
            transfer, unbalanced USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER hardened_payments_entry_append_only
    BEFORE UPDATE OR DELETE ON {ENTRY}
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_refuse_change();
CREATE TRIGGER hardened_payments_transfer_append_only
    BEFORE UPDATE OR DELETE ON {TRANSFER}
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_refuse_change();
CREATE TRIGGER hardened_payments_entry_no_truncate
    BEFORE TRUNCATE ON {ENTRY}
    FOR EACH STATEMENT EXECUTE FUNCTION hardened_payments_refuse_truncate();
CREATE TRIGGER hardened_payments_transfer_no_truncate
    BEFORE TRUNCATE ON {TRANSFER}
    FOR EACH STATEMENT EXECUTE FUNCTION hardened_payments_refuse_truncate();
CREATE TRIGGER hardened_payments_entry_apply
    BEFORE INSERT ON {ENTRY}
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_apply_entry();
CREATE TRIGGER hardened_payments_account_guard
    BEFORE INSERT OR UPDATE ON {ACCOUNT}
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_guard_account();
CREATE CONSTRAINT TRIGGER hardened_payments_entry_balanced
    AFTER INSERT ON {ENTRY} DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_check_balanced();
CREATE CONSTRAINT TRIGGER hardened_payments_transfer_balanced
    AFTER INSERT ON {TRANSFER} DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION hardened_payments_check_balanced();
"""  # noqa: S608

BACKWARD = f"""
DROP TRIGGER IF EXISTS hardened_payments_transfer_balanced ON {TRANSFER};
DROP TRIGGER IF EXISTS hardened_payments_entry_balanced ON {ENTRY};
DROP TRIGGER IF EXISTS hardened_payments_account_guard ON {ACCOUNT};
DROP TRIGGER IF EXISTS hardened_payments_entry_apply ON {ENTRY};
DROP TRIGGER IF EXISTS hardened_payments_transfer_no_truncate ON {TRANSFER};
DROP TRIGGER IF EXISTS hardened_payments_entry_no_truncate ON {ENTRY};
DROP TRIGGER IF EXISTS hardened_payments_transfer_append_only ON {TRANSFER};
DROP TRIGGER IF EXISTS hardened_payments_entry_append_only ON {ENTRY};
DROP FUNCTION IF EXISTS hardened_payments_check_balanced();
DROP FUNCTION IF EXISTS hardened_payments_guard_account();
DROP FUNCTION IF EXISTS hardened_payments_apply_entry();
DROP FUNCTION IF EXISTS hardened_payments_refuse_truncate();
DROP FUNCTION IF EXISTS hardened_payments_refuse_change();
"""


def _run(sql: str) -> Any:
    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("hardened_payments", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
