import pytest
from django.db import Error, IntegrityError, connection, transaction
from django.db.models import F

from hardened_payments import ledger
from hardened_payments.exceptions import (
    InsufficientFunds,
    InvalidTransfer,
    LedgerHistoryImmutable,
    TransferConflict,
    UnbalancedTransfer,
)
from hardened_payments.ledger import Leg
from hardened_payments.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hardened_payments.money import Money
from tests.factories import TenantFactory


def usd(amount):
    return Money(amount, "USD")


@pytest.fixture
def accounts(tenant):
    return {
        "clearing": ledger.open_account(tenant, "clearing", "USD", allow_negative=True),
        "seller": ledger.open_account(tenant, "seller", "USD"),
        "fees": ledger.open_account(tenant, "fees", "USD"),
        "eur": ledger.open_account(tenant, "clearing-eur", "EUR", allow_negative=True),
        "eur_seller": ledger.open_account(tenant, "seller-eur", "EUR"),
    }


def snapshot():
    return (
        sorted(LedgerAccount.objects.values_list("code", "balance")),
        LedgerTransfer.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_posting_moves_balances_and_keeps_entries(tenant, accounts):
    transfer = ledger.post_transfer(
        tenant,
        "charge-1",
        [
            Leg(accounts["clearing"], usd(-1000)),
            Leg(accounts["seller"], usd(970)),
            Leg(accounts["fees"], usd(30)),
        ],
        description="Charge",
    )

    assert transfer.entries.count() == 3
    assert ledger.balance(accounts["clearing"]) == usd(-1000)
    assert ledger.balance(accounts["seller"]) == usd(970)
    assert ledger.balance(accounts["fees"]) == usd(30)
    for account in accounts.values():
        assert ledger.entries_total(account) == ledger.balance(account)


def test_multi_currency_transfer_balancing_in_each_currency(tenant, accounts):
    ledger.post_transfer(
        tenant,
        "fx",
        [
            Leg(accounts["clearing"], usd(-100)),
            Leg(accounts["seller"], usd(100)),
            Leg(accounts["eur"], Money(-90, "EUR")),
            Leg(accounts["eur_seller"], Money(90, "EUR")),
        ],
    )
    assert ledger.balance(accounts["eur_seller"]) == Money(90, "EUR")


@pytest.mark.parametrize(
    "legs",
    [
        [("clearing", usd(-100)), ("seller", usd(99))],
        [("clearing", usd(-100)), ("eur_seller", Money(100, "EUR"))],
        [("clearing", usd(-100)), ("seller", usd(100)), ("eur", Money(5, "EUR"))],
    ],
)
def test_unbalanced_and_mixed_currency_transfers_are_refused(tenant, accounts, legs):
    before = snapshot()
    with pytest.raises(UnbalancedTransfer):
        ledger.post_transfer(tenant, "bad", [Leg(accounts[n], m) for n, m in legs])
    assert snapshot() == before


def test_leg_in_a_currency_its_account_does_not_hold_is_refused(tenant, accounts):
    before = snapshot()
    with pytest.raises(InvalidTransfer, match="currency"):
        ledger.post_transfer(
            tenant,
            "wrong-currency",
            [
                Leg(accounts["eur"], usd(-100)),
                Leg(accounts["seller"], usd(100)),
            ],
        )
    assert snapshot() == before


def test_another_tenants_account_is_refused(tenant, accounts):
    other = TenantFactory()
    theirs = ledger.open_account(other, "seller", "USD")
    before = snapshot()
    with pytest.raises(InvalidTransfer, match="tenant"):
        ledger.post_transfer(
            tenant,
            "steal",
            [Leg(accounts["clearing"], usd(-100)), Leg(theirs, usd(100))],
        )
    with pytest.raises(InvalidTransfer, match="tenant"):
        ledger.post_transfer(
            other,
            "steal",
            [Leg(accounts["clearing"], usd(-100)), Leg(theirs, usd(100))],
        )
    assert snapshot() == before


def test_overdraft_is_refused_and_nothing_changes(tenant, accounts):
    ledger.post_transfer(
        tenant,
        "fund",
        [Leg(accounts["clearing"], usd(-50)), Leg(accounts["seller"], usd(50))],
    )
    before = snapshot()

    with pytest.raises(InsufficientFunds):
        ledger.post_transfer(
            tenant,
            "overdraw",
            [Leg(accounts["seller"], usd(-51)), Leg(accounts["fees"], usd(51))],
        )

    assert snapshot() == before
    ledger.post_transfer(
        tenant,
        "drain",
        [Leg(accounts["seller"], usd(-50)), Leg(accounts["fees"], usd(50))],
    )
    assert ledger.balance(accounts["seller"]) == usd(0)


@pytest.mark.parametrize(
    ("transfer_id", "legs"),
    [
        ("", [("clearing", 1), ("seller", -1)]),
        ("   ", [("clearing", 1), ("seller", -1)]),
        ("x" * 201, [("clearing", 1), ("seller", -1)]),
        ("one-leg", [("clearing", 0)]),
        ("zero", [("clearing", 0), ("seller", 0)]),
    ],
)
def test_malformed_transfers_are_refused(tenant, accounts, transfer_id, legs):
    before = snapshot()
    with pytest.raises(InvalidTransfer):
        ledger.post_transfer(
            tenant, transfer_id, [Leg(accounts[n], usd(a)) for n, a in legs]
        )
    assert snapshot() == before


def test_unsaved_or_missing_account_is_refused(tenant, accounts):
    ghost = LedgerAccount(tenant=tenant, code="ghost", currency="USD")
    with pytest.raises(InvalidTransfer):
        ledger.post_transfer(
            tenant, "ghost", [Leg(accounts["clearing"], usd(-1)), Leg(ghost, usd(1))]
        )
    ghost.pk = 10**9
    with pytest.raises(InvalidTransfer, match="exist"):
        ledger.post_transfer(
            tenant, "ghost", [Leg(accounts["clearing"], usd(-1)), Leg(ghost, usd(1))]
        )


def test_same_transfer_id_and_content_returns_the_first_result(tenant, accounts):
    legs = [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))]
    first = ledger.post_transfer(tenant, "t-1", legs, description="d")
    again = ledger.post_transfer(tenant, "t-1", list(reversed(legs)), description="d")

    assert again.pk == first.pk
    assert LedgerTransfer.objects.count() == 1
    assert ledger.balance(accounts["seller"]) == usd(10)


