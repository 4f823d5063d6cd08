"""Markers that tie tests to the real services they need.

Tests marked ``postgres`` run when the default database is PostgreSQL and are
skipped on SQLite; tests marked ``redis`` run when ``REDIS_URL`` is set. When
``HARDENED_TESTS_REQUIRE_SERVICES=1`` (as in CI's second run) a missing
service is an error instead of a skip.

Hypothesis runs the ``ci`` profile: a fixed budget of examples per property
and no per-example deadline, since a loaded machine makes timings
meaningless. ``HYPOTHESIS_PROFILE=long`` raises the budget for a search of
an hour or more (see docs/testing.md).
"""

import os

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "long",
    parent=hypothesis_settings.get_profile("ci"),
    max_examples=5000,
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _database_is_postgres() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def _services_required() -> bool:
    return os.environ.get("HARDENED_TESTS_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    missing = {
        "postgres": not _database_is_postgres(),
        "redis": not os.environ.get("REDIS_URL"),
    }
    if _services_required() and any(missing.values()):
        raise pytest.UsageError(
            "HARDENED_TESTS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL "
            "does not point at PostgreSQL and Redis."
        )
    for item in items:
        for marker, absent in missing.items():
            if absent and item.get_closest_marker(marker):
                item.add_marker(
                    pytest.mark.skip(reason=f"needs {marker}; set the service's URL")
                )
