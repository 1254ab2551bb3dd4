"""Plane cache: memory under random cursor moves, and slice stepping with prefetch.

(a) ``huge_16g.nii`` (2048^3 uint16, 16 GiB sparse): a fresh process (``--child``)
opens it through ``Session(state, cache_budget_bytes)`` into an ``OrthoView`` at
1200x420 and makes 500 seeded random cursor moves (``--quick``: 150), each
``set_cursor`` + ``views_panel.repaint()``. Measured from outside (procmon): peak
anonymous memory (``RssAnon``) and peak resident set (``VmHWM``: it also counts the
file's page-cache pages that the memory map touched and has not unmapped again),
both against the cache budget + 300 MB. The median move is printed too: a random
sagittal plane of this file touches a page in every row it samples.

(b) ``big_512.nii`` (512^3 float32), in this process: step the
cursor through 100 consecutive axial slices, then 100 sagittal slices; a frame is
``set_cursor`` to painted (``views_panel.repaint()``). Between frames (untimed) the
prefetch worker gets up to one key-repeat interval (33 ms) to read ahead, as when a
key is held down. Budget: median < 16 ms with the cache and prefetch, warm page
cache; printed for comparison: without the cache (budget 0), and both again with the
file's pages dropped from the page cache first (cold).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (the --child process)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_cursor import (
    application,
    close_view,
    cursor_positions,
    open_view,
)
from tests.benchmarks.data import Workloads, warm_page_cache
from tests.benchmarks.procmon import run_watched
from tests.benchmarks.report import Report, Stats, fmt

REPO = Path(__file__).resolve().parents[2]
FRAME_BUDGET_S = 16e-3
MEMORY_SLACK_BYTES = 300e6
BUDGET_MB = 1024
KEY_REPEAT_S = 1 / 30
STEPS = 100


# -- (a) memory under random moves, in a child process ------------------------------------
def child(path: str, budget_mb: int, n: int) -> None:
    """Make ``n`` random moves; report timings and the cache's size on stderr (JSON)."""
    app = application()
    state, view = open_view(app, path, budget_mb * 2**20)
    proxy = state.volume.image.proxy
    times = []
    for ijk in cursor_positions(state.volume.shape, n, seed=11):
        start = time.perf_counter()
        state.set_cursor(ijk)
        view.views_panel.repaint()
        times.append(time.perf_counter() - start)
        app.processEvents()
    result = {
        "median_ms": Stats.of(times).median * 1e3,
        "cached_bytes": getattr(proxy, "cached_bytes", 0),
        "moves": len(times),
    }
    close_view(app, state, view)
    sys.stderr.write("RESULT " + json.dumps(result) + "\n")


def bench_memory(report: Report, workloads: Workloads, quick: bool) -> None:
    workload = workloads.get("huge")
    n = 150 if quick else 500
    budget = BUDGET_MB * 2**20
    limit = budget + MEMORY_SLACK_BYTES
    cmd = [sys.executable, str(Path(__file__)), "--child", str(workload.path), str(BUDGET_MB)]
    run = run_watched([*cmd, str(n)], cwd=REPO, env=child_env(), timeout=900)
    lines = [line for line in run.stderr.splitlines() if line.startswith("RESULT ")]
    if run.returncode != 0 or not lines:
        report.failed("cache memory, 16 GiB", f"exit {run.returncode}\n{run.stderr}")
        return
    result = json.loads(lines[-1][len("RESULT ") :])
    name = f"{n} random moves {workload.label}, cache {BUDGET_MB} MB"
    report.budget(f"{name}: peak RssAnon", Stats.of([0]), limit, "MB", value=run.peak_anon_bytes)
    report.budget(
        f"{name}: peak RSS (VmHWM, incl. mapped file pages)",
        Stats.of([0]),
        limit,
        "MB",
        value=run.hwm_bytes,
    )
    report.note(
        f"{workload.size_note}; cache held {fmt(result['cached_bytes'], 'MB')} at the end; "
        f"median move {result['median_ms']:.1f} ms (set_cursor + repaint), "
        f"{run.wall_s:.0f} s in all"
    )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


# -- (b) stepping through slices -------------------------------------------------------
def step_frames(app, state, view, axis: int, pause: bool) -> Stats:
    """Time STEPS consecutive slices along voxel ``axis`` from 30 % of the axis up."""
    proxy = state.volume.image.proxy
    ijk = list(state.volume.centre_ijk())
    ijk[axis] = int(state.volume.shape[axis] * 0.3)
    state.set_cursor(ijk)
    app.processEvents()
    times = []
    for _ in range(STEPS):
        ijk[axis] += 1
        start = time.perf_counter()
        state.set_cursor(ijk)
        view.views_panel.repaint()
        times.append(time.perf_counter() - start)
        app.processEvents()
        if pause and hasattr(proxy, "wait_idle"):
            proxy.wait_idle(timeout=KEY_REPEAT_S)
    return Stats.of(times)


def bench_stepping(report: Report, workloads: Workloads) -> None:
    workload = workloads.get("big")
    app = application()
    cases = [(True, BUDGET_MB, "cache + prefetch"), (True, 0, "no cache")]
    if hasattr(os, "posix_fadvise"):
        cases += [(False, BUDGET_MB, "cache + prefetch"), (False, 0, "no cache")]
    for warm, budget_mb, label in cases:
        if warm:
            warm_page_cache(workload.path)
        else:
            drop_page_cache(workload.path)
        state, view = open_view(app, workload.path, budget_mb * 2**20)
        try:
            for axis, plane in ((2, "axial"), (0, "sagittal")):
                stats = step_frames(app, state, view, axis, pause=True)
                name = f"step {STEPS} {plane} {workload.label}, {label}"
                if not warm:
                    report.info(f"{name}, cold", stats, "ms")
                elif budget_mb:
                    report.budget(name, stats, FRAME_BUDGET_S, "ms")
                else:
                    report.info(name, stats, "ms")
        finally:
            close_view(app, state, view)
    report.note(
        f"{workload.size_note}; frame = set_cursor + repaint; up to "
        f"{KEY_REPEAT_S * 1e3:.0f} ms between frames (key repeat) for the prefetch worker; "
        "cold: the file's pages dropped (posix_fadvise DONTNEED) before the view opens"
    )


def drop_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(report: Report, workloads: Workloads, quick: bool) -> None:
    report.section("plane cache: memory under random moves, slice stepping with prefetch")
    bench_stepping(report, workloads)
    bench_memory(report, workloads, quick)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        from tests.benchmarks.run import main

        sys.exit(main(["--only", "cache", *sys.argv[1:]]))
