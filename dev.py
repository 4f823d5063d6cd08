#!/usr/bin/env python3
"""Set up and run django-hardened with nothing but Python 3.11 or newer.

    python3 dev.py sandbox   # create .venv, migrate, seed, serve 127.0.0.1:8000
    python3 dev.py test      # create .venv, run the test suite (pytest args follow)
    python3 dev.py bench     # run every benchmark and print one table
    python3 dev.py setup     # only create or refresh .venv from the lock file

The virtual environment is installed with hashes required from
``requirements/lock.txt`` (Python 3.11, Django 5.2 LTS) or, on Python 3.12 and
newer, ``requirements/lock-py312.txt`` (Django 6.0), and refreshed whenever
the lock file or ``pyproject.toml`` changes. ``HARDENED_VENV`` chooses another
folder for the environment. ``DATABASE_URL`` and ``REDIS_URL`` switch the
sandbox and the tests to PostgreSQL and Redis.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HARDENED_VENV", ROOT / ".venv"))
LOCK = (
    ROOT
    / "requirements"
    / ("lock.txt" if sys.version_info < (3, 12) else "lock-py312.txt")
)
STAMP = VENV / ".hardened-lock-sha256"
SANDBOX = ROOT / "sandbox_project"


def _python() -> Path:
    return VENV / "bin" / "python"


def _run(*args: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def setup() -> None:
    """Create the virtual environment and install the locked dependencies."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any python3
        sys.exit("django-hardened needs Python 3.11 or newer.")
    if not _python().exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)

    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    pip = (_python(), "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "install", "--quiet", "--require-hashes", "-r", LOCK)
    _run(*pip, "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ROOT)
    STAMP.write_text(fingerprint)


def sandbox(port: str) -> None:
    """Migrate and seed the sandbox, then serve it on 127.0.0.1."""
    setup()
    _run(_python(), "manage.py", "sandbox_demo", cwd=SANDBOX)
    os.chdir(SANDBOX)
    os.execv(_python(), [str(_python()), "manage.py", "runserver", f"127.0.0.1:{port}"])


def test(pytest_args: list[str]) -> int:
    """Run the test suite; returns pytest's exit code."""
    setup()
    return subprocess.run(
        [str(_python()), "-m", "pytest", *pytest_args], cwd=ROOT, check=False
    ).returncode


def bench(selection: list[str]) -> int:
    """Run the benchmarks; returns non-zero when one of them failed to run."""
    setup()
    return subprocess.run(
        [str(_python()), str(ROOT / "benchmarks" / "run.py"), *selection],
        cwd=ROOT,
        check=False,
    ).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create or refresh .venv from the lock file")
    serve = commands.add_parser("sandbox", help="set up and serve the sandbox")
    serve.add_argument("--port", default="8000")
    commands.add_parser("test", help="set up and run the tests; pytest args follow")
    commands.add_parser("bench", help="set up and run the benchmarks")
    args, rest = parser.parse_known_args()

    if args.command == "setup":
        setup()
        return 0
    if args.command == "sandbox":
        sandbox(args.port)
        return 0
    if args.command == "bench":
        return bench(rest)
    return test(rest)


if __name__ == "__main__":
    sys.exit(main())
