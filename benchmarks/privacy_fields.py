"""Encrypted fields against plain ones, and the cipher against raw AES-GCM.

    .venv/bin/python benchmarks/privacy_fields.py

Builds a scratch test database (SQLite in memory, or PostgreSQL when
``DATABASE_URL`` names one) and measures in one run:

* saving and loading 10,000 rows of a model with four encrypted fields and
  a blind index, against the same four fields plain on the same database
  (target: within 1.5 times), on SQLite in memory always and on PostgreSQL
  as well when ``DATABASE_URL`` names it; once in bulk (``bulk_create``,
  then one query loading every row) and once a row at a time (``save()``,
  then ``get()`` by primary key, all in one transaction so no commit is
  timed); in bulk, also the same rows' ciphertexts, made beforehand, saved
  and loaded as plain text (no target: what the rows' size alone costs);
* sealing and opening 256-byte values with the envelope cipher (binary
  envelope), and the same through the base64 text envelope that model
  fields store, against AES-256-GCM called directly on the same data
  (target: at least 70% of its throughput), the three taking turns;
* rotating 100,000 rows to a new key, with the peak memory the rotation
  allocates, against rotating 10,000 rows (target: the peak does not grow
  with the row count, ratio under 1.5).

``HARDENED_BENCH_ROTATION_ROWS`` changes the 100,000. Log output is off.
"""

import base64
import datetime
import logging
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox_project"), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("HARDENED_TEST_DB_SUFFIX", "bench_privacy")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

SQLITE = "bench_sqlite"
if "sqlite" not in settings.DATABASES["default"]["ENGINE"]:
    settings.DATABASES[SQLITE] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }

django.setup()

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks.harness import Report, interleaved_medians  # noqa: E402
from hardened_privacy.internal.envelope import get_cipher  # noqa: E402
from hardened_privacy.internal.keyring import get_keyring  # noqa: E402
from hardened_privacy.internal.rotation import encrypted_fields, rotate  # noqa: E402
from tests.hardened_privacy.testapp.models import (  # noqa: E402
    Patient,
    PlainPatient,
    SlimPatient,
    StoredCiphertextPatient,
)

ROWS = 10_000
ROTATION_ROWS = int(os.environ.get("HARDENED_BENCH_ROTATION_ROWS", "100000"))
SMALL_ROTATION_ROWS = max(ROTATION_ROWS // 10, 1000)
PAYLOAD = os.urandom(256)
CONTEXT = b"bench_table.bench_column"

# A row's field values by row number, as the benchmark's models take them.
Rows = Callable[[int], dict[str, Any]]


def values(index: int) -> dict[str, object]:
    return {
        "name": f"patient {index}",
        "note": f"note {index} " + "x" * 60,
        "email": f"patient{index}@example.com",
        "born": datetime.date(1950, 1, 1) + datetime.timedelta(days=index % 20000),
        "visits": index,
    }


def save_and_load(model: Any, alias: str, row: Rows = values) -> float:
    manager = model._default_manager.db_manager(alias)
    manager.all()._raw_delete(alias)
    start = time.perf_counter()
    manager.bulk_create([model(**row(i)) for i in range(ROWS)], batch_size=1000)
    loaded = list(manager.all())
    elapsed = time.perf_counter() - start
    assert len(loaded) == ROWS
    assert loaded[-1].email == row(ROWS - 1)["email"]
    return elapsed


def save_and_load_each(model: Any, alias: str, row: Rows = values) -> float:
    manager = model._default_manager.db_manager(alias)
    manager.all()._raw_delete(alias)
    start = time.perf_counter()
    with transaction.atomic(using=alias):
        saved = []
        for i in range(ROWS):
            instance = model(**row(i))
            instance.save(using=alias)
            saved.append(instance.pk)
        loaded = [manager.get(pk=pk) for pk in saved]
    elapsed = time.perf_counter() - start
    assert loaded[-1].email == row(ROWS - 1)["email"]
    return elapsed


def stored_rows() -> Rows:
    """Each row's values as SlimPatient stores them, made before any timing."""
    encrypted = ["note", "email", "born", "visits"]
    fields: dict[str, Any] = {
        name: SlimPatient._meta.get_field(name) for name in encrypted
    }
    index: Any = SlimPatient._meta.get_field("email_index")
    rows = []
    for i in range(ROWS):
        plain = values(i)
        stored = {name: fields[name].encrypt_value(plain[name]) for name in fields}
        stored["email_index"] = index.digest_for(plain["email"])
        rows.append({"name": plain["name"], **stored})
    return rows.__getitem__


def cipher_round_trip() -> None:
    cipher = get_cipher()
    assert cipher.open(cipher.seal(PAYLOAD, CONTEXT), CONTEXT) == PAYLOAD


def text_round_trip() -> None:
    cipher = get_cipher()
    assert cipher.decrypt(cipher.encrypt(PAYLOAD, CONTEXT), CONTEXT) == PAYLOAD


def raw_round_trip(aead: AESGCM) -> None:
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, PAYLOAD, CONTEXT)
    assert aead.decrypt(nonce, sealed, CONTEXT) == PAYLOAD


