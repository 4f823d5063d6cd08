"""An authenticated request through hardened_auth's middleware against the
same request through Django's default middleware alone.

    .venv/bin/python benchmarks/auth_middleware.py

Signs a user in through the allauth form, then measures, in the same run,
a GET of a small signed-in page with Django's default middleware (plus
allauth's, which its views need) and with hardened_auth's added:
``OTPMiddleware``, ``SessionBindingMiddleware``, ``RateLimitMiddleware`` and
``SecondFactorMiddleware``. Target: under 10% added.

The two stacks are timed in alternating rounds, and each figure is the
median of its rounds, so a colleague's load that comes or goes during the run
weighs on both sides alike instead of on whichever ran second.
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

from allauth.account.models import EmailAddress  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks.harness import Report, median_seconds  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, UserFactory  # noqa: E402

DJANGO_DEFAULT = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
HARDENED = [
    *DJANGO_DEFAULT[:5],
    "django_otp.middleware.OTPMiddleware",
    "hardened_auth.middleware.SessionBindingMiddleware",
    "hardened_auth.middleware.RateLimitMiddleware",
    "hardened_auth.middleware.SecondFactorMiddleware",
    *DJANGO_DEFAULT[5:],
]
URL = "/auth/sessions/"
ROUNDS = 15


def _signed_in(middleware: list[str], email: str) -> Client:
    with override_settings(MIDDLEWARE=middleware):
        client = Client(HTTP_USER_AGENT="benchmark")
        client.post("/accounts/login/", {"login": email, "password": DEFAULT_PASSWORD})
        assert client.get(URL).status_code == 200, "not signed in"
    return client


def _round(middleware: list[str], client: Client) -> float:
    with override_settings(MIDDLEWARE=middleware):
        return median_seconds(lambda: client.get(URL), number=40, repeat=1)


def main() -> None:
    logging.disable(logging.CRITICAL)
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    user = UserFactory(username="bench", email="bench@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True)

    stacks: list[tuple[list[str], Client, list[float]]] = [
        (DJANGO_DEFAULT, _signed_in(DJANGO_DEFAULT, user.email), []),
        (HARDENED, _signed_in(HARDENED, user.email), []),
    ]
    for _ in range(ROUNDS):
        for middleware, client, rounds in stacks:
            rounds.append(_round(middleware, client))
    baseline, hardened = (statistics.median(rounds) for _, _, rounds in stacks)
    report = Report("auth_middleware")
    report.add(
        "signed-in GET, hardened_auth middleware",
        hardened * 1000,
        "ms",
        baseline="Django default middleware",
        baseline_value=baseline * 1000,
        target="< 1.10",
        met=hardened / baseline < 1.10,
    )
    report.emit()


if __name__ == "__main__":
    main()
