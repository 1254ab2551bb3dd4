"""Voxel time course at the cursor through 300 volumes (budget < 20 ms, DESIGN.md).

Workload: ``bold_300.nii``, 96x96x60 int16 x 300 volumes (about 330 MB, uncompressed,
slope 0.5 so that the values are scaled), written volume by volume through
``np.memmap`` into the benchmark folder. Figures:

- warm: the whole file read once, then ``Volume.time_course(ijk)`` at seeded random
  voxels, each in a freshly opened map so that every page it touches faults into the
  process (the budget line, median); the same voxels again in one map, whose pages
  are already mapped, as info;
- cold-ish: the file's pages dropped from the page cache with
  ``posix_fadvise(POSIX_FADV_DONTNEED)``, the file opened again, and the first time
  course read from it (info; on a virtual machine the host may still cache it);
- baseline: nibabel's ``img.dataobj[i, j, k, :]`` at the same voxels, warm (info,
  with the ratio); every voxel's two answers must agree or the figure fails;
- the same series as ``.nii.gz`` in the main window (a fresh process): the cursor
  moved once the planes are shown, the time until the plot shows that voxel (the
  first read decompresses the stream to its last volume) and the longest gap between
  10 ms timer ticks meanwhile (info: the read runs off the GUI thread).

Also runnable alone: ``python -m tests.benchmarks.bench_timecourse [--quick]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from tests.benchmarks.bench_gzip import MAIN_WINDOW_SCRIPT, script_runs
from tests.benchmarks.data import VOX_OFFSET, allocated_bytes, warm_page_cache
from tests.benchmarks.report import Report, Stats, fmt, run_alone, versus

BUDGET_S = 20e-3
SHAPE = (96, 96, 60, 300)
DTYPE = np.dtype("int16")
SLOPE = 0.5
TR_S = 2.0
LABEL = f"{SHAPE[3]} volumes of {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} {DTYPE}"


def write_series(path: Path, seed: int = 21) -> None:
    """A scaled 4-D file: a bright blob whose intensity drifts, plus noise, per volume."""
    header = nib.Nifti1Header()
    header.set_data_shape(SHAPE)
    header.set_data_dtype(DTYPE)
    header.set_zooms((2.5, 2.5, 2.5, TR_S))
    header.set_xyzt_units("mm", "sec")
    header.set_slope_inter(SLOPE, 0.0)
    header.set_qform(np.diag([2.5, 2.5, 2.5, 1.0]), code=1)
    header.set_sform(np.diag([2.5, 2.5, 2.5, 1.0]), code=1)
    header.set_data_offset(VOX_OFFSET)
    with open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\0" * (VOX_OFFSET - f.tell()))
    data = np.memmap(path, DTYPE, "r+", offset=VOX_OFFSET, shape=SHAPE, order="F")
    axes = [np.linspace(-1, 1, n, dtype=np.float32) for n in SHAPE[:3]]
    r2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    blob = np.clip(1 - r2, 0, None) * np.float32(2000)
    rng = np.random.default_rng(seed)
    for t in range(SHAPE[3]):
        noise = rng.standard_normal(SHAPE[:3], dtype=np.float32) * np.float32(80)
        data[..., t] = np.rint(blob * np.float32(1 + 0.05 * np.sin(t / 7)) + noise)
    data.flush()
    del data
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def open_volume(path: Path):
    from volview.core.volume import Volume
    from volview.io.images import open_image

    return Volume.from_image(open_image(path))


def drop_from_page_cache(path: Path) -> None:
    """Ask the kernel to forget the file's cached pages (where it has posix_fadvise)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def random_voxels(n: int, seed: int = 4) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    return [tuple(int(rng.integers(s)) for s in SHAPE[:3]) for _ in range(n)]


def timed(read, voxels) -> tuple[Stats, list[np.ndarray]]:
    """Seconds per ``read(ijk)`` and the values read, one per voxel."""
    seconds, values = [], []
    for ijk in voxels:
        start = time.perf_counter()
        values.append(read(ijk))
        seconds.append(time.perf_counter() - start)
    return Stats.of(seconds), values


def first_reads(path: Path, voxels, cold: bool) -> tuple[Stats, list[np.ndarray]]:
    """Each voxel's time course read first thing from a freshly opened map.

    ``cold``: the file's pages are dropped from the page cache before each read.
    """
    seconds, values = [], []
    for ijk in voxels:
        if cold:
            drop_from_page_cache(path)
        volume = open_volume(path)  # a fresh map: no page of it is mapped yet
        try:
            start = time.perf_counter()
            values.append(volume.time_course(ijk))
            seconds.append(time.perf_counter() - start)
        finally:
            volume.image.close()
    return Stats.of(seconds), values


