"""The PostgreSQL posting function and how its refusals reach Python."""

import logging
from typing import Any

import pytest
from django.db import DataError, Error, connection, transaction
from django.test.utils import CaptureQueriesContext

from hardened_payments import ledger
from hardened_payments.exceptions import (
    InsufficientFunds,
    InvalidTransfer,
    TransferConflict,
    UnbalancedTransfer,
)
from hardened_payments.internal import ledger as internal
from hardened_payments.ledger import Leg
from hardened_payments.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from tests.factories import TenantFactory

pytestmark = pytest.mark.postgres

CALL = (
    "SELECT transfer_pk, posted FROM hardened_payments_post_transfer("
    "%s, %s, '', 'digest', NULL, now(), %s::bigint[], %s::bigint[], %s::text[])"
)


def usd(amount):
    return Money(amount, "USD")


@pytest.fixture
def accounts(tenant):
    return {
        "bank": ledger.open_account(tenant, "bank", "USD", allow_negative=True),
        "seller": ledger.open_account(tenant, "seller", "USD"),
        "fees": ledger.open_account(tenant, "fees", "USD"),
        "eur": ledger.open_account(tenant, "bank-eur", "EUR", allow_negative=True),
    }


def snapshot():
    return (
        sorted(LedgerAccount.objects.values_list("code", "balance")),
        LedgerTransfer.objects.count(),
        LedgerEntry.objects.count(),
    )


def call(tenant, transfer_id, legs):
    """Call the function directly, inside a savepoint, as raw SQL would."""
    params = [
        tenant.pk,
        transfer_id,
        [account.pk if hasattr(account, "pk") else account for account, _, _ in legs],
        [amount for _, amount, _ in legs],
        [currency for _, _, currency in legs],
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CALL, params)
        row = cursor.fetchone()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return row


def raw_refusal(sql, params):
    """The database error ``sql`` raises, run inside a savepoint."""
    with (
        pytest.raises(Error) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    cause: Any = caught.value.__cause__
    assert cause is not None
    return cause


def refused(tenant, transfer_id, legs):
    """The SQLSTATE and detail the function raises for ``legs``."""
    with pytest.raises(Error) as caught:
        call(tenant, transfer_id, legs)
    cause: Any = caught.value.__cause__
    assert cause is not None
    return cause.sqlstate, cause.diag.message_detail


def test_function_posts_entries_in_leg_order_and_moves_balances(tenant, accounts):
    pk, posted = call(
        tenant,
        "t-1",
        [
            (accounts["bank"], -100, "USD"),
            (accounts["seller"], 70, "USD"),
            (accounts["fees"], 30, "USD"),
        ],
    )

    assert posted is True
    transfer = LedgerTransfer.objects.get(pk=pk)
    assert list(transfer.entries.values_list("account__code", "amount")) == [
        ("bank", -100),
        ("seller", 70),
        ("fees", 30),
    ]
    assert ledger.balance(accounts["seller"]) == usd(70)
    assert ledger.balance(accounts["bank"]) == usd(-100)


def test_function_replays_the_same_id_without_posting_again(tenant, accounts):
    legs = [(accounts["bank"], -5, "USD"), (accounts["seller"], 5, "USD")]
    first, _ = call(tenant, "t-1", legs)
    again, posted = call(tenant, "t-1", legs)

    assert (again, posted) == (first, False)
    assert ledger.balance(accounts["seller"]) == usd(5)
    assert LedgerEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("legs", "sqlstate", "detail"),
    [
        pytest.param([("bank", -5, "USD")], "HPL08", None, id="one leg"),
        pytest.param([], "HPL08", None, id="no legs"),
        pytest.param(
            [("bank", -5, "USD"), ("seller", 4, "USD")], "HPL05", "USD", id="unbalanced"
        ),
        pytest.param(
            [("bank", -5, "USD"), ("eur", 5, "EUR")],
            "HPL05",
            "EUR, USD",
            id="mixed currencies",
        ),
        pytest.param(
            [("bank", -5, "USD"), (10**9, 5, "USD")], "HPL01", None, id="no account"
        ),
        pytest.param(
            [("bank", -5, "USD"), (None, 5, "USD")], "HPL01", None, id="null account"
        ),
        pytest.param(
            [("eur", -5, "USD"), ("seller", 5, "USD")],
            "HPL03",
            None,
            id="wrong currency",
        ),
        pytest.param(
            [("seller", -5, "USD"), ("bank", 5, "USD")],
            "HPL04",
            "seller",
            id="overdraft",
        ),
        pytest.param(
            [("seller", -5, "USD"), ("seller", 3, "USD"), ("bank", 2, "USD")],
            "HPL04",
            "seller",
            id="overdraft over two legs",
        ),
    ],
)
def test_function_refusals_carry_their_sqlstate_and_change_nothing(
    tenant, accounts, legs, sqlstate, detail
):
    named = [
        (accounts[account] if isinstance(account, str) else account, amount, code)
        for account, amount, code in legs
    ]
    before = snapshot()

    assert refused(tenant, "t-1", named) == (sqlstate, detail)
    assert snapshot() == before


