"""TRX end to end: open, first overlay through the GUI, slice changes and memory.

Workload: ``trx_data``'s stored TRX (1M smooth random streamlines x ~100 float32
points, 1.2 GB; ``--quick``: 50k) over ``data.py``'s ``t1_256.nii`` (256^3 int16 on the
same 1 mm grid), page cache warm. Every figure comes from a fresh
``python -m tests.benchmarks.bench_trx`` process (QT_QPA_PLATFORM=offscreen) that
prints its measurements as one JSON line:

- ``open``: ``open_tractogram(path)`` alone (budget < 1 s), with the growth of RssAnon,
  of RssFile (mapped file pages: a pass over the positions would map all of them) and
  of minor page faults;
- ``gui``: time from the parent's ``time.time()`` just before it started the process
  until the overlay is drawn (budget < 3 s): QApplication, ViewerState, Session,
  MainWindow shown, ``window.open_paths([image, trx])``, then
  ``app.processEvents(WaitForMoreEvents)`` until every view's
  ``tract_overlay.is_drawn()`` with some opaque pixel and ``window.tracts.is_busy()``
  is False. The milestones on the way are printed as a timeline. A 10 ms
  PreciseTimer measures the event loop's latency (tick gap - 10 ms) while the index is
  built in the background, and from ``open_paths`` to the overlay (this includes the
  first draw, on the GUI thread); the status bar's progress values are counted. One
  untimed warm-up process comes first; the last timed one goes on with the slice
  changes;
- slice changes, overlay drawn: per plane, seeded depths in the central 20-80 %::

      state.set_cursor(ijk)           # the view whose slice moved re-reads its plane
      view.tract_overlay.redraw()     # query, colour, rasterize, setImage
      view.repaint()                  # synchronous paint of image + overlay

  then queued events are processed outside the timed region. The budget (< 50 ms)
  is on the sum, per view; the overlay alone is printed too. For info, a second pass
  runs with every streamline (``layer.set_style(cap=None)``, which first indexes them
  all in the background), and a last one, back at
  the default cap, wraps the parts of ``redraw`` with timers (query, colour,
  rasterize, setImage);
- memory: RssAnon growth from just before ``open_paths`` to the first overlay and
  to the end of the slice changes, against 25 % of the positions' size; the peak
  is sampled every 5 ms from the parent (no thread inside the measured process).

FSLeyes, for comparison, reads all positions into RAM (about their file size, all
anonymous) and draws a subsample of about 150k streamlines above 150k; volview
draws ``DEFAULT_CAP`` (200k) by default.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.procmon import read_memory
from tests.benchmarks.report import Report, Stats, fmt, versus

REPO = Path(__file__).resolve().parents[2]
OPEN_BUDGET_S = 1.0
FIRST_OVERLAY_BUDGET_S = 3.0
SLICE_BUDGET_S = 50e-3
ANON_BUDGET_FRACTION = 0.25
TICK_MS = 10
CHILD_TIMEOUT_S = 900.0
SAMPLE_S = 0.005
FSLEYES_CAP = 150_000
MRVIEW_1M = "mrview t1_256.nii + tracts_1m.tck: open + paint 99.1 s, peak anon 1,435 MiB"
MRVIEW_1M_S = 99.1
#: the timed parts of one slice change (child's sample names)
SLICE_PARTS = ("cursor", "overlay", "paint")


# -- parent: run the measured processes and report -------------------------------------
def run(report: Report, workloads, quick: bool) -> None:
    from tests.benchmarks.data import warm_page_cache
    from tests.benchmarks.trx_data import benchmark_trx

    n_streamlines = 50_000 if quick else 1_000_000
    report.section(
        f"TRX end to end: {n_streamlines:,} streamlines (stored zip) over t1_256.nii, "
        "fresh process per figure, warm page cache"
    )
    trx = benchmark_trx(report, n_streamlines)
    image = workloads.get("t1")
    for path in (trx.path, image.path):
        warm_page_cache(path)
    report_open(report, trx, reps=3 if quick else 5, budgets=not quick)
    gui_args = ["gui", str(image.path), str(trx.path)]
    warm_up = run_child(gui_args)
    runs = [run_child(gui_args) for _ in range(0 if quick else 2)]
    depths = ["--depths", "30" if quick else "100", "--all-depths", "10" if quick else "30"]
    runs.append(run_child(gui_args + depths))
    report_first_overlay(report, warm_up, runs, budgets=not quick)
    report_slices(report, runs[-1], budgets=not quick)
    report_memory(report, trx, runs, budgets=not quick)


class PeakAnon(threading.Thread):
    """Peak RssAnon of another process, sampled every SAMPLE_S until it is gone."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0

    def run(self) -> None:
        while (memory := read_memory(self.pid)) is not None:
            self.peak = max(self.peak, memory[0])
            time.sleep(SAMPLE_S)


