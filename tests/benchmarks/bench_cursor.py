"""Cursor move latency in one process: three planes re-read and repainted.

An offscreen QApplication, a ``ViewerState``, ``Session.open_paths`` and an
``OrthoView(state, show_histogram=False)`` resized to 1200x420 and shown. For seeded
random cursor positions in the central 20-80 % of each axis (the peers' draw:
``default_rng(1).uniform(0.2, 0.8, (n, 3)) * (shape - 1)``; the first 50 are the
peers' 50) each sample is

    state.set_cursor(ijk)           # clamp, emit, each SliceView reads its plane + setImage
    ortho.views_panel.repaint()     # synchronous paint of the three views

Queued events are processed after each sample, outside the timed region. The
page cache is warm (file read once) and 10 untimed moves come first. The 16 GiB
sparse file is not read whole (its holes would fill the page cache with zero
pages): its positions are visited once (printed as "first visit", page cache cold
for the pages those planes touch) and then timed again warm.

Also printed, for context: the set_cursor part alone, and the event-loop path that
the interactive application takes (``set_cursor`` then ``processEvents``, which
paints each view once through Qt's update requests). And moves on ``t1_256.nii``
with a ``.nii.gz`` copy of itself as an overlay, read from the stream and then
copied into RAM (``copy_in_ram``, as the window's OverlayLoader does).
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import numpy as np

from tests.benchmarks import peers
from tests.benchmarks.data import Workload, Workloads, warm_page_cache
from tests.benchmarks.report import Report, Stats, versus

BUDGET_S = 16e-3
SIZE = (1200, 420)
WARMUP_MOVES = 10


def application():
    """The process's offscreen QApplication (created once)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from volview.app import make_application

    return make_application(headless=True)


def open_view(app, path, budget_bytes: int | None = None):
    """(state, ortho view) for ``path``, laid out at SIZE and painted once; with
    ``budget_bytes`` the session's plane-cache budget (0: no cache), else its default."""
    from volview.core.state import ViewerState
    from volview.qt.ortho_view import OrthoView
    from volview.session import Session

    state = ViewerState()
    session = Session(state) if budget_bytes is None else Session(state, budget_bytes)
    errors = session.open_paths([path])
    if errors:
        raise RuntimeError("; ".join(str(e) for e in errors))
    view = OrthoView(state, show_histogram=False)
    view.resize(*SIZE)
    view.show()
    app.processEvents()
    view.reset_views()
    app.processEvents()
    return state, view


def close_view(app, state, view) -> None:
    view.close()
    view.deleteLater()
    app.processEvents()
    if state.volume is not None:
        state.volume.image.close()


def cursor_positions(shape, n: int, seed: int = 1) -> list[tuple[int, int, int]]:
    """Seeded positions in the central 20-80 % of each axis, as voxel indices."""
    draws = np.random.default_rng(seed).uniform(0.2, 0.8, (n, 3)) * (np.array(shape) - 1)
    return [tuple(int(v) for v in row) for row in np.rint(draws)]


def view_steps(view) -> str:
    """The overview stride each view read with, e.g. "axial 1, coronal 1, sagittal 1"."""
    return ", ".join(
        f"{plane.value} {v._shown[2] if v._shown else '?'}" for plane, v in view.views.items()
    )


def time_moves(app, state, view, positions, *, synchronous: bool):
    """Per move: (set_cursor seconds, set_cursor + paint seconds)."""
    panel = view.views_panel
    cursor_only, total = [], []
    for ijk in positions:
        if ijk == state.cursor_ijk:
            continue
        start = time.perf_counter()
        state.set_cursor(ijk)
        moved = time.perf_counter()
        if synchronous:
            panel.repaint()
        else:
            app.processEvents()
        end = time.perf_counter()
        if synchronous:
            app.processEvents()  # flush queued scene updates, untimed
        cursor_only.append(moved - start)
        total.append(end - start)
    return Stats.of(cursor_only), Stats.of(total)


