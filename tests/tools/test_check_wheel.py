from tools import check_wheel


def _complete() -> set[str]:
    names = set()
    for app in check_wheel.APPS:
        names |= {f"{app}/__init__.py", f"{app}/py.typed", f"{app}/apps.py"}
    names |= {"hardened_rbac/models.py", "hardened_rbac/migrations/0001_initial.py"}
    return names


def test_complete_wheel_has_no_problems():
    assert check_wheel.problems(_complete()) == []


def test_missing_marker_and_migration_are_reported():
    names = _complete() - {
        "hardened_auth/py.typed",
        "hardened_rbac/migrations/0001_initial.py",
    }
    assert sorted(check_wheel.problems(names)) == [
        "missing hardened_auth/py.typed",
        "missing hardened_rbac/migrations/0001_*.py",
    ]


def test_sandbox_and_tests_must_not_ship():
    names = _complete() | {"tests/settings.py", "sandbox_project/manage.py"}
    assert sorted(check_wheel.problems(names)) == [
        "unexpected sandbox_project/manage.py",
        "unexpected tests/settings.py",
    ]