@pytest.mark.parametrize(
    ("legs", "description"),
    [
        ([("clearing", -11), ("seller", 11)], "d"),
        ([("clearing", -10), ("fees", 10)], "d"),
        ([("clearing", -10), ("seller", 10)], "other"),
    ],
)
def test_same_transfer_id_with_other_content_is_refused(
    tenant, accounts, legs, description
):
    ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
        description="d",
    )
    before = snapshot()
    with pytest.raises(TransferConflict):
        ledger.post_transfer(
            tenant,
            "t-1",
            [Leg(accounts[n], usd(a)) for n, a in legs],
            description=description,
        )
    assert snapshot() == before


def test_transfer_ids_are_scoped_to_the_tenant(tenant, accounts):
    other = TenantFactory()
    a = ledger.open_account(other, "a", "USD", allow_negative=True)
    b = ledger.open_account(other, "b", "USD")
    ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
    )
    ledger.post_transfer(other, "t-1", [Leg(a, usd(-10)), Leg(b, usd(10))])
    assert LedgerTransfer.objects.count() == 2


def test_reversal_restores_balances(tenant, accounts):
    original = ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
    )
    reversal = ledger.reverse_transfer(original, "t-1-reversal")

    assert reversal.reverses == original
    assert ledger.balance(accounts["seller"]) == usd(0)
    assert ledger.balance(accounts["clearing"]) == usd(0)
    assert ledger.reverse_transfer(original, "t-1-reversal").pk == reversal.pk


def test_reversal_that_would_overdraw_is_refused(tenant, accounts):
    original = ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
    )
    ledger.post_transfer(
        tenant,
        "t-2",
        [Leg(accounts["seller"], usd(-10)), Leg(accounts["fees"], usd(10))],
    )
    with pytest.raises(InsufficientFunds):
        ledger.reverse_transfer(original, "t-1-reversal")


def test_open_account_refuses_unknown_currency(tenant):
    from hardened_payments.exceptions import UnknownCurrency

    with pytest.raises(UnknownCurrency):
        ledger.open_account(tenant, "x", "XXX")


