"""Ledger transfers per second against pgbench's TPC-B-like transactions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
        .venv/bin/python benchmarks/payments_ledger.py

Creates two scratch databases next to the one ``DATABASE_URL`` names
(``<name>_bench_pgbench`` and ``<name>_bench_ledger``) and runs three rounds,
each of three runs of ``HARDENED_BENCH_SECONDS`` (10 by default): pgbench's
built-in script with 8 clients, then 8 worker processes posting ledger
transfers between 64 accounts, then 8 posting all on 2 hot accounts. Taking
turns spreads load that comes and goes on a shared machine over both sides.
Each figure is the median of its three runs, and the ratios are against the
median pgbench figure of this run; every round's figures are printed first.
"""

import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox_project"), str(ROOT / "src")]

from benchmarks.harness import Report  # noqa: E402

WORKERS = 8
SECONDS = int(os.environ.get("HARDENED_BENCH_SECONDS", "10"))
ACCOUNTS = 64
ROUNDS = 3


def _url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + name))


def _recreate(name: str) -> None:
    import psycopg

    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _pgbench_connection(name: str) -> list[str]:
    parts = urlsplit(_url(name))
    return [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]


def pgbench_init(name: str) -> None:
    subprocess.run(
        ["pgbench", *_pgbench_connection(name), "-i", "-q", "-s", str(WORKERS), name],
        check=True,
        capture_output=True,
    )


def pgbench_tps(name: str) -> float:
    result = subprocess.run(
        [
            "pgbench",
            *_pgbench_connection(name),
            "-n",
            "-c",
            str(WORKERS),
            "-j",
            str(WORKERS),
            "-T",
            str(SECONDS),
            name,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if match is None:
        raise RuntimeError("pgbench printed no tps line:\n" + result.stdout)
    return float(match.group(1))


def _setup_django(name: str) -> None:
    os.environ["DATABASE_URL"] = _url(name)
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings.base")
    import django

    django.setup()


def _prepare() -> tuple[int, list[int]]:
    import logging

    from django.core.management import call_command

    from hardened_payments import ledger
    from hardened_payments.money import Money
    from hardened_rbac.models import Tenant

    # The figure is the ledger's own cost; the audit store (another app's
    # handler, one row per event) is measured by that app's benchmark.
    logging.getLogger("hardened_payments").setLevel(logging.WARNING)
    logging.getLogger("hardened_payments.audit").disabled = True
    call_command("migrate", verbosity=0, skip_checks=True)
    tenant = Tenant.objects.create(slug="bench", name="Bench")
    bank = ledger.open_account(tenant, "bank", "USD", allow_negative=True)
    accounts = [ledger.open_account(tenant, f"a{n}", "USD") for n in range(ACCOUNTS)]
    for account in accounts:
        ledger.post_transfer(
            tenant,
            f"fund-{account.pk}",
            [
                ledger.Leg(bank, Money(-(10**12), "USD")),
                ledger.Leg(account, Money(10**12, "USD")),
            ],
        )
    return tenant.pk, [a.pk for a in accounts]


def _worker(args: tuple[int, int, list[int], float]) -> int:
    seed, tenant_pk, account_pks, deadline = args
    from django.db import connections

    from hardened_payments import ledger
    from hardened_payments.models import LedgerAccount
    from hardened_payments.money import Money
    from hardened_rbac.models import Tenant

    connections.close_all()
    tenant = Tenant.objects.get(pk=tenant_pk)
    accounts = list(LedgerAccount.objects.filter(pk__in=account_pks))
    rng = random.Random(seed)
    done = 0
    while time.monotonic() < deadline:
        source, target = rng.sample(accounts, 2)
        ledger.post_transfer(
            tenant,
            f"w{seed}-{done}-{len(account_pks)}",
            [ledger.Leg(source, Money(-1, "USD")), ledger.Leg(target, Money(1, "USD"))],
        )
        done += 1
    connections.close_all()
    return done


def ledger_tps(tenant_pk: int, account_pks: list[int]) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = time.monotonic()
    deadline = start + SECONDS
    jobs = [(seed, tenant_pk, account_pks, deadline) for seed in range(WORKERS)]
    with context.Pool(WORKERS) as pool:
        counts = pool.map(_worker, jobs)
    return sum(counts) / (time.monotonic() - start)


def main() -> int:
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        print("Set DATABASE_URL to a PostgreSQL database.")
        return 2
    if shutil.which("pgbench") is None:
        print("pgbench is missing: apt-get install postgresql-contrib.")
        return 2
    base = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "postgres"
    pgbench_db, ledger_db = f"{base}_bench_pgbench", f"{base}_bench_ledger"
    _recreate(pgbench_db)
    _recreate(ledger_db)

    pgbench_init(pgbench_db)
    _setup_django(ledger_db)
    tenant_pk, account_pks = _prepare()
    baselines, spreads, hots = [], [], []
    for number in range(1, ROUNDS + 1):
        baselines.append(pgbench_tps(pgbench_db))
        spreads.append(ledger_tps(tenant_pk, account_pks))
        hots.append(ledger_tps(tenant_pk, account_pks[:2]))
        print(
            f"round {number}: pgbench {baselines[-1]:.0f} tx/s, ledger {ACCOUNTS} "
            f"accounts {spreads[-1]:.0f} tx/s, 2 hot accounts {hots[-1]:.0f} tx/s"
        )
    baseline = statistics.median(baselines)
    spread = statistics.median(spreads)
    hot = statistics.median(hots)

    report = Report("payments_ledger")
    report.add(
        f"transfers/s, {WORKERS} workers, {ACCOUNTS} accounts",
        spread,
        "tx/s",
        baseline=f"pgbench TPC-B-like, {WORKERS} clients",
        baseline_value=baseline,
        target=">= 0.5",
        met=spread >= baseline / 2,
    )
    report.add(
        f"transfers/s, {WORKERS} workers, 2 hot accounts",
        hot,
        "tx/s",
        baseline=f"pgbench TPC-B-like, {WORKERS} clients",
        baseline_value=baseline,
    )
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
