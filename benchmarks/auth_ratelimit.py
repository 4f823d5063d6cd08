"""A rate-limited login rejection against a full password check.

    .venv/bin/python benchmarks/auth_ratelimit.py

Builds a scratch test database (SQLite in memory, or PostgreSQL when
``DATABASE_URL`` is set) with one user, then measures in the same run:

* one argon2id password check at the configured cost (the baseline);
* a login POST refused with 429 by ``RateLimitMiddleware``, through the
  whole sandbox middleware stack (target: under 2% of the baseline);
* the limiter's decision alone (``limiter.check``), without the HTTP stack.

The password check and the HTTP rejection are timed in alternating rounds,
and each figure is the median of its rounds, so load from other work on the
machine weighs on both alike. Log output is switched off, so console writes
do not count.
"""

import logging
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox_project"), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("HARDENED_TEST_DB_SUFFIX", "bench_auth")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks.harness import Report, median_seconds  # noqa: E402
from hardened_auth.internal import limiter  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, UserFactory  # noqa: E402

LIMITS = {"login": {"ip": "1/h", "identifier": "1/h"}}
DATA = {"username": "bench", "password": "not the password"}
ROUNDS = 9


def main() -> None:
    logging.disable(logging.CRITICAL)
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    user = UserFactory(username="bench")
    assert user.check_password(DEFAULT_PASSWORD)

    checks: list[float] = []
    rejections: list[float] = []
    with override_settings(HARDENED_AUTH_RATE_LIMITS=LIMITS):
        client = Client(REMOTE_ADDR="192.0.2.99")
        client.post("/admin/login/", DATA)
        assert client.post("/admin/login/", DATA).status_code == 429
        for _ in range(ROUNDS):
            checks.append(
                median_seconds(
                    lambda: user.check_password(DATA["password"]), number=2, repeat=3
                )
            )
            rejections.append(
                median_seconds(
                    lambda: client.post("/admin/login/", DATA), number=25, repeat=3
                )
            )
        check, rejection = statistics.median(checks), statistics.median(rejections)
        request = RequestFactory().post("/admin/login/", DATA, REMOTE_ADDR="192.0.2.99")
        decision = median_seconds(lambda: limiter.check(request, "login"), number=500)

    report = Report("auth_ratelimit")
    report.add(
        "rate-limited login rejection (HTTP)",
        rejection * 1000,
        "ms",
        baseline="argon2id password check",
        baseline_value=check * 1000,
        target="< 0.02",
        met=rejection / check < 0.02,
    )
    report.add(
        "limiter decision alone",
        decision * 1000,
        "ms",
        baseline="argon2id password check",
        baseline_value=check * 1000,
        target="< 0.02",
        met=decision / check < 0.02,
    )
    report.emit()


if __name__ == "__main__":
    main()