def test_function_refuses_arrays_of_different_lengths(tenant, accounts):
    cause = raw_refusal(
        CALL,
        [
            tenant.pk,
            "t-1",
            [accounts["bank"].pk, accounts["seller"].pk],
            [-5, 5, 0],
            ["USD", "USD"],
        ],
    )
    assert cause.sqlstate == "HPL08"


def test_function_checks_the_tenant_before_any_balance(tenant, accounts):
    """A foreign account is refused as foreign, never as overdrawn."""
    other = TenantFactory()
    theirs = ledger.open_account(other, "secret-wallet", "USD")

    assert refused(
        tenant, "t-1", [(theirs, -5, "USD"), (accounts["bank"], 5, "USD")]
    ) == ("HPL02", None)


def test_function_refuses_reusing_an_id_for_other_content(tenant, accounts):
    call(tenant, "t-1", [(accounts["bank"], -5, "USD"), (accounts["seller"], 5, "USD")])
    cause = raw_refusal(
        "SELECT * FROM hardened_payments_post_transfer(%s, 't-1', '', "
        "'other digest', NULL, now(), %s::bigint[], '{-5,5}', '{USD,USD}')",
        [tenant.pk, [accounts["bank"].pk, accounts["seller"].pk]],
    )
    assert cause.sqlstate == "HPL06"
    assert ledger.balance(accounts["seller"]) == usd(5)


def test_rows_the_function_wrote_stay_append_only(tenant, accounts):
    transfer_pk, _ = call(
        tenant, "t-1", [(accounts["bank"], -5, "USD"), (accounts["seller"], 5, "USD")]
    )
    cause = raw_refusal(
        "UPDATE hardened_payments_ledgerentry SET amount = 50 WHERE transfer_id = %s",
        [transfer_pk],
    )
    assert "append-only" in cause.diag.message_primary


@pytest.mark.parametrize(
    ("legs", "error", "message"),
    [
        ([("bank", -5), ("seller", 4)], UnbalancedTransfer, "USD"),
        ([("bank", -5)], InvalidTransfer, "two legs"),
    ],
)
def test_python_maps_refusals_it_did_not_check_first(
    tenant, accounts, legs, error, message
):
    """Shape checks run in Python first; the function's own are mapped too."""
    before = snapshot()
    with pytest.raises(error, match=message):
        internal._post_with_function(
            tenant,
            "t-1",
            [Leg(accounts[name], usd(amount)) for name, amount in legs],
            "",
            "digest",
            None,
        )
    assert snapshot() == before


def test_python_maps_an_overdraft_to_the_account_code(tenant, accounts):
    with pytest.raises(InsufficientFunds) as caught:
        ledger.post_transfer(
            tenant,
            "t-1",
            [Leg(accounts["fees"], usd(-1)), Leg(accounts["bank"], usd(1))],
        )
    assert caught.value.params == {"code": "fees"}


def test_python_maps_a_conflict_and_audits_it(tenant, accounts, audit_log):
    legs = [Leg(accounts["bank"], usd(-5)), Leg(accounts["seller"], usd(5))]
    ledger.post_transfer(tenant, "t-1", legs)
    with pytest.raises(TransferConflict):
        ledger.post_transfer(tenant, "t-1", legs, description="other")

    assert audit_log("ledger_transfer_conflict") == [
        {
            "event": "ledger_transfer_conflict",
            "actor": None,
            "tenant": tenant.pk,
            "target": "t-1",
            "outcome": "failure",
            "ip": None,
        }
    ]
    assert len(audit_log("ledger_transfer_posted")) == 1


def test_other_database_errors_are_not_mistaken_for_refusals(tenant, accounts):
    before = snapshot()
    with pytest.raises(DataError):
        ledger.post_transfer(
            tenant,
            "t-1",
            [Leg(accounts["bank"], usd(-5)), Leg(accounts["seller"], usd(5))],
            description="x" * 501,
        )
    assert snapshot() == before


