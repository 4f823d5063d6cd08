"""Give two ledger triggers of ``0002`` cheaper plans on PostgreSQL.

``hardened_payments_apply_entry`` runs before every entry is inserted. It
compared the account's tenant with a scalar subquery on the transfer, and the
cached generic plan of that UPDATE can find the account through its tenant
index, reading every account of the tenant to update one. It now joins the
transfer in the UPDATE, whose plan finds the account by its primary key. The
amount is still added only when the account exists, holds the entry's
currency and belongs to the tenant of the entry's transfer; otherwise the
insert is refused with ``check_violation``.

``hardened_payments_check_balanced`` runs at commit for every new transfer
and every new entry. It grouped the transfer's entries by currency in every
case; it now reads them with one plain aggregate (count, sum, lowest and
highest currency) and groups them, in a second query, only when they hold
more than one currency. It still refuses, with the same messages, a transfer
with fewer than two legs and one whose legs do not sum to zero in a currency
(naming the lowest such currency code).

The other triggers of ``0002`` are left as they are. Reversing restores
``0002``'s definitions of both functions.
"""

from typing import Any

from django.db import migrations

ACCOUNT = "hardened_payments_ledgeraccount"
ENTRY = "hardened_payments_ledgerentry"
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

CREATE OR REPLACE FUNCTION hardened_payments_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    transfer bigint;
    unbalanced text;
    legs bigint;
    lowest text;
    highest text;
    total numeric;
BEGIN
    IF TG_TABLE_NAME = '{ENTRY}' THEN
        transfer := NEW.transfer_id;
    ELSE
        transfer := NEW.id;
    END IF;
    SELECT count(*), min(currency), max(currency), sum(amount)
      INTO legs, lowest, highest, total
      FROM {ENTRY} WHERE transfer_id = transfer;
    IF legs < 2 THEN
        RAISE EXCEPTION 'hardened_payments: transfer % has fewer than two legs',
            transfer USING ERRCODE = 'check_violation';
    END IF;
    IF lowest = highest THEN
        IF total <> 0 THEN
            unbalanced := lowest;
        END IF;
    ELSE
        SELECT min(g.currency) INTO unbalanced
          FROM (SELECT currency FROM {ENTRY} WHERE transfer_id = transfer
                 GROUP BY currency HAVING sum(amount) <> 0) AS g;
    END IF;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'hardened_payments: transfer % does not balance in %',
            transfer, unbalanced USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
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

CREATE OR REPLACE FUNCTION hardened_payments_check_balanced() RETURNS trigger
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
"""  # noqa: S608


def _run(sql: str) -> Any:
    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("hardened_payments", "0008_ledger_post_function")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