def rotation_peak(rows: int) -> tuple[float, float]:
    """Rotate ``rows`` rows to a new key; return (seconds, peak bytes)."""
    Patient.objects.all()._raw_delete("default")
    os.environ["BENCH_KEY_A"] = base64.b64encode(os.urandom(32)).decode()
    os.environ["BENCH_KEY_B"] = base64.b64encode(os.urandom(32)).decode()
    keys = {
        "development/bench-a": {"PROVIDER": "env", "REFERENCE": "BENCH_KEY_A"},
        "development/bench-b": {"PROVIDER": "env", "REFERENCE": "BENCH_KEY_B"},
    }
    with override_settings(
        HARDENED_PRIVACY_KEYS=keys, HARDENED_PRIVACY_ACTIVE_KEY="development/bench-a"
    ):
        for start in range(0, rows, 5000):
            Patient.objects.bulk_create(
                [
                    Patient(name=str(i), note=f"note {i}")
                    for i in range(start, min(start + 5000, rows))
                ]
            )
    with override_settings(
        HARDENED_PRIVACY_KEYS=keys, HARDENED_PRIVACY_ACTIVE_KEY="development/bench-b"
    ):
        active = get_keyring().require_active_key()
        tracemalloc.start()
        tracemalloc.reset_peak()
        began = time.perf_counter()
        progress = rotate(Patient, encrypted_fields(Patient), active, batch_size=500)
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert progress.done == rows, progress
    return elapsed, float(peak)


def compare_save_and_load(
    report: Report, alias: str, database: str, stored: Rows
) -> None:
    """Best of three interleaved rounds of each model on ``alias``, both ways.

    In bulk, a third model takes its turn: SlimPatient's ciphertexts, made
    beforehand, saved and loaded as plain text. Its time against plain fields
    is what the rows' size costs without any encryption or decryption.
    """
    ways = [(" in bulk", save_and_load), (" one at a time", save_and_load_each)]
    for way, measure in ways:
        measure(SlimPatient, alias)
        plain, encrypted, unencrypted = [], [], []
        for _ in range(3):
            plain.append(measure(PlainPatient, alias))
            encrypted.append(measure(SlimPatient, alias))
            if measure is save_and_load:
                unencrypted.append(measure(StoredCiphertextPatient, alias, stored))
        report.add(
            f"save+load {ROWS} rows{way}, encrypted fields, {database}",
            min(encrypted),
            "s",
            baseline="same rows, plain fields",
            baseline_value=min(plain),
            target="<= 1.5",
            met=min(encrypted) / min(plain) <= 1.5,
        )
        if unencrypted:
            report.add(
                f"save+load {ROWS} rows{way}, their ciphertexts as plain text, "
                f"{database}",
                min(unencrypted),
                "s",
                baseline="same rows, plain fields",
                baseline_value=min(plain),
            )


def main() -> None:
    logging.disable(logging.CRITICAL)
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    report = Report("privacy_fields")
    stored = stored_rows()

    if SQLITE in settings.DATABASES:
        connections[SQLITE].creation.create_test_db(verbosity=0, serialize=False)
        compare_save_and_load(report, SQLITE, "SQLite in memory", stored)
        compare_save_and_load(report, "default", connection.display_name, stored)
    else:
        compare_save_and_load(report, "default", "SQLite in memory", stored)

    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    raw, ours, text = interleaved_medians(
        [lambda: raw_round_trip(aead), cipher_round_trip, text_round_trip],
        number=20000,
    )
    report.add(
        "envelope seal+open, 256 B (throughput)",
        1 / ours,
        "ops/s",
        baseline="raw AES-256-GCM",
        baseline_value=1 / raw,
        target=">= 0.70",
        met=raw / ours >= 0.70,
    )
    report.add(
        "text envelope (as stored), 256 B (throughput)",
        1 / text,
        "ops/s",
        baseline="raw AES-256-GCM",
        baseline_value=1 / raw,
        target=">= 0.70",
        met=raw / text >= 0.70,
    )

    small_time, small_peak = rotation_peak(SMALL_ROTATION_ROWS)
    big_time, big_peak = rotation_peak(ROTATION_ROWS)
    report.add(
        f"rotation of {ROTATION_ROWS} rows, peak memory",
        big_peak / 1e6,
        "MB",
        baseline=f"rotation of {SMALL_ROTATION_ROWS} rows",
        baseline_value=small_peak / 1e6,
        target="< 1.5",
        met=big_peak / small_peak < 1.5,
    )
    report.add(
        f"rotation of {ROTATION_ROWS} rows, time",
        big_time,
        "s",
        baseline=f"rotation of {SMALL_ROTATION_ROWS} rows",
        baseline_value=small_time,
    )
    report.emit()


if __name__ == "__main__":
    main()