def run_child(args: list[str]) -> dict:
    """Run ``python -m tests.benchmarks.bench_trx ARGS``; its JSON result + wall + peak."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    started = time.time()
    cmd = [sys.executable, "-m", "tests.benchmarks.bench_trx", *args, "--started", repr(started)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = PeakAnon(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    sampler.join()
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"exit code {proc.returncode}: $ {' '.join(cmd)}\n{err.decode()}")
    result = json.loads(lines[-1])
    result["wall_s"] = time.time() - started
    result["peak_anon"] = sampler.peak
    return result


def figure(report: Report, budgets: bool, name: str, stats: Stats, budget: float, unit: str):
    """A budget line, or an info line when the workload is not the budget's (--quick)."""
    if budgets:
        report.budget(name, stats, budget, unit)
    else:
        report.info(name, stats, unit, note="(the budget is for 1M streamlines)")


def report_open(report: Report, trx, reps: int, budgets: bool) -> None:
    warm_up = run_child(["open", str(trx.path)])  # compiles the reader's bytecode
    runs = [run_child(["open", str(trx.path)]) for _ in range(reps)]
    name = f"open_tractogram, {trx.label} ({fmt(trx.positions_nbytes, 'MB')})"
    figure(report, budgets, name, Stats.of(r["seconds"] for r in runs), OPEN_BUDGET_S, "s")
    worst = max(runs, key=lambda r: r["file"])
    report.info(
        "  file pages mapped by the open (RssFile growth, max)",
        fmt(worst["file"], "MB"),
        note=f"a pass over the positions maps {fmt(trx.positions_nbytes, 'MB')}; "
        f"{worst['minflt']:,} minor faults; positions {worst['positions']}",
    )
    report.info("  RssAnon growth of the open (max)", fmt(max(r["anon"] for r in runs), "MB"))
    report.note(
        f"first (untimed warm-up) run {fmt(warm_up['seconds'], 's')}; process wall per run: "
        + ", ".join(fmt(r["wall_s"], "s") for r in runs)
    )


def report_first_overlay(report: Report, warm_up: dict, runs: list[dict], budgets: bool):
    seconds = Stats.of(r["marks"]["overlay drawn"] for r in runs)
    name = "first overlay: process start -> 3 views drawn (image + trx)"
    figure(report, budgets, name, seconds, FIRST_OVERLAY_BUDGET_S, "s")
    report.info("  first run (untimed warm-up)", fmt(warm_up["marks"]["overlay drawn"], "s"))
    report.note(
        "timeline of the last run (s from process start): "
        + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1]["marks"].items())
    )
    for label, key, note in (
        ("index build", "build", ""),
        ("open_paths -> drawn", "all", "; includes the first draw (GUI thread)"),
    ):
        gaps = [g for r in runs for g in r["gaps"][key]]
        if gaps:
            latency = Stats.of(max(0.0, g - TICK_MS / 1e3) for g in gaps)
            report.info(
                f"  event-loop latency, {label}",
                f"median {fmt(latency.median, 'ms')}  max {fmt(latency.maximum, 'ms')}",
                note=f"{len(gaps)} ticks of {TICK_MS} ms; users notice > 100 ms{note}",
            )
    report.note(
        f"index progress: {min(r['progress_steps'] for r in runs)} distinct values shown "
        "in the status bar (min over runs)"
    )
    report.peer(f"{MRVIEW_1M}; {versus(seconds.median, MRVIEW_1M_S)}")


def pooled(by_plane: dict, parts: tuple[str, ...] = SLICE_PARTS) -> Stats:
    """Per-sample sums of ``parts``, pooled over the planes."""
    columns = [zip(*(p[k] for k in parts), strict=True) for p in by_plane.values()]
    return Stats.of(sum(values) for column in columns for values in column)