def test_a_refusal_inside_a_transaction_leaves_it_usable(tenant, accounts):
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            ledger.post_transfer(
                tenant,
                "t-1",
                [Leg(accounts["seller"], usd(-1)), Leg(accounts["bank"], usd(1))],
            )
        ledger.post_transfer(
            tenant,
            "t-2",
            [Leg(accounts["bank"], usd(-1)), Leg(accounts["seller"], usd(1))],
        )
    assert ledger.balance(accounts["seller"]) == usd(1)


def test_replay_returns_the_stored_row(tenant, accounts):
    legs = [Leg(accounts["bank"], usd(-5)), Leg(accounts["seller"], usd(5))]
    first = ledger.post_transfer(tenant, "t-1", legs, description="d")
    again = ledger.post_transfer(tenant, "t-1", legs, description="d")
    stored = LedgerTransfer.objects.get()

    for transfer in (first, again):
        assert transfer.pk == stored.pk
        assert transfer.created_at == stored.created_at
        assert transfer.content_digest == stored.content_digest
        assert transfer.entries.count() == 2


def test_outside_a_transaction_a_transfer_is_one_statement(
    purge_ledger_after, monkeypatch
):
    """One statement posts or refuses; the audit store's rows are not counted."""
    monkeypatch.setattr(logging.getLogger("hardened_payments.audit"), "disabled", True)
    tenant = TenantFactory()
    bank = ledger.open_account(tenant, "bank", "USD", allow_negative=True)
    seller = ledger.open_account(tenant, "seller", "USD")

    with CaptureQueriesContext(connection) as queries:
        ledger.post_transfer(tenant, "t-1", [Leg(bank, usd(-5)), Leg(seller, usd(5))])

    assert [q["sql"].split("(")[0] for q in queries.captured_queries] == [
        "SELECT transfer_pk, transfer_created_at, posted"
        " FROM hardened_payments_post_transfer"
    ]
    assert ledger.balance(seller) == usd(5)
    with pytest.raises(InsufficientFunds), CaptureQueriesContext(connection) as failed:
        ledger.post_transfer(tenant, "t-2", [Leg(seller, usd(-6)), Leg(bank, usd(6))])
    assert len(failed.captured_queries) == 1
    assert ledger.balance(seller) == usd(5)


def test_the_migration_reverses_by_dropping_the_function(tenant):
    from importlib import import_module

    migration = import_module("hardened_payments.migrations.0008_ledger_post_function")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(migration.BACKWARD)
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = %s",
            ["hardened_payments_post_transfer"],
        )
        assert cursor.fetchone() == (0,)
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = %s",
            ["hardened_payments_post_transfer"],
        )
        assert cursor.fetchone() == (1,)


def bank_to_seller(accounts):
    return [Leg(accounts["bank"], usd(-5)), Leg(accounts["seller"], usd(5))]


