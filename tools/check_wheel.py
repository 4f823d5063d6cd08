"""Check that a built wheel carries what an installed site needs.

Each app must ship its migrations, templates and ``py.typed``, and the wheel
must hold nothing from the sandbox, the tests or the tools.
"""

import sys
import zipfile
from pathlib import Path

APPS = ("hardened_auth", "hardened_rbac", "hardened_payments", "hardened_privacy")
FORBIDDEN_PREFIXES = ("sandbox_project/", "tests/", "tools/", "benchmarks/", "demo/")


def problems(names: set[str]) -> list[str]:
    found: list[str] = []
    for app in APPS:
        for required in (f"{app}/__init__.py", f"{app}/py.typed", f"{app}/apps.py"):
            if required not in names:
                found.append(f"missing {required}")
        has_models = any(n.startswith(f"{app}/models") for n in names)
        has_initial = any(n.startswith(f"{app}/migrations/0001_") for n in names)
        if has_models and not has_initial:
            found.append(f"missing {app}/migrations/0001_*.py")
    found.extend(f"unexpected {n}" for n in names if n.startswith(FORBIDDEN_PREFIXES))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_wheel.py WHEEL", file=sys.stderr)
        return 2
    wheel = Path(argv[0])
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    found = problems(names)
    for problem in found:
        print(f"{wheel.name}: {problem}")
    print(f"{wheel.name}: {len(names)} files, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
