"""Plane reads through the proxy alone (no Qt drawing), for context.

``volume.image.proxy.plane(axis, index)`` returns scaled float32: axis 0 holds i
fixed (sagittal here), 1 holds j (coronal), 2 holds k (axial, contiguous on disk).

- 512^3 float32: seeded random indices per axis, warm page cache;
- 2048^3 uint16 (sparse 16 GiB): the centre planes read with the overview stride
  the views use at 1200x420 (``core.slicing.overview_step`` with the views' pixel
  sizes) and the axial plane at stride 1. Each read is repeated: the first read
  in a freshly opened map (page faults; the pages themselves are cold only if no
  earlier benchmark of the run touched them) is printed apart from the warm median.
"""

from __future__ import annotations

import time

import numpy as np

from tests.benchmarks import peers
from tests.benchmarks.bench_cursor import application, close_view, open_view
from tests.benchmarks.data import Workload, Workloads, warm_page_cache
from tests.benchmarks.report import Report, Stats, fmt

AXIS_NAMES = {0: "i (sagittal)", 1: "j (coronal)", 2: "k (axial)"}


def time_read(proxy, axis: int, index: int, in_plane=None) -> float:
    start = time.perf_counter()
    if in_plane is None:
        proxy.plane(axis, index)
    else:
        proxy.plane(axis, index, 0, in_plane)
    return time.perf_counter() - start


def open_volume(path):
    from volview.core.state import ViewerState
    from volview.session import Session

    state = ViewerState()
    errors = Session(state).open_paths([path])
    if errors:
        raise RuntimeError("; ".join(str(e) for e in errors))
    return state.volume


def dense_planes(report: Report, workload: Workload, reps: int) -> None:
    warm_page_cache(workload.path)
    volume = open_volume(workload.path)
    proxy = volume.image.proxy
    rng = np.random.default_rng(3)
    try:
        for axis in (0, 1, 2):
            n = workload.shape[axis]
            indices = rng.integers(int(0.2 * n), int(0.8 * n), size=reps)
            time_read(proxy, axis, int(indices[0]))  # maps the pages in this process
            stats = Stats.of(time_read(proxy, axis, int(k)) for k in indices)
            report.info(f"proxy.plane {workload.label}, axis {AXIS_NAMES[axis]}", stats, "ms")
    finally:
        volume.image.close()
    if workload.key in peers.MEMMAP_PLANES:
        i, j, k = peers.MEMMAP_PLANES[workload.key]
        report.peer(f"raw np.memmap (no float32 copy), warm i / j / k: {i} / {j} / {k} ms")


def view_pixels(path) -> dict[str, tuple[int, int]]:
    """Device pixels of each view of a 1200x420 OrthoView (the same for any cubic image)."""
    app = application()
    state, view = open_view(app, path)
    try:
        return {plane.value: v.view_pixels() for plane, v in view.views.items()}
    finally:
        close_view(app, state, view)


def strided_planes(report: Report, workload: Workload, pixels, reps: int) -> None:
    from volview.core.geometry import Plane
    from volview.core.slicing import overview_step

    volume = open_volume(workload.path)
    proxy = volume.image.proxy
    centre = volume.centre_ijk()
    try:
        cases = []
        for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL):
            layout = volume.geometry.layout(plane)
            step = overview_step(layout, *pixels[plane.value])
            cases.append((plane, layout.depth_axis, step))
        cases.append((Plane.AXIAL, volume.geometry.layout(Plane.AXIAL).depth_axis, 1))
        for plane, axis, step in cases:
            in_plane = (slice(None, None, step), slice(None, None, step))
            index = centre[axis]
            first = time_read(proxy, axis, index, in_plane)
            warm = Stats.of(time_read(proxy, axis, index, in_plane) for _ in range(reps))
            report.info(
                f"proxy.plane {workload.label}, {plane.value} centre, stride {step}",
                warm,
                "ms",
                note=f"first read in a fresh map {fmt(first, 'ms')}",
            )
    finally:
        volume.image.close()
    report.note(f"view pixels at 1200x420: {pixels}")
    i, j, k = peers.MEMMAP_PLANES["huge"]
    report.peer(f"raw np.memmap stride 1, warm i / j / k: {i} / {j} / {k} ms")


def first_paint_reads(report: Report, workload: Workload) -> None:
    """Which plane reads one headless first paint makes, and their time.

    Mirrors ``app.render_screenshot``: open, build the OrthoView, show, reset, paint,
    on a file written just before (no page of its holes is cached yet).
    """
    from volview.core.state import ViewerState
    from volview.qt.ortho_view import OrthoView
    from volview.session import Session

    app = application()
    state = ViewerState()
    reads: list[tuple[int, int, float]] = []  # (axis, step, seconds)
    errors = Session(state).open_paths([workload.path])
    if errors:
        raise RuntimeError("; ".join(str(e) for e in errors))
    proxy = state.volume.image.proxy
    read_plane = proxy.plane

    def counted(axis, index, t=0, in_plane=(slice(None), slice(None))):
        start = time.perf_counter()
        try:
            return read_plane(axis, index, t, in_plane)
        finally:
            reads.append((axis, in_plane[0].step or 1, time.perf_counter() - start))

    proxy.plane = counted
    start = time.perf_counter()
    view = OrthoView(state, show_histogram=False)
    view.resize(1200, 420)
    view.show()
    app.processEvents()
    view.reset_views()
    app.processEvents()
    view.views_panel.grab()
    elapsed = time.perf_counter() - start
    close_view(app, state, view)
    names = {0: "sag", 1: "cor", 2: "ax"}
    views = [(a, s, t) for a, s, t in reads if s < 16]
    sample = [t for a, s, t in reads if s >= 16]
    report.info(
        f"plane reads in one first paint {workload.label}, cold",
        f"{fmt(sum(t for *_, t in reads), 'ms')} of {fmt(elapsed, 'ms')}",
        note=f"{len(views)} view reads + {len(sample)} sample reads",
    )
    report.note(
        "view reads (plane stride time): "
        + ", ".join(f"{names[a]} s{s} {fmt(t, 'ms')}" for a, s, t in views)
        + f"; histogram sample reads {fmt(sum(sample), 'ms')}"
    )


def run(report: Report, workloads: Workloads, quick: bool) -> None:
    report.section("plane reads through the proxy alone (scaled float32), for context")
    big = workloads.get("big")
    dense_planes(report, big, 10 if quick else 50)
    pixels = view_pixels(big.path)
    strided_planes(report, workloads.get("huge"), pixels, 3 if quick else 10)
    first_paint_reads(report, workloads.get("huge_fresh"))