def test_posting_emits_an_audit_event(tenant, accounts, caplog):
    caplog.set_level("INFO", logger="hardened_payments.audit")
    ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
    )
    record = caplog.records[-1]
    assert record.getMessage() == "ledger_transfer_posted"
    assert record.hardened_audit["tenant"] == tenant.pk
    assert record.hardened_audit["target"] == "t-1"
    assert record.hardened_audit["outcome"] == "success"
    assert record.hardened_audit["legs"] == [
        [accounts["clearing"].pk, -10, "USD"],
        [accounts["seller"].pk, 10, "USD"],
    ]


# The code's own rules, on every database (SQLite has no triggers).


def _entry_doubled():
    entry = LedgerEntry.objects.earliest("pk")
    entry.amount *= 2
    entry.save()


def _transfer_renamed():
    transfer = LedgerTransfer.objects.get()
    transfer.description = "x"
    transfer.save()


def _account_changed(**changes):
    def change():
        account = LedgerAccount.objects.get(code="seller")
        for name, value in changes.items():
            setattr(account, name, value)
        account.save()

    return change


def _entries_bulk_updated():
    entries = list(LedgerEntry.objects.all())
    for entry in entries:
        entry.amount = -entry.amount
    LedgerEntry.objects.bulk_update(entries, ["amount"])


HISTORY_REWRITES = {
    "update entries": lambda: LedgerEntry.objects.update(amount=F("amount") * 2),
    "delete entries": lambda: LedgerEntry.objects.all().delete(),
    "save an entry": _entry_doubled,
    "delete an entry": lambda: LedgerEntry.objects.earliest("pk").delete(),
    "bulk update entries": _entries_bulk_updated,
    "update transfers": lambda: LedgerTransfer.objects.update(description="x"),
    "delete transfers": lambda: LedgerTransfer.objects.all().delete(),
    "save a transfer": _transfer_renamed,
    "delete a transfer": lambda: LedgerTransfer.objects.get().delete(),
    "update balances": lambda: LedgerAccount.objects.update(balance=F("balance") + 1),
    "update currencies": lambda: LedgerAccount.objects.update(currency="EUR"),
    "update tenants": lambda: LedgerAccount.objects.update(tenant=TenantFactory()),
    "delete accounts": lambda: LedgerAccount.objects.all().delete(),
    "delete an account": lambda: LedgerAccount.objects.get(code="fees").delete(),
    "save a balance": _account_changed(balance=1000),
    "save a currency": _account_changed(currency="EUR"),
    "save a tenant": _account_changed(tenant_id=None),
    "save only the balance": lambda: LedgerAccount.objects.get(code="seller").save(
        update_fields=["balance"]
    ),
}


@pytest.mark.parametrize(
    "rewrite",
    [pytest.param(f, id=name) for name, f in HISTORY_REWRITES.items()],
)
def test_code_refuses_rewriting_history(tenant, accounts, rewrite):
    _posted(tenant, accounts)
    before = snapshot()
    entries = list(LedgerEntry.objects.values())

    with (
        pytest.raises(LedgerHistoryImmutable, match="append-only"),
        transaction.atomic(),
    ):
        rewrite()

    assert snapshot() == before
    assert list(LedgerEntry.objects.values()) == entries


def test_an_account_may_be_renamed_without_touching_its_balance(tenant, accounts):
    account = LedgerAccount.objects.get(code="seller")
    _posted(tenant, accounts)
    stale = LedgerAccount.objects.get(code="fees")
    stale.name = "Platform fees"
    stale.save()
    account.refresh_from_db()
    account.name = "Seller"
    account.save()

    assert LedgerAccount.objects.get(code="fees").name == "Platform fees"
    assert ledger.balance(account) == usd(10)
    assert LedgerAccount.objects.filter(code="seller").update(name="S") == 1


def test_a_stale_account_cannot_write_its_old_balance(tenant, accounts):
    stale = LedgerAccount.objects.get(code="seller")
    _posted(tenant, accounts)
    stale.name = "Seller"
    with pytest.raises(LedgerHistoryImmutable):
        stale.save()
    assert ledger.balance(accounts["seller"]) == usd(10)


# The database's own rules, exercised by going around the Python code.


def _posted(tenant, accounts):
    return ledger.post_transfer(
        tenant,
        "t-1",
        [Leg(accounts["clearing"], usd(-10)), Leg(accounts["seller"], usd(10))],
    )


