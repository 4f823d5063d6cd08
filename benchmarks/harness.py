"""Shared reporting for the benchmark scripts.

Each script measures its figures and their baselines in the same run (the
machines are noisy, so only ratios measured side by side mean anything) and
hands them to :class:`Report`. The report prints a table; when
``HARDENED_BENCH_JSON`` names a file, it also appends one JSON line per figure
there, which ``benchmarks/run`` gathers into one table for every app.
"""

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field


def best_seconds(fn: Callable[[], object], *, number: int, repeat: int = 5) -> float:
    """Return the best per-call time of ``fn`` over ``repeat`` rounds."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return min(rounds)


def median_seconds(fn: Callable[[], object], *, number: int, repeat: int = 5) -> float:
    """Return the median per-call time of ``fn`` over ``repeat`` rounds."""
    return interleaved_medians([fn], number=number, repeat=repeat)[0]


def interleaved_medians(
    fns: Sequence[Callable[[], object]], *, number: int, repeat: int = 5
) -> list[float]:
    """Return the median per-call time of each of ``fns``.

    The functions take turns, one round of ``number`` calls each, so a change
    in the machine's load during the measurement falls on all of them alike.
    """
    rounds: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, taken in zip(fns, rounds, strict=True):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            taken.append((time.perf_counter() - start) / number)
    return [statistics.median(taken) for taken in rounds]


@dataclass
class Figure:
    benchmark: str
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else 0.0


@dataclass
class Report:
    benchmark: str
    figures: list[Figure] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: str,
        baseline_value: float,
        target: str = "",
        met: bool | None = None,
    ) -> Figure:
        figure = Figure(
            self.benchmark, name, value, unit, baseline, baseline_value, target, met
        )
        self.figures.append(figure)
        return figure

    def emit(self) -> None:
        print(format_table(self.figures))
        path = os.environ.get("HARDENED_BENCH_JSON")
        if path:
            with open(path, "a") as out:
                for figure in self.figures:
                    out.write(json.dumps({**asdict(figure), "ratio": figure.ratio}))
                    out.write("\n")


def format_table(figures: list[Figure]) -> str:
    header = ("benchmark", "figure", "value", "baseline", "ratio", "target")
    rows = [header]
    for f in figures:
        verdict = "" if f.met is None else (" met" if f.met else " MISSED")
        rows.append(
            (
                f.benchmark,
                f.name,
                f"{f.value:.4g} {f.unit}",
                f"{f.baseline}: {f.baseline_value:.4g} {f.unit}",
                f"{f.ratio:.3f}",
                f"{f.target}{verdict}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
