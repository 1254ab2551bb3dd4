"""Import and ``--version`` cost, each in a fresh interpreter.

``import X`` cost = wall time of ``python -c "import X"`` minus that of
``python -c pass``, taken as pairs run back to back (so that drift cancels) and
reported as the median of the per-pair differences. The interpreter is
``sys.executable`` (not a pyenv shim, whose bash start-up would be counted).
``-X importtime`` shows where the CLI's import time goes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.report import Report, Stats, fmt

REPO = Path(__file__).resolve().parents[2]
BUDGET_S = 150e-3
#: modules that must not be imported by the CLI before it knows it needs a window
QT_MODULES = ("PyQt5", "pyqtgraph")


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed


def paired(args: list[str], reps: int) -> tuple[Stats, Stats]:
    """(absolute wall, wall minus a paired ``python -c pass``) over ``reps`` pairs."""
    wall(args)  # warm the bytecode cache
    absolute, net = [], []
    for _ in range(reps):
        base = wall(["-c", "pass"])
        t = wall(args)
        absolute.append(t)
        net.append(t - base)
    return Stats.of(absolute), Stats.of(net)


@dataclass(frozen=True)
class ImportLine:
    self_us: int
    cumulative_us: int
    depth: int
    name: str


def parse_importtime(stderr: str) -> list[ImportLine]:
    lines = []
    for raw in stderr.splitlines():
        if not raw.startswith("import time:") or "|" not in raw:
            continue
        parts = raw[len("import time:") :].split("|")
        if not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        lines.append(ImportLine(int(parts[0]), int(parts[1]), depth, name.strip()))
    return lines


def children(lines: list[ImportLine], module: str) -> tuple[ImportLine, list[ImportLine]]:
    """The line of ``module`` and its direct children (printed just before it)."""
    index = next(i for i, line in enumerate(lines) if line.name == module)
    parent = lines[index]
    kids = []
    for line in reversed(lines[:index]):
        if line.depth <= parent.depth:
            break
        if line.depth == parent.depth + 1:
            kids.append(line)
    return parent, kids


def importtime(module: str, reps: int) -> tuple[Stats, list[ImportLine]]:
    """Cumulative ``-X importtime`` of ``module`` (median of reps) and its children."""
    totals, last_kids = [], []
    for _ in range(reps):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        parent, last_kids = children(parse_importtime(done.stderr), module)
        totals.append(parent.cumulative_us * 1e-6)
    return Stats.of(totals), sorted(last_kids, key=lambda k: -k.cumulative_us)


def qt_loaded_by(module: str) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {QT_MODULES!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def run(report: Report, quick: bool) -> None:
    report.section("import cost (fresh interpreter; net = minus a paired `python -c pass`)")
    reps = 5 if quick else 20
    base, _ = paired(["-c", "pass"], reps)
    report.info("python -c pass (baseline interpreter start)", base, "ms")

    absolute, net = paired(["-c", "import volview"], reps)
    report.budget("import volview (net)", net, BUDGET_S, "ms")
    report.note(f"(net figures within a few ms of 0 are start-up noise; n={net.n} pairs)")
    absolute, net = paired(["-m", "volview", "--version"], reps)
    report.info("python -m volview --version (wall)", absolute, "ms")
    report.info("  net of interpreter start", net, "ms")
    absolute, net = paired(["-c", "import volview.session"], reps)
    report.info("import volview.session (model: numpy, nibabel; net)", net, "ms")
    absolute, net = paired(["-c", "import volview.qt.ortho_view"], reps)
    report.info("import volview.qt.ortho_view (PyQt5 + pyqtgraph; net)", net, "ms")

    cumulative, kids = importtime("volview.cli", reps)
    report.info("-X importtime volview.cli cumulative", cumulative, "ms")
    top = ", ".join(f"{k.name} {fmt(k.cumulative_us * 1e-6, 'ms')}" for k in kids[:4])
    report.note(f"heaviest direct imports of volview.cli: {top}")
    leaked = qt_loaded_by("volview.cli")
    report.note(
        "Qt modules loaded by `import volview.cli`: " + (", ".join(leaked) if leaked else "none")
    )
