"""Post a ledger transfer on PostgreSQL in one statement.

``hardened_payments_post_transfer`` claims the transfer id, locks the
accounts in id order, checks them and inserts the journal row and its entries,
so :func:`hardened_payments.ledger.post_transfer` needs one round trip instead
of one per step. The triggers of ``0002_ledger_database_rules`` still apply
to everything it writes. Each refusal raises its own SQLSTATE of class ``HP``
(the code maps them to the ledger's exceptions):

* ``HPL01`` a leg names an account that does not exist;
* ``HPL02`` a leg names another tenant's account;
* ``HPL03`` a leg's currency differs from its account's;
* ``HPL04`` an account that forbids it would be overdrawn (detail: its code);
* ``HPL05`` the legs do not sum to zero (detail: the currencies);
* ``HPL06`` the transfer id was used for different content;
* ``HPL07`` the transfer id is taken but its row cannot be read;
* ``HPL08`` fewer than two legs, or leg arrays of different lengths.

Other databases post through the ORM and get the same checks from the code.
"""

from typing import Any

from django.db import migrations

ACCOUNT = "hardened_payments_ledgeraccount"
TRANSFER = "hardened_payments_ledgertransfer"
ENTRY = "hardened_payments_ledgerentry"

SIGNATURE = "bigint, text, text, text, bigint, timestamptz, bigint[], bigint[], text[]"

FORWARD = f"""
CREATE FUNCTION hardened_payments_post_transfer(
    p_tenant bigint,
    p_transfer_id text,
    p_description text,
    p_digest text,
    p_reverses bigint,
    p_created_at timestamptz,
    p_accounts bigint[],
    p_amounts bigint[],
    p_currencies text[],
    OUT transfer_pk bigint,
    OUT transfer_created_at timestamptz,
    OUT posted boolean
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    legs integer := coalesce(cardinality(p_accounts), 0);
    currencies text[] := '{{}}';
    sums numeric[] := '{{}}';
    accounts bigint[] := '{{}}';
    deltas numeric[] := '{{}}';
    slot integer;
    unbalanced text;
    stored_digest text;
    locked record;
    found_accounts integer := 0;
    tenants bigint[];
    held_currencies text[];
    guarded boolean[];
    balances bigint[];
    codes text[];
BEGIN
    IF legs < 2
       OR cardinality(p_amounts) IS DISTINCT FROM legs
       OR cardinality(p_currencies) IS DISTINCT FROM legs THEN
        RAISE EXCEPTION 'hardened_payments: a transfer needs two legs or more'
            USING ERRCODE = 'HPL08';
    END IF;

    FOR leg IN 1..legs LOOP
        slot := array_position(currencies, p_currencies[leg]);
        IF slot IS NULL THEN
            currencies := currencies || p_currencies[leg];
            sums := sums || p_amounts[leg]::numeric;
        ELSE
            sums[slot] := sums[slot] + p_amounts[leg];
        END IF;
        slot := array_position(accounts, p_accounts[leg]);
        IF slot IS NULL THEN
            accounts := accounts || p_accounts[leg];
            deltas := deltas || p_amounts[leg]::numeric;
        ELSE
            deltas[slot] := deltas[slot] + p_amounts[leg];
        END IF;
    END LOOP;
    IF 0 <> ANY (sums) THEN
        SELECT string_agg(g.currency, ', ' ORDER BY g.currency) INTO unbalanced
          FROM unnest(currencies, sums) AS g(currency, total)
         WHERE g.total <> 0;
        RAISE EXCEPTION 'hardened_payments: the legs do not sum to zero in %',
            unbalanced USING ERRCODE = 'HPL05', DETAIL = unbalanced;
    END IF;

    INSERT INTO {TRANSFER} AS t
           (tenant_id, transfer_id, description, content_digest, reverses_id,
            created_at)
    VALUES (p_tenant, p_transfer_id, p_description, p_digest, p_reverses,
            p_created_at)
    ON CONFLICT (tenant_id, transfer_id) DO NOTHING
    RETURNING t.id, t.created_at INTO transfer_pk, transfer_created_at;

    IF transfer_pk IS NULL THEN
        SELECT t.id, t.created_at, t.content_digest
          INTO transfer_pk, transfer_created_at, stored_digest
          FROM {TRANSFER} AS t
         WHERE t.tenant_id = p_tenant AND t.transfer_id = p_transfer_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'hardened_payments: transfer id % could not be claimed',
                p_transfer_id USING ERRCODE = 'HPL07';
        END IF;
        IF stored_digest <> p_digest THEN
            RAISE EXCEPTION 'hardened_payments: transfer id % was used for a '
                'different transfer', p_transfer_id USING ERRCODE = 'HPL06';
        END IF;
        posted := false;
        RETURN;
    END IF;

    tenants := array_fill(NULL::bigint, ARRAY[cardinality(accounts)]);
    held_currencies := array_fill(NULL::text, ARRAY[cardinality(accounts)]);
    guarded := array_fill(NULL::boolean, ARRAY[cardinality(accounts)]);
    balances := array_fill(NULL::bigint, ARRAY[cardinality(accounts)]);
    codes := array_fill(NULL::text, ARRAY[cardinality(accounts)]);
    FOR locked IN
        SELECT a.id, a.tenant_id, a.currency, a.allow_negative, a.balance, a.code
          FROM {ACCOUNT} AS a
         WHERE a.id = ANY (accounts)
         ORDER BY a.id
           FOR UPDATE
    LOOP
        slot := array_position(accounts, locked.id);
        tenants[slot] := locked.tenant_id;
        held_currencies[slot] := locked.currency;
        guarded[slot] := NOT locked.allow_negative;
        balances[slot] := locked.balance;
        codes[slot] := locked.code;
        found_accounts := found_accounts + 1;
    END LOOP;
    IF found_accounts <> cardinality(accounts) THEN
        RAISE EXCEPTION 'hardened_payments: a leg names an account that does not '
            'exist' USING ERRCODE = 'HPL01';
    END IF;

    FOR leg IN 1..legs LOOP
        slot := array_position(accounts, p_accounts[leg]);
        IF tenants[slot] <> p_tenant THEN
            RAISE EXCEPTION 'hardened_payments: a leg names another tenant''s '
                'account' USING ERRCODE = 'HPL02';
        END IF;
        IF held_currencies[slot] <> p_currencies[leg] THEN
            RAISE EXCEPTION 'hardened_payments: a leg''s currency differs from its '
                'account''s currency' USING ERRCODE = 'HPL03';
        END IF;
    END LOOP;
    FOR slot IN 1..cardinality(accounts) LOOP
        IF guarded[slot] AND balances[slot] + deltas[slot] < 0 THEN
            RAISE EXCEPTION 'hardened_payments: account % would be overdrawn',
                codes[slot] USING ERRCODE = 'HPL04', DETAIL = codes[slot];
        END IF;
    END LOOP;

    INSERT INTO {ENTRY} (transfer_id, account_id, amount, currency)
    SELECT transfer_pk, leg.account, leg.amount, leg.currency
      FROM unnest(p_accounts, p_amounts, p_currencies) WITH ORDINALITY
           AS leg(account, amount, currency, position)
     ORDER BY leg.position;
    posted := true;
END;
$$;
"""  # noqa: S608

BACKWARD = f"DROP FUNCTION IF EXISTS hardened_payments_post_transfer({SIGNATURE});"


def _run(sql: str) -> Any:
    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("hardened_payments", "0007_payout_transfers")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
