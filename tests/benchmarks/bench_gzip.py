"""A large .nii.gz: first view, index build, slice reads with the index, nibabel without it.

Workload: ``anatomy_<shape>.nii.gz`` (uint16 smooth blob + noise, gzip level 1),
generated once and kept under ``$TMPDIR/volview-bench/``. Full run: 1024x1024x1024
(2 GiB uncompressed); ``--quick``: 512x512x256. Figures:

- first view in the main window (the GUI path, a fresh process): from the first
  line of the script (imports included) until every view shows the image: the
  axial plane whole, the sagittal and coronal planes with the rows the one pass over
  the stream has read so far (budget < 3 s);
- three planes complete: process start to ``volview FILE --screenshot`` written (a
  fresh process; info: the side planes need the whole stream decompressed);
- first plane and the other two, in a fresh process: from the first line of the
  script (imports included) to the axial plane through the centre (the one the
  initial window is computed from) and to the sagittal and coronal planes, read
  in one pass over the stream on the plane cache's worker;
- main window, same run: how long ``open_paths`` takes (it does not wait on the
  stream), the time until the three planes are complete and the window settled, and
  the longest gap between 10 ms timer ticks meanwhile (info);
- index build: ``gzip_index.build_index`` on the whole file (info);
- slice read after the index is adopted: median over random axial planes through
  ``NibabelProxy.plane`` (budget < 50 ms);
- decompress once into the cache (``DecompressCache.store``, the whole file, into a
  temporary cache folder) against ``gzip.GzipFile`` inflating the same file (info);
- nibabel without indexed_gzip (``nibabel._compression.HAVE_INDEXED_GZIP = False``, so
  ``gzip.GzipFile`` decompresses from the start on every read; nibabel's default when
  indexed_gzip is not installed): the same planes, a few of them, and the ratio.

Also runnable alone: ``python -m tests.benchmarks.bench_gzip [--quick]``.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from tests.benchmarks.bench_startup import child_env, png_size, screenshot_command
from tests.benchmarks.procmon import run_watched
from tests.benchmarks.report import Report, Stats, fmt, run_alone

REPO = Path(__file__).resolve().parents[2]
FIRST_VIEW_BUDGET_S = 3.0
SLICE_BUDGET_S = 50e-3
FULL_SHAPE = (1024, 1024, 1024)
QUICK_SHAPE = (512, 512, 256)
VOX_OFFSET = 352


def bench_folder() -> Path:
    folder = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "volview-bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def anatomy_plane(shape, k: int, rng) -> np.ndarray:
    """Axial plane ``k``: a smooth ellipsoid (brain-like) plus noise, uint16."""
    ni, nj, nk = shape
    x = np.linspace(-1, 1, ni, dtype=np.float32)[:, None]
    y = np.linspace(-1, 1, nj, dtype=np.float32)[None, :]
    z = np.float32(2 * k / max(nk - 1, 1) - 1)
    r2 = x**2 + y**2 + z**2
    plane = np.clip(1 - r2, 0, None) * 1500 + 200 * np.cos(6 * x) * np.sin(5 * y)
    plane += rng.normal(0, 25, plane.shape).astype(np.float32)
    return np.clip(plane, 0, 65535).astype(np.uint16)


def workload(shape, log) -> Path:
    path = bench_folder() / f"anatomy_{'x'.join(map(str, shape))}.nii.gz"
    if path.exists():
        return path
    log(f"writing {path.name} (gzip level 1; once, then reused)")
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint16)
    header.set_qform(np.eye(4), code=1)
    header.set_data_offset(VOX_OFFSET)
    part = path.with_suffix(".part")
    rng = np.random.default_rng(5)
    with gzip.open(part, "wb", compresslevel=1) as out:
        header.write_to(out)
        out.write(b"\0" * (VOX_OFFSET - 348))
        for k in range(shape[2]):
            out.write(anatomy_plane(shape, k, rng).tobytes(order="F"))
    os.replace(part, path)
    return path


def first_view(report: Report, path: Path, folder: Path) -> None:
    out = folder / "gzip_first_view.png"
    cmd = screenshot_command([str(path)], out)
    times = []
    for _ in range(3):
        out.unlink(missing_ok=True)
        run = run_watched(cmd, cwd=REPO, env=child_env())
        if run.returncode != 0 or png_size(out) is None:
            report.failed("first view", f"exit code {run.returncode}\n{run.stderr}")
            return
        times.append(run.wall_s)
    report.info(
        "3 planes complete, --screenshot (fresh process)",
        Stats.of(times),
        "s",
        note="the side planes need the whole stream",
    )


FIRST_PLANES_SCRIPT = """
import sys, threading, time
start = time.perf_counter()
from volview.core.volume import Volume, auto_window
from volview.io.images import open_image
from volview.io.plane_cache import with_plane_cache
image = with_plane_cache(open_image(sys.argv[1]), 2**30)
arrived = threading.Semaphore(0)
image.proxy.add_ready_listener(arrived.release)
volume = Volume.from_image(image)
auto_window(volume)
first = time.perf_counter() - start
centre = volume.centre_ijk()
while any(image.proxy.plane_nowait(axis, centre[axis]) is None for axis in (0, 1)):
    arrived.acquire(timeout=60)