def report_slices(report: Report, last: dict, budgets: bool) -> None:
    slices = last["slices"]
    name = "slice change, overlay on: set_cursor + redraw + repaint, per view"
    figure(report, budgets, name, pooled(slices), SLICE_BUDGET_S, "ms")
    report.note(
        "median per plane: "
        + ", ".join(
            f"{plane} {fmt(pooled({plane: p}).median, 'ms')} "
            f"({int(np.median(p['segments'])):,} segments)"
            for plane, p in slices.items()
        )
    )
    report.info("  set_cursor + redraw (no paint)", pooled(slices, SLICE_PARTS[:2]))
    report.info("  overlay redraw alone", pooled(slices, ("overlay",)))
    report.note(
        "overlay redraw, median of each part (a separate pass through timing wrappers): "
        + ", ".join(f"{k} {fmt(float(np.median(v)), 'ms')}" for k, v in last["parts"].items())
    )
    every = last["every"]["slices"]
    segments = int(np.median([n for p in every.values() for n in p["segments"]]))
    report.info(
        "  overlay redraw, every streamline (cap=None)",
        pooled(every, ("overlay",)),
        note=f"{segments:,} segments; the switch (a full index built in the background, "
        "3 views redrawn) took "
        f"{fmt(last['every']['switch_s'], 's')}",
    )


def report_memory(report: Report, trx, runs: list[dict], budgets: bool) -> None:
    from volview.core.tracts import DEFAULT_CAP

    limit = round(ANON_BUDGET_FRACTION * trx.positions_nbytes / 1e6) * 1e6
    growth = {
        key: [r["anon"][key] - r["anon"]["before open"] for r in runs if key in r["anon"]]
        for key in ("drawn", "slices", "every", "trimmed")
    }
    for label, key in (("first overlay", "drawn"), ("the slice changes", "slices")):
        stats = Stats.of(growth[key])
        name = f"RssAnon growth, open -> {label} ({stats.median / trx.positions_nbytes:.1%})"
        figure(report, budgets, name, stats, limit, "MB")
    plain = runs[:-1]  # the last run goes on with the slice changes
    peak = max(r["peak_anon"] - r["anon"]["before open"] for r in plain or runs)
    report.note(
        f"peak {'to the first overlay' if plain else 'over the whole run'} +{fmt(peak, 'MB')} "
        f"(sampled by the parent); with cap=None +{fmt(growth['every'][0], 'MB')}; "
        f"after malloc_trim(0) +{fmt(growth['trimmed'][0], 'MB')}; baseline (window "
        f"shown) {fmt(runs[-1]['anon']['before open'], 'MB')}"
    )
    ours = float(np.median(growth["drawn"]))
    report.peer(
        f"FSLeyes (not run here) loads every position into RAM, about "
        f"{fmt(trx.positions_nbytes, 'MB')} anonymous, and draws ~{FSLEYES_CAP:,} streamlines "
        f"when there are more; ours +{fmt(ours, 'MB')} = {ours / trx.positions_nbytes:.2f}x of "
        f"that, drawing {min(DEFAULT_CAP, trx.n_streamlines):,} (DEFAULT_CAP {DEFAULT_CAP:,})"
    )


# -- child: the measured process ---------------------------------------------------------
def status_bytes(*names: str) -> dict[str, int]:
    """Fields of /proc/self/status (kB lines) in bytes."""
    found = {}
    with open("/proc/self/status", "rb") as f:
        for line in f:
            key, _, value = line.decode().partition(":")
            if key in names:
                found[key] = int(value.split()[0]) * 1024
    return found


def anon_now() -> int:
    return status_bytes("RssAnon")["RssAnon"]


def child_open(path: str) -> dict:
    import resource

    from volview.io.tractogram import open_tractogram

    before = status_bytes("RssAnon", "RssFile")
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    tractogram = open_tractogram(path)
    seconds = time.perf_counter() - start
    after = status_bytes("RssAnon", "RssFile")
    return {
        "seconds": seconds,
        "anon": after["RssAnon"] - before["RssAnon"],
        "file": after["RssFile"] - before["RssFile"],
        "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
        "positions": f"{type(tractogram.positions).__name__} {tractogram.positions.dtype}",
    }


