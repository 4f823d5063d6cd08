"""Markers that tie tests to the real services they need.

Tests marked ``postgres`` run when the default database is PostgreSQL and are
skipped on SQLite; tests marked ``redis`` run when ``REDIS_URL`` is set. When
``HARDENED_TESTS_REQUIRE_SERVICES=1`` (as in CI's second run) a missing
service is an error instead of a skip.
"""

import os

import pytest
from django.conf import settings


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