print(first, time.perf_counter() - start)
image.close()
"""


def script_runs(report: Report, name: str, script: str, *args: str) -> list[list[float]] | None:
    """Three fresh processes running ``script``: the numbers each printed last on its
    last line; None (reported as failed) if one of them fails."""
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as folder:
            run = subprocess.run(
                [sys.executable, "-c", script, *args, folder],
                cwd=REPO,
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=600,
            )
        if run.returncode != 0:
            report.failed(name, run.stderr)
            return None
        runs.append([float(x) for x in run.stdout.splitlines()[-1].split()])
    return runs


def first_planes(report: Report, path: Path) -> None:
    times = script_runs(report, "first plane", FIRST_PLANES_SCRIPT, str(path))
    if times is None:
        return
    report.budget(
        "first plane (axial, fresh process)",
        Stats.of([t[0] for t in times]),
        FIRST_VIEW_BUDGET_S,
        "s",
    )
    report.info("sagittal + coronal (same pass)", Stats.of([t[1] for t in times]), "s")


#: the start of a child script with a main window (offscreen, its settings in the
#: temporary folder ``sys.argv[2]``, never offering to decompress) of ``WINDOW_SIZE``
MAIN_WINDOW_SCRIPT = """
import os, sys, time
process_start = time.perf_counter()
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from volview.qt.compat import QtCore, QtWidgets
app = QtWidgets.QApplication([])
from volview.core.state import ViewerState
from volview.qt.main_window import MainWindow
from volview.session import Session
settings = QtCore.QSettings(os.path.join(sys.argv[2], "s.ini"), QtCore.QSettings.IniFormat)
settings.setValue("gzip/decompress_choice", "never")
state = ViewerState()
session = Session(state)
window = MainWindow(state, session, settings=settings)
window.resize(*WINDOW_SIZE)
window.show()
"""

GUI_OPEN_SCRIPT = (
    "WINDOW_SIZE = (1200, 520)"
    + MAIN_WINDOW_SCRIPT
    + """
app.processEvents()
ticks = [time.perf_counter()]
timer = QtCore.QTimer()
timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
timer.start(10)
start = time.perf_counter()
window.open_paths([sys.argv[1]])
opened = time.perf_counter() - start
views = list(window.ortho_view.views.values())
painted = []
loop = QtCore.QEventLoop()  # sleeps between events (a polling loop slows the decoder)
def check():
    if not painted and all(v.overview_item.image is not None for v in views):
        painted.append(time.perf_counter() - process_start)
    if all(v.has_planes() for v in views) and session.provisional_window is None:
        loop.quit()