class LoopProbe:
    """Milestones of the first overlay, and the times of a 10 ms timer's ticks.

    The tractogram milestones are marked from the state's and layer's signals, as
    they happen (the first draw follows ``set_index`` within the same event batch).
    """

    def __init__(self, window, started: float) -> None:
        from volview.qt.compat import QtCore

        self.window, self.started = window, started
        self.marks: dict[str, float] = {}
        self.ticks: list[float] = []
        self.progress: set[int] = set()
        self.timer = QtCore.QTimer(interval=TICK_MS)
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        window.state.tracts_changed.connect(self._on_tracts_changed)  # after the controller

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.time() - self.started)

    def _tick(self) -> None:
        self.ticks.append(time.time() - self.started)
        if self.window.tracts.index_task is not None:
            self.progress.add(self.window.tracts.progress.value())

    def _on_tracts_changed(self) -> None:
        self.mark("tractogram added")
        if self.window.tracts.index_task is not None:
            self.mark("index started")
        for layer in self.window.state.tracts:
            layer.changed.connect(self._on_layer_changed, unique=True)

    def _on_layer_changed(self) -> None:
        if any(layer.index is not None for layer in self.window.state.tracts):
            self.mark("index built")

    def check(self) -> bool:
        """Record the milestones reached; True once the overlay is drawn in every view."""
        if all(view.has_planes() for view in self.window.ortho_view.views.values()):
            self.mark("image planes shown")
        if self.window.tracts.index_task is not None:
            self.mark("index started")
        if not overlay_drawn(self.window):
            return False
        self.mark("overlay drawn")
        return True

    def gaps(self, start: str, end: str) -> list[float]:
        """Gaps (s) between ticks from one milestone to the other; the milestones count
        as ticks (the loop had control there), so a stall just before ``end`` shows."""
        if start not in self.marks or end not in self.marks:
            return []
        lo, hi = self.marks[start], self.marks[end]
        return np.diff([lo, *(t for t in self.ticks if lo < t < hi), hi]).tolist()


def overlay_drawn(window) -> bool:
    if window.tracts.is_busy() or not window.state.tracts:
        return False
    for view in window.ortho_view.views.values():
        overlay = view.tract_overlay
        if not (overlay.is_drawn() and overlay.item.isVisible()):
            return False
        if overlay.item.image is None or not overlay.item.image[..., 3].any():
            return False
    return True


def child_gui(image: str, trx: str, started: float, depths: int, all_depths: int) -> dict:
    from volview.app import make_application, quiet_offscreen_messages
    from volview.core.state import ViewerState
    from volview.qt.compat import QtCore
    from volview.qt.main_window import MainWindow
    from volview.session import Session

    quiet_offscreen_messages()
    app = make_application(headless=True)
    state = ViewerState()
    settings_file = Path(tempfile.mkdtemp(prefix="volview-bench-")) / "settings.ini"
    settings = QtCore.QSettings(str(settings_file), QtCore.QSettings.IniFormat)  # not the user's
    window = MainWindow(state, Session(state), settings=settings)
    window.show()
    app.processEvents()
    probe = LoopProbe(window, started)
    probe.mark("window shown")
    anon = {"before open": anon_now()}
    window.open_paths([image, trx])
    probe.mark("open_paths returned")
    while not probe.check():
        if time.time() - started > CHILD_TIMEOUT_S:
            raise TimeoutError(f"no overlay after {CHILD_TIMEOUT_S} s: {probe.marks}")
        app.processEvents(QtCore.QEventLoop.WaitForMoreEvents)
    probe.timer.stop()
    anon["drawn"] = anon_now()
    result = {
        "marks": probe.marks,
        "gaps": {
            "build": probe.gaps("index started", "index built"),
            "all": probe.gaps("open_paths returned", "overlay drawn"),
        },
        "progress_steps": len(probe.progress),
        "anon": anon,
    }
    if depths:
        result.update(child_slices(app, window, depths, all_depths, anon))
    return result


