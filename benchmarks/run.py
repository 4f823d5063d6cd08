"""Run every benchmark script and print one table of figures and baselines.

    python3 dev.py bench            # or: .venv/bin/python benchmarks/run.py
    python3 dev.py bench auth       # only scripts whose name contains "auth"

Each ``benchmarks/<app>_<subject>.py`` runs in its own process, with the
environment of this one (set ``DATABASE_URL`` for the PostgreSQL figures).
Their own output is shown as it comes; the table at the end gathers what each
reported through :mod:`benchmarks.harness`.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import Figure, format_table  # noqa: E402

NOT_BENCHMARKS = {"harness.py", "run.py", "__init__.py"}


def scripts(selection: list[str]) -> list[Path]:
    found = sorted(
        path
        for path in HERE.glob("*.py")
        if path.name not in NOT_BENCHMARKS and not path.name.startswith("_")
    )
    if selection:
        found = [p for p in found if any(word in p.stem for word in selection)]
    return found


def main(argv: list[str]) -> int:
    failed: list[str] = []
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "HARDENED_BENCH_JSON": str(results)}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), str(ROOT / "sandbox_project"), env.get("PYTHONPATH", "")]
        )
        for script in scripts(argv):
            print(f"\n== {script.name}", flush=True)
            status = subprocess.run(
                [sys.executable, str(script)], cwd=ROOT, env=env, check=False
            ).returncode
            if status:
                failed.append(f"{script.name} (exit {status})")
        if results.exists():
            for line in results.read_text().splitlines():
                data = json.loads(line)
                data.pop("ratio", None)
                figures.append(Figure(**data))

    print("\n== All figures (ratio = figure / baseline, measured in the same run)")
    print(format_table(figures) if figures else "No figures were reported.")
    if failed:
        print("Failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
