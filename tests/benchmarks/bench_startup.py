"""Process start to first paint: ``python -m volview FILE --screenshot OUT.png``.

A fresh process per repetition renders the ortho view headless (cursor at the centre)
and exits; the wall time runs until it has exited with code 0 and the PNG exists.
One untimed warm-up run comes first (it maps the touched pages of the file into the
page cache and warms Python's bytecode cache); its time is printed as "first run".
Peak anonymous memory is RssAnon sampled every 5 ms (see procmon.py).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from tests.benchmarks import peers
from tests.benchmarks.data import Workloads
from tests.benchmarks.procmon import run_watched
from tests.benchmarks.report import Report, Stats, fmt, versus

REPO = Path(__file__).resolve().parents[2]
OPEN_BUDGET_S = 1.5
ANON_BUDGET_BYTES = 300e6
SIZE = (1200, 420)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a PNG file, or None if ``path`` is not one."""
    try:
        head = path.read_bytes()[:24]
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def screenshot_command(args: list[str], out: Path) -> list[str]:
    size = [str(n) for n in SIZE]
    return [sys.executable, "-m", "volview", *args, "--screenshot", str(out), "--size", *size]


def measure_open(report: Report, name: str, args: list[str], out: Path, reps: int):
    """Warm-up + ``reps`` timed runs; returns (wall Stats, anon Stats) or None on failure."""
    cmd = screenshot_command(args, out)
    runs = []
    for _ in range(reps + 1):
        out.unlink(missing_ok=True)
        run = run_watched(cmd, cwd=REPO, env=child_env())
        if run.returncode != 0 or png_size(out) is None:
            report.failed(
                name,
                f"exit code {run.returncode}, PNG {png_size(out)}\n$ {' '.join(cmd)}\n"
                + run.stderr,
            )
            return None
        runs.append(run)
    first, timed = runs[0], runs[1:]
    return first, timed


def bench_case(
    report: Report,
    label: str,
    args: list[str],
    out: Path,
    reps: int,
    *,
    key: str | None,
    budgets: bool,
    cold_first: bool = False,
) -> None:
    name = f"first paint {label}"
    measured = measure_open(report, name, args, out, reps)
    if measured is None:
        return
    first, timed = measured
    walls = Stats.of(r.wall_s for r in timed)
    anon = Stats.of(r.peak_anon_bytes for r in timed)
    width, height = png_size(out)
    anon_name = "  peak anonymous memory (RssAnon, max over reps)"
    if budgets:
        report.budget(name, walls, OPEN_BUDGET_S, "s")
        report.budget(anon_name, anon, ANON_BUDGET_BYTES, "MB", value=anon.maximum)
    else:
        report.info(name, walls, "s")
        report.info(anon_name, f"max {fmt(anon.maximum, 'MB')}")
    if cold_first:
        report.info(
            "  first run (untimed warm-up: pages of the holes not cached)",
            fmt(first.wall_s, "s"),
            note=f"peak anon {fmt(first.peak_anon_bytes, 'MB')}",
        )
        if key in peers.OPEN_COLD:
            tool, cold = peers.OPEN_COLD[key]
            report.peer(f"{tool} cold start (all caches dropped, libraries too) {fmt(cold, 's')}")
    report.note(
        f"reps: {', '.join(fmt(r.wall_s, 's') for r in timed)}"
        + ("" if cold_first else f"; first (untimed warm-up) run {fmt(first.wall_s, 's')}")
        + f"; peak RSS incl. mapped file pages (VmHWM) "
        f"{fmt(max(r.hwm_bytes for r in timed), 'MB')}; "
        f">= {min(r.n_samples for r in timed)} RssAnon samples/run; PNG {width}x{height}"
    )
    for tool, wall, anon_peer in peers.OPEN.get(key, []) if key else []:
        if wall is None:
            report.peer(f"{tool}: did not finish within 600 s (reads the whole file)")
            continue
        report.peer(
            f"{tool} open+paint {fmt(wall, 's')} (peak anon {fmt(anon_peer, 'MB')}); "
            f"{versus(walls.median, wall)}"
        )


def run(report: Report, workloads: Workloads, folder: Path, quick: bool) -> None:
    report.section(
        f"process start to first paint (python -m volview FILE --screenshot, "
        f"{SIZE[0]}x{SIZE[1]}, warm page cache)"
    )
    reps = 2 if quick else 5
    out = Path(folder) / "first_paint.png"
    huge = workloads.get("huge")
    bench_case(
        report,
        huge.long_label,
        [str(huge.path)],
        out,
        reps,
        key="huge",
        budgets=True,
        cold_first=True,
    )
    big = workloads.get("big")
    bench_case(report, big.long_label, [str(big.path)], out, reps, key="big", budgets=True)
    t1 = workloads.get("t1")
    bench_case(report, t1.long_label, [str(t1.path)], out, reps, key="t1", budgets=True)
    bench_case(
        report, "--demo (MNI152 1 mm .nii.gz)", ["--demo"], out, reps, key=None, budgets=False
    )