def child_slices(app, window, depths: int, all_depths: int, anon: dict) -> dict:
    """Slice changes (default cap, then cap=None), then the parts of a redraw."""
    from volview.core.tracts import DEFAULT_CAP

    result = {"slices": slice_changes(app, window, depths, seed=1)}
    anon["slices"] = anon_now()
    layer = window.state.tracts[0]
    start = time.perf_counter()
    layer.set_style(cap=None)
    while not overlay_drawn(window):
        app.processEvents()
    switch_s = time.perf_counter() - start
    result["every"] = {"switch_s": switch_s, "slices": slice_changes(app, window, all_depths, 3)}
    anon["every"] = anon_now()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed temporaries for reuse
    anon["trimmed"] = anon_now()
    layer.set_style(cap=DEFAULT_CAP)
    result["parts"] = timed_parts(app, window, depths, seed=2)  # last: it wraps methods
    return result


def depth_plan(window, n_depths: int, seed: int):
    """(plane name, view, depth axis, depths): seeded depths in the central 20-80 %."""
    rng = np.random.default_rng(seed)
    state = window.state
    for plane, view in window.ortho_view.views.items():
        axis = view.plane_layout.depth_axis
        n = state.volume.shape[axis]
        candidates = rng.permutation(np.arange(int(0.2 * n), int(0.8 * n)))
        depths = [int(d) for d in candidates if d != state.cursor_ijk[axis]][:n_depths]
        yield plane.value, view, axis, depths


def move_to(state, axis: int, depth: int) -> None:
    ijk = list(state.cursor_ijk)
    ijk[axis] = depth
    state.set_cursor(ijk)


def slice_changes(app, window, n_depths: int, seed: int) -> dict[str, dict[str, list]]:
    """Per plane: seconds of set_cursor, overlay redraw and repaint; segment counts."""
    state, layer = window.state, window.state.tracts[0]
    out = {}
    for plane, view, axis, depths in depth_plan(window, n_depths, seed):
        samples = {"cursor": [], "overlay": [], "paint": [], "segments": []}
        for depth in depths:
            t0 = time.perf_counter()
            move_to(state, axis, depth)
            t1 = time.perf_counter()
            view.tract_overlay.redraw()
            t2 = time.perf_counter()
            view.repaint()
            t3 = time.perf_counter()
            app.processEvents()
            samples["cursor"].append(t1 - t0)
            samples["overlay"].append(t2 - t1)
            samples["paint"].append(t3 - t2)
            samples["segments"].append(len(layer.segments(axis, depth)))  # cached: free
        out[plane] = samples
    return out


def timed_parts(app, window, n_depths: int, seed: int) -> dict[str, list[float]]:
    """Seconds of each part of ``TractOverlay.redraw``, through timing wrappers.

    The wrappers stay in place: call this last in the process.
    """
    from volview.qt import tract_overlay

    spent: dict[str, float] = {}

    def timed(part: str, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] = spent.get(part, 0.0) + time.perf_counter() - start

        return wrapper

    layer = window.state.tracts[0]
    layer.segments = timed("query", layer.segments)
    layer.colours = timed("colour", layer.colours)
    for name in ("ijk_to_display_mm", "rasterize"):  # the mm transform counts as rasterizing
        setattr(tract_overlay, name, timed("rasterize", getattr(tract_overlay, name)))
    for view in window.ortho_view.views.values():
        view.tract_overlay.item.setImage = timed("setImage", view.tract_overlay.item.setImage)
    parts = {name: [] for name in ("query", "colour", "rasterize", "setImage", "other")}
    for _plane, view, axis, depths in depth_plan(window, n_depths, seed):
        for depth in depths:
            move_to(window.state, axis, depth)
            spent.clear()
            start = time.perf_counter()
            view.tract_overlay.redraw()
            spent["other"] = time.perf_counter() - start - sum(spent.values())
            for name, values in parts.items():
                values.append(spent.get(name, 0.0))
            app.processEvents()
    return parts


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_trx")
    parser.add_argument("what", choices=("open", "gui"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--started", type=float, default=time.time())
    parser.add_argument("--depths", type=int, default=0, help="slice changes per plane")
    parser.add_argument("--all-depths", type=int, default=0, help="the same, cap=None")
    args = parser.parse_args(argv)
    if args.what == "open":
        result = child_open(args.paths[0])
    else:
        image, trx = args.paths
        result = child_gui(image, trx, args.started, args.depths, args.all_depths)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
