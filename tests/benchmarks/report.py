"""Statistics and the printed report: one line per figure, budgets marked OK or MISSED.

Owns: ``Stats`` (median/p95 of a list of samples), ``Report`` (prints each line as it
is measured and keeps the verdicts for the summary), the unit formatting and
``run_alone`` (the ``main`` of a benchmark module run by itself).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NAME_WIDTH = 62
STATS_WIDTH = 30
BUDGET_WIDTH = 18
#: below this many samples a p95 means little: show the range instead
MIN_SAMPLES_FOR_P95 = 20

UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "MB": 1e6}


def fmt(value: float, unit: str) -> str:
    """``value`` (in seconds or bytes) in ``unit`` with about three significant digits."""
    scaled = value / UNITS[unit]
    if abs(scaled) >= 100:
        return f"{scaled:.0f} {unit}"
    if abs(scaled) >= 10:
        return f"{scaled:.1f} {unit}"
    if abs(scaled) >= 1:
        return f"{scaled:.2f} {unit}"
    return f"{scaled:.3f} {unit}"


@dataclass(frozen=True)
class Stats:
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples) -> Stats:
        values = tuple(float(v) for v in samples)
        if not values:
            raise ValueError("no samples")
        return cls(values)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return float(np.percentile(self.samples, 95))

    @property
    def maximum(self) -> float:
        return max(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    def describe(self, unit: str) -> str:
        if self.n == 1:
            return fmt(self.samples[0], unit)
        text = f"median {fmt(self.median, unit)}"
        if self.n >= MIN_SAMPLES_FOR_P95:
            return f"{text}  p95 {fmt(self.p95, unit)}"
        return f"{text}  max {fmt(self.maximum, unit)}"


@dataclass
class Verdict:
    name: str
    value: float
    budget: float
    unit: str

    @property
    def ok(self) -> bool:
        return self.value < self.budget

    @property
    def ratio(self) -> float:
        """value / budget; a net time below the noise floor can be negative: shown as 0."""
        return max(0.0, self.value / self.budget)


@dataclass
class Report:
    out: object = field(default_factory=lambda: sys.stdout)
    verdicts: list[Verdict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        print(f"\n== {title}", file=self.out, flush=True)

    def budget(
        self, name: str, stats: Stats, budget: float, unit: str, *, value: float | None = None
    ) -> Verdict:
        """A line that compares ``value`` (default: the median) with ``< budget``."""
        verdict = Verdict(name, stats.median if value is None else value, budget, unit)
        stats_text = stats.describe(unit) if value is None else f"max {fmt(value, unit)}"
        status = "OK" if verdict.ok else "MISSED"
        mark = "" if verdict.ok else "   <<<<<<<<"
        self._line(
            name,
            stats_text,
            f"budget < {budget / UNITS[unit]:g} {unit}",
            f"{status} ({verdict.ratio:.2f}x){mark}",
        )
        self.verdicts.append(verdict)
        return verdict

    def info(self, name: str, stats: Stats | str, unit: str = "ms", note: str = "") -> None:
        text = stats if isinstance(stats, str) else stats.describe(unit)
        self._line(name, text, "", "info" + (f"   {note}" if note else ""))

    def peer(self, text: str) -> None:
        print(f"    peer: {text}", file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)

    def failed(self, name: str, reason: str) -> None:
        """A figure that could not be measured (reported, and counted in the summary)."""
        self.failures.append(name)
        self._line(name, "NOT MEASURED", "", "FAILED   <<<<<<<<")
        for line in reason.strip().splitlines()[-12:]:
            print(f"    | {line}", file=self.out, flush=True)

    def _line(self, name: str, stats: str, budget: str, verdict: str) -> None:
        print(
            f"{name:<{NAME_WIDTH}} {stats:<{STATS_WIDTH}} {budget:<{BUDGET_WIDTH}} {verdict}",
            file=self.out,
            flush=True,
        )

    def summary(self) -> None:
        missed = [v for v in self.verdicts if not v.ok]
        print(
            f"\n== summary: {len(self.verdicts)} budgets, "
            f"{len(self.verdicts) - len(missed)} OK, {len(missed)} MISSED"
            + (f", {len(self.failures)} FAILED to measure" if self.failures else ""),
            file=self.out,
        )
        for verdict in missed:
            print(
                f"MISSED: {verdict.name}: {fmt(verdict.value, verdict.unit)} "
                f"against < {fmt(verdict.budget, verdict.unit)} ({verdict.ratio:.2f}x)",
                file=self.out,
            )
        for name in self.failures:
            print(f"FAILED: {name}", file=self.out)
        self.out.flush()


def versus(ours: float, theirs: float) -> str:
    """``0.62x of theirs`` style comparison (lower is better for times)."""
    if theirs <= 0:
        return ""
    return f"ours/peer = {ours / theirs:.2f}x"


def run_alone(run: Callable[[Report, Path, bool], None], argv: list[str] | None = None) -> int:
    """Run one benchmark group in a temporary folder (``--quick``: fewer repetitions)."""
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="volview-bench-") as folder:
        run(report, Path(folder), quick)
    report.summary()
    return 0