def _execute_now(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _refused(sql, params=(), match="hardened_payments"):
    with pytest.raises(Error, match=match):
        _execute_now(sql, params)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE hardened_payments_ledgerentry SET amount = amount * 2",
        "DELETE FROM hardened_payments_ledgerentry",
        "TRUNCATE hardened_payments_ledgerentry CASCADE",
        "UPDATE hardened_payments_ledgertransfer SET description = 'x'",
        "DELETE FROM hardened_payments_ledgertransfer",
        "TRUNCATE hardened_payments_ledgertransfer CASCADE",
        "UPDATE hardened_payments_ledgeraccount SET balance = balance + 1",
        "UPDATE hardened_payments_ledgeraccount SET currency = 'EUR'",
    ],
)
def test_database_refuses_rewriting_history(tenant, accounts, sql):
    _posted(tenant, accounts)
    before = snapshot()
    _refused(sql)
    assert snapshot() == before


@pytest.mark.postgres
def test_database_refuses_an_unbalanced_transfer(tenant, accounts):
    transfer = _posted(tenant, accounts)
    _refused(
        "INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id, amount,"
        " currency) VALUES (%s, %s, 5, 'USD')",
        [transfer.pk, accounts["seller"].pk],
        match="does not balance",
    )


@pytest.mark.postgres
def test_database_refuses_a_transfer_without_legs(tenant):
    _refused(
        "INSERT INTO hardened_payments_ledgertransfer (tenant_id, transfer_id,"
        " description, content_digest, created_at) VALUES (%s, 'x', '', '', now())",
        [tenant.pk],
        match="fewer than two legs",
    )


@pytest.mark.postgres
def test_database_refuses_an_entry_in_the_wrong_currency(tenant, accounts):
    transfer = _posted(tenant, accounts)
    _refused(
        "INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id, amount,"
        " currency) VALUES (%s, %s, 5, 'USD'), (%s, %s, -5, 'USD')",
        [transfer.pk, accounts["eur"].pk, transfer.pk, accounts["clearing"].pk],
        match="does not match",
    )


@pytest.mark.postgres
def test_database_refuses_an_overdraft(tenant, accounts):
    transfer = _posted(tenant, accounts)
    with pytest.raises(IntegrityError, match="not_overdrawn"):
        _execute_now(
            "INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id,"
            " amount, currency) VALUES (%s, %s, -11, 'USD'), (%s, %s, 11, 'USD')",
            [transfer.pk, accounts["seller"].pk, transfer.pk, accounts["fees"].pk],
        )
    assert ledger.balance(accounts["seller"]) == usd(10)


@pytest.mark.postgres
def test_database_refuses_an_account_born_with_money(tenant):
    with pytest.raises(IntegrityError, match="starts at zero"):
        _execute_now(
            "INSERT INTO hardened_payments_ledgeraccount (tenant_id, code, name,"
            " currency, allow_negative, balance, created_at)"
            " VALUES (%s, 'rich', '', 'USD', false, 100, now())",
            [tenant.pk],
        )


ENTRY_PAIR_SQL = (
    "INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id, amount,"
    " currency) VALUES (%s, %s, %s, %s), (%s, %s, %s, %s)"
)