def test_the_posting_statement_passes_through_the_execute_wrappers(tenant, accounts):
    seen = []

    def record(execute, sql, params, many, context):
        if "hardened_payments_post_transfer" in sql:
            seen.append((sql.split("(")[0], params[1]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        ledger.post_transfer(tenant, "t-1", bank_to_seller(accounts))

    assert seen == [
        (
            "SELECT transfer_pk, transfer_created_at, posted"
            " FROM hardened_payments_post_transfer",
            "t-1",
        )
    ]


def test_the_posting_statement_applies_the_current_tenant_setting(tenant, accounts):
    """The tenant wrapper of ``hardened_rbac`` runs for the posting statement."""
    from hardened_rbac.internal.context import tenant_context
    from hardened_rbac.internal.rls import TenantSettingWrapper

    wrapper = next(
        w for w in connection.execute_wrappers if isinstance(w, TenantSettingWrapper)
    )
    with transaction.atomic(), tenant_context(tenant):
        wrapper.applied = None
        ledger.post_transfer(tenant, "t-1", bank_to_seller(accounts))
        assert wrapper.applied == (str(tenant.pk), "")


def test_a_hostile_transfer_id_and_description_are_stored_as_given(tenant, accounts):
    hostile = "t'); DELETE FROM hardened_payments_ledgerentry; -- \\' $1 %s {}"
    transfer = ledger.post_transfer(
        tenant,
        hostile,
        bank_to_seller(accounts),
        description=hostile,
    )

    stored = LedgerTransfer.objects.get(pk=transfer.pk)
    assert (stored.transfer_id, stored.description) == (hostile, hostile)
    assert LedgerEntry.objects.count() == 2


def test_amounts_are_sent_as_integers_only():
    assert internal._integer_array([7, -(2**63), 2**63 - 1]) == (
        "{7,-9223372036854775808,9223372036854775807}"
    )
    with pytest.raises(ValueError, match="'d'"):
        internal._integer_array([1, 2.5])  # type: ignore[list-item]


def test_a_replay_reads_the_stored_time_in_the_current_time_zone_setting(
    tenant, accounts, settings
):
    ledger.post_transfer(tenant, "t-1", bank_to_seller(accounts))
    settings.USE_TZ = False

    again = ledger.post_transfer(tenant, "t-1", bank_to_seller(accounts))

    stored = LedgerTransfer.objects.get()
    assert again.created_at.tzinfo is None
    assert again.created_at == stored.created_at


def prepared_posting_statements():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%hardened_payments_post_transfer%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("threshold", "prepared"), [(None, 0), (0, 1)])
def test_the_connection_setting_decides_whether_the_statement_is_prepared(
    tenant, accounts, threshold, prepared
):
    connection.ensure_connection()
    connection.connection.prepare_threshold = threshold
    try:
        for n in range(2):
            ledger.post_transfer(tenant, f"t-{n}", bank_to_seller(accounts))
        assert prepared_posting_statements() == prepared
    finally:
        connection.connection.prepare_threshold = None
        connection.connection.execute("DEALLOCATE ALL")


@pytest.mark.parametrize(
    "values",
    [
        ["USD", "EUR"],
        ["NULL", ""],
        ['a"b', "c\\d", "e,f", "{g}", " h ", '\\"', "ä\u2028"],
    ],
)
def test_text_arrays_reach_the_database_exactly(db, values):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [internal._text_array(values)])
        assert cursor.fetchone() == (values,)


def forged_money(amount, currency):
    """A ``Money`` whose currency skipped validation, as a buggy caller might."""
    forged = Money.__new__(Money)
    object.__setattr__(forged, "amount", amount)
    object.__setattr__(forged, "currency", currency)
    return forged


def test_a_currency_built_to_break_the_array_stays_one_wrong_currency(tenant, accounts):
    currency = 'USD","USD'
    legs = [
        Leg(accounts["bank"], forged_money(-5, currency)),
        Leg(accounts["seller"], forged_money(5, currency)),
    ]
    before = snapshot()

    with pytest.raises(InvalidTransfer, match="currency differs"):
        internal._post_with_function(tenant, "t-1", legs, "", "digest", None)
    with pytest.raises(UnbalancedTransfer) as caught:
        internal._post_with_function(
            tenant, "t-2", [legs[0], Leg(accounts["seller"], usd(5))], "", "d", None
        )
    assert caught.value.params == {"currencies": f"USD, {currency}"}
    assert snapshot() == before


def test_a_posted_transfer_caches_its_tenant_and_reversed_transfer(
    tenant, accounts, django_assert_num_queries
):
    first = ledger.post_transfer(tenant, "t-1", bank_to_seller(accounts))
    reversal = ledger.reverse_transfer(first, "t-2")

    with django_assert_num_queries(0):
        assert reversal.tenant is tenant
        assert reversal.reverses is first
        assert first.reverses is None
    stored = LedgerTransfer.objects.get(pk=reversal.pk)
    assert (stored.tenant_id, stored.reverses_id) == (tenant.pk, first.pk)
    assert reversal.created_at == stored.created_at
    assert reversal._state.adding is False


def test_outside_a_transaction_a_current_tenant_still_posts_and_maps_refusals(
    purge_ledger_after,
):
    """The tenant wrapper opens its own transaction around the posting call."""
    from hardened_rbac.internal.context import tenant_context

    tenant = TenantFactory()
    bank = ledger.open_account(tenant, "bank", "USD", allow_negative=True)
    seller = ledger.open_account(tenant, "seller", "USD")

    with tenant_context(tenant):
        assert connection.get_autocommit()
        ledger.post_transfer(tenant, "t-1", [Leg(bank, usd(-5)), Leg(seller, usd(5))])
        with pytest.raises(InsufficientFunds):
            ledger.post_transfer(
                tenant, "t-2", [Leg(seller, usd(-6)), Leg(bank, usd(6))]
            )
        with pytest.raises(TransferConflict):
            ledger.post_transfer(
                tenant, "t-1", [Leg(bank, usd(-4)), Leg(seller, usd(4))]
            )

    assert ledger.balance(seller) == usd(5)
    assert LedgerTransfer.objects.filter(tenant=tenant).count() == 1