checker = QtCore.QTimer()
checker.timeout.connect(check)
checker.start(20)
loop.exec_()
shown = time.perf_counter() - start
stall = max(b - a for a, b in zip(ticks, ticks[1:] + [time.perf_counter()]))
print(opened, painted[0], shown, stall)
window.gzip.cancel(wait=True)
"""
)


def gui_open(report: Report, path: Path) -> None:
    """The main window opens the file (the GUI path: no wait on the stream): when
    every view first shows the image, when the planes are complete, and the longest
    gap between 10 ms timer ticks meanwhile (the window keeps answering)."""
    runs = script_runs(report, "main window open", GUI_OPEN_SCRIPT, str(path))
    if runs is None:
        return
    report.budget(
        "first view, every view painted (main window, fresh process)",
        Stats.of([r[1] for r in runs]),
        FIRST_VIEW_BUDGET_S,
        "s",
    )
    report.info("main window: open_paths returns", Stats.of([r[0] for r in runs]), "ms")
    report.info("main window: 3 planes complete + window", Stats.of([r[2] for r in runs]), "s")
    report.info(
        "main window: longest event-loop stall meanwhile",
        Stats.of([r[3] for r in runs]),
        "ms",
        note="the index build follows once the planes are in",
    )


def indexed_reads(report: Report, path: Path, ks) -> tuple[dict, float]:
    from volview.io.gzip_index import build_index
    from volview.io.images import open_image

    image = open_image(path)
    try:
        start = time.perf_counter()
        build_index(image.proxy)
        report.info("index build (whole file)", fmt(time.perf_counter() - start, "s"))
        times, planes = [], {}
        for k in ks:
            start = time.perf_counter()
            planes[k] = image.proxy.plane(2, k)
            times.append(time.perf_counter() - start)
        stats = Stats.of(times)
        report.budget("axial plane read, index adopted", stats, SLICE_BUDGET_S, "ms")
        return planes, stats.median
    finally:
        image.close()


def plain_nibabel_reads(report: Report, path: Path, ks, ours: dict, ours_median) -> None:
    from nibabel import _compression

    saved = _compression.HAVE_INDEXED_GZIP
    _compression.HAVE_INDEXED_GZIP = False  # gzip_open falls back to gzip.GzipFile
    try:
        img = nib.load(path, keep_file_open=False)
        times = []
        for k in ks:
            start = time.perf_counter()
            plane = np.asarray(img.dataobj[:, :, k], dtype=np.float32)
            times.append(time.perf_counter() - start)
            if not np.array_equal(plane, ours[k]):
                report.failed("nibabel without indexed_gzip", f"plane {k} differs")
                return
    finally:
        _compression.HAVE_INDEXED_GZIP = saved
    stats = Stats.of(times)
    ratio = stats.median / ours_median
    report.info("same planes, nibabel + gzip.GzipFile", stats, "s", note=f"{ratio:.0f}x slower")


def run(report: Report, folder: Path, quick: bool) -> None:
    shape = QUICK_SHAPE if quick else FULL_SHAPE
    report.section(f"gzip: {'x'.join(map(str, shape))} uint16 .nii.gz")
    path = workload(shape, report.note)
    report.note(
        f"{path.name}: {fmt(path.stat().st_size, 'MB')} compressed, "
        f"{fmt(int(np.prod(shape)) * 2, 'MB')} uncompressed"
    )
    gui_open(report, path)
    first_view(report, path, folder)
    first_planes(report, path)
    rng = np.random.default_rng(11)
    ks = [int(k) for k in rng.integers(0, shape[2], 15 if quick else 25)]
    ours, ours_median = indexed_reads(report, path, ks)
    plain_nibabel_reads(report, path, ks[:3], ours, ours_median)
    decompress_once(report, path)


def decompress_once(report: Report, path: Path) -> None:
    from volview.io.decompress_cache import DecompressCache
    from volview.io.images import open_image

    image = open_image(path)
    expected = image.proxy.stored_bytes
    image.close()
    with tempfile.TemporaryDirectory(dir=bench_folder()) as folder:
        cache = DecompressCache(budget_bytes=2 * expected, folder=Path(folder))
        start = time.perf_counter()
        cache.store(path, expected)
        ours = time.perf_counter() - start
    start = time.perf_counter()
    with gzip.open(path, "rb") as source:
        while source.read(16 * 2**20):
            pass
    zlib_s = time.perf_counter() - start
    report.info(
        "decompress once into the cache (whole file)",
        fmt(ours, "s"),
        note=f"gzip.GzipFile inflating alone: {zlib_s:.2f} s ({zlib_s / ours:.1f}x)",
    )


if __name__ == "__main__":
    sys.exit(run_alone(run))