def mismatches(ours: list[np.ndarray], theirs: list[np.ndarray], voxels) -> list[tuple]:
    return [
        ijk
        for ijk, a, b in zip(voxels, ours, theirs, strict=True)
        if not np.array_equal(a, np.asarray(b, dtype=np.float64))
    ]


def run(report: Report, folder: Path, quick: bool) -> None:
    report.section(f"voxel time course, {LABEL} (memory map)")
    path = Path(folder) / "bold_300.nii"
    start = time.perf_counter()
    write_series(path)
    report.note(
        f"(wrote {path.name}: {allocated_bytes(path) / 2**20:,.0f} MiB, "
        f"{time.perf_counter() - start:.1f} s)"
    )
    try:
        measure(report, path, quick)
        compressed_in_window(report, path)
    finally:
        path.unlink(missing_ok=True)


GZ_WINDOW_SCRIPT = (
    "WINDOW_SIZE = (1200, 700)"
    + MAIN_WINDOW_SCRIPT
    + """
window.open_paths([sys.argv[1]])
views, dock = list(window.ortho_view.views.values()), window.time_series.dock
loop, ticks, marks = QtCore.QEventLoop(), [], {}
def tick():
    now = time.perf_counter()
    ticks.append(now)
    if "moved" not in marks and all(v.has_planes() for v in views):
        window.gzip.cancel(wait=True)  # the index build would compete with the read
        marks["moved"] = now
        state.set_cursor((11, 22, 33))
    elif "moved" in marks and dock.windowTitle().endswith("[11, 22, 33]"):
        marks["plotted"] = now
        loop.quit()
timer = QtCore.QTimer()
timer.timeout.connect(tick)
timer.start(10)
loop.exec_()
after = [t for t in ticks if t >= marks["moved"]]
print(marks["plotted"] - marks["moved"], max(b - a for a, b in zip(after, after[1:])))
"""
)


def compressed_in_window(report: Report, path: Path) -> None:
    gz = path.with_suffix(".nii.gz")
    if not gz.exists():
        nib.save(nib.load(path), gz)
    try:
        runs = script_runs(report, "time course, .nii.gz", GZ_WINDOW_SCRIPT, str(gz))
    finally:
        gz.unlink(missing_ok=True)
    if runs is None:
        return
    report.info(
        "  .nii.gz in the main window: first time course plotted",
        Stats.of([r[0] for r in runs]),
        "s",
    )
    report.info(
        "  .nii.gz: longest event-loop stall meanwhile",
        Stats.of([r[1] for r in runs]),
        "ms",
        note="read off the GUI thread",
    )


def measure(report: Report, path: Path, quick: bool) -> None:
    voxels = random_voxels(50 if quick else 300)
    can_drop = hasattr(os, "posix_fadvise")
    if can_drop:
        cold, _ = first_reads(path, random_voxels(3 if quick else 8, seed=5), cold=True)
    warm_page_cache(path)
    ours, our_values = first_reads(path, voxels, cold=False)
    volume = open_volume(path)
    try:
        timed(volume.time_course, voxels)  # map the pages into this process
        mapped, _ = timed(volume.time_course, voxels)
    finally:
        volume.image.close()
    img = nib.load(path)
    theirs, their_values = timed(lambda ijk: img.dataobj[ijk[0], ijk[1], ijk[2], :], voxels)
    wrong = mismatches(our_values, their_values, voxels)
    name = f"Volume.time_course, {LABEL}, warm"
    if wrong:
        report.failed(name, f"differs from nibabel's dataobj[i, j, k, :] at {wrong[:5]}")
        return
    report.budget(name, ours, BUDGET_S, "ms")
    report.info("  the same voxels again, pages already mapped", mapped, "ms")
    if can_drop:
        report.info(
            "  first read after dropping the file from the page cache",
            cold,
            "ms",
            note="posix_fadvise DONTNEED",
        )
    else:
        report.note("no posix_fadvise on this platform: no cold figure")
    report.info(
        "  nibabel img.dataobj[i, j, k, :], warm (baseline)",
        theirs,
        "ms",
        note=versus(ours.median, theirs.median),
    )
    report.note(
        f"n={ours.n} seeded random voxels, each read first in a fresh map; {SHAPE[3]} "
        f"values {fmt(np.prod(SHAPE[:3]) * DTYPE.itemsize, 'MB')} apart; all equal nibabel's"
    )


if __name__ == "__main__":
    sys.exit(run_alone(run))
