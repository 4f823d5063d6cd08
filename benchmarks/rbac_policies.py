"""Policy listing and cached decisions against django-guardian.

    .venv/bin/python benchmarks/rbac_policies.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
        .venv/bin/python benchmarks/rbac_policies.py

Builds a scratch test database (SQLite in memory, or ``test_<name>_bench_rbac``
on PostgreSQL) with one tenant, 10,000 documents and one user allowed 1,000
of them by object permission, twice over: ``Document`` keeps its permissions
in direct foreign-key tables, ``Sheet`` in guardian's generic tables. Then it
measures, in the same run:

* listing the allowed objects with ``policies.allowed`` against guardian's
  ``get_objects_for_user`` on its generic tables (guardian's default) and on
  the same direct tables, with the number of queries each takes;
* a cached per-object decision (``policies.is_allowed``) against guardian's
  ``ObjectPermissionChecker.has_perm`` with a new checker, so no cache, per
  call, on either kind of table.

The decision cache is the test settings' cache: local memory, or Redis when
``REDIS_URL`` is set.
"""

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox_project"), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("HARDENED_TEST_DB_SUFFIX", "bench_rbac")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
)
from guardian.core import ObjectPermissionChecker  # noqa: E402
from guardian.models import UserObjectPermission  # noqa: E402
from guardian.shortcuts import get_objects_for_user  # noqa: E402

from benchmarks.harness import Report, median_seconds  # noqa: E402
from hardened_rbac import policies  # noqa: E402
from hardened_rbac.models import Membership, Tenant  # noqa: E402
from hardened_rbac.tenancy import use_tenant  # noqa: E402
from tests.hardened_rbac.testapp.models import (  # noqa: E402
    Document,
    DocumentUserObjectPermission,
    Sheet,
)

OBJECTS = 10_000
ALLOWED = 1_000


def build() -> tuple[Any, Tenant]:
    from django.contrib.contenttypes.models import ContentType

    tenant = Tenant.objects.create(slug="bench", name="Bench")
    user = get_user_model().objects.create(username="bench-user")
    Membership.objects.create(tenant=tenant, user=user)
    with use_tenant(tenant):
        documents = Document.objects.bulk_create(
            [Document(title=f"d{i}") for i in range(OBJECTS)], batch_size=2000
        )
        sheets = Sheet.objects.bulk_create(
            [Sheet(title=f"s{i}") for i in range(OBJECTS)], batch_size=2000
        )
    step = OBJECTS // ALLOWED
    view_document = Permission.objects.get(codename="view_document")
    view_sheet = Permission.objects.get(codename="view_sheet")
    DocumentUserObjectPermission.objects.bulk_create(
        [
            DocumentUserObjectPermission(
                user=user, permission=view_document, content_object=d
            )
            for d in documents[::step]
        ]
    )
    sheet_type = ContentType.objects.get_for_model(Sheet)
    UserObjectPermission.objects.bulk_create(
        [
            UserObjectPermission(
                user=user,
                permission=view_sheet,
                content_type=sheet_type,
                object_pk=str(s.pk),
            )
            for s in sheets[::step]
        ]
    )
    return user, tenant


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def queries(fn) -> int:
    """SQL statements ``fn`` runs, not counting transaction control."""
    with CaptureQueriesContext(connection) as captured:
        fn()
    return sum(
        1
        for query in captured.captured_queries
        if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    )


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run() -> None:
    user, tenant = build()
    user_model = get_user_model()
    report = Report("rbac_policies")
    print(f"database: {connection.vendor}; {OBJECTS} objects, {ALLOWED} allowed")

    with use_tenant(tenant):

        def ours() -> None:
            fresh = user_model.objects.get(pk=user.pk)
            listed = list(policies.allowed(fresh, "view", Document))
            assert len(listed) == ALLOWED

        def guardian_generic() -> None:
            fresh = user_model.objects.get(pk=user.pk)
            listed = list(
                get_objects_for_user(
                    fresh, "rbac_testapp.view_sheet", Sheet.objects.all()
                )
            )
            assert len(listed) == ALLOWED

        def guardian_direct() -> None:
            fresh = user_model.objects.get(pk=user.pk)
            listed = list(
                get_objects_for_user(
                    fresh, "rbac_testapp.view_document", Document.objects.all()
                )
            )
            assert len(listed) == ALLOWED

        ours()
        fresh = user_model.objects.get(pk=user.pk)
        our_queries = queries(lambda: list(policies.allowed(fresh, "view", Document)))
        guardian_queries = (
            queries(
                lambda: list(
                    get_objects_for_user(
                        user_model.objects.get(pk=user.pk),
                        "rbac_testapp.view_sheet",
                        Sheet.objects.all(),
                    )
                )
            )
            - 1
        )
        print(f"queries to list: ours {our_queries}, guardian {guardian_queries}")

        t_ours = median_seconds(ours, number=5)
        t_generic = median_seconds(guardian_generic, number=5)
        t_direct = median_seconds(guardian_direct, number=5)
        report.add(
            "list 1,000 of 10,000 (policies.allowed, direct tables)",
            t_ours * 1000,
            "ms",
            baseline="guardian get_objects_for_user, generic tables",
            baseline_value=t_generic * 1000,
            target="<= 0.2 (5x faster)",
            met=t_ours * 5 <= t_generic,
        )
        report.add(
            "list 1,000 of 10,000 (policies.allowed, direct tables)",
            t_ours * 1000,
            "ms",
            baseline="guardian get_objects_for_user, same direct tables",
            baseline_value=t_direct * 1000,
        )
        report.add(
            "queries to list the allowed objects",
            our_queries,
            "queries",
            baseline="guardian get_objects_for_user",
            baseline_value=guardian_queries,
            target="1",
            met=our_queries == 1,
        )

        document = Document.objects.order_by("pk").first()
        sheet = Sheet.objects.order_by("pk").first()
        assert policies.is_allowed(user, "view", document)

        def cached_decision() -> None:
            assert policies.is_allowed(user, "view", document)

        def guardian_uncached() -> None:
            assert ObjectPermissionChecker(user).has_perm("view_sheet", sheet)

        def guardian_uncached_direct() -> None:
            assert ObjectPermissionChecker(user).has_perm("view_document", document)

        cached_queries = queries(cached_decision)
        t_cached = median_seconds(cached_decision, number=2000)
        t_guardian = median_seconds(guardian_uncached, number=200)
        t_guardian_direct = median_seconds(guardian_uncached_direct, number=200)
        report.add(
            "cached per-object decision (policies.is_allowed)",
            t_cached * 1e6,
            "us",
            baseline="guardian ObjectPermissionChecker.has_perm, no cache",
            baseline_value=t_guardian * 1e6,
            target="<= 0.05 (20x faster)",
            met=t_cached * 20 <= t_guardian,
        )
        report.add(
            "cached per-object decision (policies.is_allowed)",
            t_cached * 1e6,
            "us",
            baseline="guardian ObjectPermissionChecker.has_perm, direct tables",
            baseline_value=t_guardian_direct * 1e6,
            target="<= 0.05 (20x faster)",
            met=t_cached * 20 <= t_guardian_direct,
        )
        print(f"queries for a cached decision: {cached_queries}")
    report.emit()


if __name__ == "__main__":
    main()