def bench_file(report: Report, app, workload: Workload, n: int, *, budget: bool) -> None:
    """Time ``n`` moves on ``workload``; the sparse 16 GiB file first gets a cold pass."""
    name = f"cursor move {workload.label} (3 planes re-read + repaint)"
    sparse = workload.key == "huge"
    if not sparse:  # reading 16 GiB of holes would fill the page cache with zeros
        warm_page_cache(workload.path)
    try:
        state, view = open_view(app, workload.path)
    except Exception as exc:  # report, do not abort the other figures
        report.failed(name, repr(exc))
        return
    try:
        positions = cursor_positions(workload.shape, n)
        if sparse:
            _, first = time_moves(app, state, view, positions, synchronous=True)
        else:
            warm = cursor_positions(workload.shape, WARMUP_MOVES, seed=99)
            time_moves(app, state, view, warm, synchronous=True)
        cursor, total = time_moves(app, state, view, positions, synchronous=True)
        _, loop = time_moves(app, state, view, positions[::-1], synchronous=False)
        steps = view_steps(view)
    finally:
        close_view(app, state, view)
    if budget:
        report.budget(name, total, BUDGET_S, "ms")
    else:
        report.info(name, total, "ms")
    report.info("  of which state.set_cursor (plane reads + setImage)", cursor, "ms")
    report.info("  event-loop path: set_cursor + processEvents", loop, "ms")
    if sparse:
        report.info("  first visit of each position (file pages cold)", first, "ms")
    report.note(f"{workload.size_note}, n={total.n} moves, view strides: {steps}")
    if workload.key in peers.CURSOR:
        med, p95, draw_med, draw_p95 = peers.CURSOR[workload.key]
        report.peer(
            f"nibabel OrthoSlicer3D set_position {med} / p95 {p95} ms (blit only), "
            f"+ full canvas.draw {draw_med} / p95 {draw_p95} ms; "
            f"{versus(total.median * 1e3, med)} (set_position)"
        )


def bench_compressed_overlay(report: Report, app, workloads: Workloads, n: int) -> None:
    """Moves on t1 with a .nii.gz copy of itself as an overlay: read from the stream
    (every plane across the stream a pass over it) and after ``copy_in_ram`` (what
    the window's OverlayLoader does in the background)."""
    from volview.core.memory_load import copy_in_ram
    from volview.session import Session

    workload = workloads.get("t1")
    compressed = gzip_copy(workload.path)
    warm_page_cache(workload.path)
    state, view = open_view(app, workload.path)
    try:
        layer = Session(state).add_overlay(compressed)
        positions = cursor_positions(workload.shape, n, seed=5)
        _, streamed = time_moves(app, state, view, positions, synchronous=True)
        start = time.perf_counter()
        copy = copy_in_ram(layer.image)
        copied_s = time.perf_counter() - start
        file_image = layer.image
        layer.use_image(copy)
        file_image.close()
        _, in_ram = time_moves(app, state, view, positions[::-1], synchronous=True)
    finally:
        close_view(app, state, view)
    name = f"cursor move {workload.label} + its .nii.gz as an overlay"
    report.info(f"{name}, overlay read from the stream", streamed, "ms")
    report.info(f"{name}, overlay copied into RAM", in_ram, "ms")
    report.note(
        f"copy into RAM (background thread in the window): {copied_s:.2f} s; "
        f"moves {streamed.median / in_ram.median:.1f}x faster after it; n={in_ram.n}"
    )


def gzip_copy(path) -> Path:
    """``path`` gzipped next to it (level 1; made once)."""
    target = Path(f"{path}.gz")
    if not target.exists():
        with open(path, "rb") as src, gzip.open(target, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 16 * 2**20)
    return target


def run(report: Report, workloads: Workloads, quick: bool) -> None:
    report.section(
        f"cursor move: set_cursor + views_panel.repaint(), OrthoView {SIZE[0]}x{SIZE[1]}, "
        "warm page cache"
    )
    n = 50 if quick else 200
    app = application()
    bench_file(report, app, workloads.get("big"), n, budget=True)
    bench_file(report, app, workloads.get("t1"), n, budget=False)
    bench_file(report, app, workloads.get("huge"), min(n, 50), budget=False)
    bench_compressed_overlay(report, app, workloads, 20 if quick else 50)