@pytest.mark.postgres
def test_database_refuses_an_entry_on_another_tenants_account(tenant, accounts):
    transfer = _posted(tenant, accounts)
    other = TenantFactory()
    bank = ledger.open_account(other, "bank", "USD", allow_negative=True)
    seller = ledger.open_account(other, "seller", "USD")
    before = snapshot()
    _refused(
        ENTRY_PAIR_SQL,
        [transfer.pk, bank.pk, -5, "USD", transfer.pk, seller.pk, 5, "USD"],
        match="does not match",
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_database_refuses_an_entry_for_a_missing_transfer(tenant, accounts):
    _posted(tenant, accounts)
    missing = LedgerTransfer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    before = snapshot()
    _refused(
        ENTRY_PAIR_SQL,
        [
            *(missing + 1, accounts["clearing"].pk, -5, "USD"),
            *(missing + 1, accounts["seller"].pk, 5, "USD"),
        ],
        match="does not match",
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_database_applies_a_balanced_pair_added_to_an_existing_transfer(
    tenant, accounts
):
    transfer = _posted(tenant, accounts)
    _execute_now(
        ENTRY_PAIR_SQL,
        [
            *(transfer.pk, accounts["seller"].pk, -4, "USD"),
            *(transfer.pk, accounts["fees"].pk, 4, "USD"),
        ],
    )
    assert ledger.balance(accounts["seller"]) == usd(6)
    assert ledger.balance(accounts["fees"]) == usd(4)
    assert ledger.entries_total(accounts["fees"]) == usd(4)


@pytest.mark.postgres
def test_database_refuses_a_pair_that_balances_only_across_currencies(tenant, accounts):
    transfer = _posted(tenant, accounts)
    before = snapshot()
    _refused(
        ENTRY_PAIR_SQL,
        [
            *(transfer.pk, accounts["clearing"].pk, 5, "USD"),
            *(transfer.pk, accounts["eur"].pk, -5, "EUR"),
        ],
        match="does not balance in EUR",
    )
    assert snapshot() == before


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["DEFERRED", "IMMEDIATE"])
def test_database_checks_an_entry_added_after_its_transfer_was_checked(
    tenant, accounts, mode
):
    transfer = _posted(tenant, accounts)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS ALL {mode}")
    before = snapshot()
    _refused(
        "INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id, amount,"
        " currency) VALUES (%s, %s, 5, 'USD')",
        [transfer.pk, accounts["seller"].pk],
        match="does not balance",
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_database_refuses_a_transfer_written_with_one_leg(tenant, accounts):
    before = snapshot()
    _refused(
        "WITH transfer AS (INSERT INTO hardened_payments_ledgertransfer (tenant_id,"
        " transfer_id, description, content_digest, created_at)"
        " VALUES (%s, 'one-leg', '', '', now()) RETURNING id)"
        " INSERT INTO hardened_payments_ledgerentry (transfer_id, account_id,"
        " amount, currency) SELECT id, %s, 5, 'USD' FROM transfer",
        [tenant.pk, accounts["seller"].pk],
        match="fewer than two legs",
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_database_accepts_a_transfer_balanced_in_each_currency(tenant, accounts):
    ledger.post_transfer(
        tenant,
        "fx-1",
        [
            Leg(accounts["clearing"], usd(-10)),
            Leg(accounts["seller"], usd(10)),
            Leg(accounts["eur"], Money(-7, "EUR")),
            Leg(accounts["eur_seller"], Money(7, "EUR")),
        ],
    )
    _execute_now("SELECT 1")
    assert ledger.balance(accounts["eur_seller"]) == Money(7, "EUR")


@pytest.mark.postgres
def test_database_names_the_one_currency_a_transfer_does_not_balance_in(
    tenant, accounts
):
    transfer = _posted(tenant, accounts)
    before = snapshot()
    _refused(
        ENTRY_PAIR_SQL,
        [
            *(transfer.pk, accounts["eur"].pk, -5, "EUR"),
            *(transfer.pk, accounts["eur_seller"].pk, 3, "EUR"),
        ],
        match=r"transfer \d+ does not balance in EUR",
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_the_trigger_migration_reverses_to_the_first_definitions(tenant, accounts):
    from importlib import import_module

    rules = import_module("hardened_payments.migrations.0002_ledger_database_rules")
    plans = import_module("hardened_payments.migrations.0009_ledger_trigger_plans")
    restored = plans.BACKWARD.strip().split("\n\n")
    assert len(restored) == 2
    for definition in restored:
        assert definition.replace("CREATE OR REPLACE", "CREATE", 1) in rules.FORWARD
    source = (
        "SELECT string_agg(prosrc, '' ORDER BY proname) FROM pg_proc"
        " WHERE proname IN ('hardened_payments_apply_entry',"
        " 'hardened_payments_check_balanced')"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(plans.BACKWARD)
        cursor.execute(source)
        old = cursor.fetchone()[0]
        assert "(SELECT tenant_id FROM" in old
        assert "GROUP BY currency) AS g" in old
        _posted(tenant, accounts)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert ledger.balance(accounts["seller"]) == usd(10)
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute(source)
        new = cursor.fetchone()[0]
    assert "FROM hardened_payments_ledgertransfer AS t" in new
    assert "min(currency), max(currency), sum(amount)" in new
