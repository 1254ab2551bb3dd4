"""A large .nii.gz: first view, index build, slice reads with the index, nibabel without it.

Workload: ``anatomy_<shape>.nii.gz`` (uint16 smooth blob + noise, gzip level 1),
generated once and kept under ``$TMPDIR/volview-bench/``. Full run: 1024x1024x1024
(2 GiB uncompressed); ``--quick``: 512x512x256. Figures:

- first view: process start to the three planes painted (``volview FILE
  --screenshot``, a fresh process; budget < 3 s);
- index build: ``gzip_index.build_index`` on the whole file (info);
- slice read after the index is adopted: median over random axial planes through
  ``NibabelProxy.plane`` (budget < 50 ms);
- nibabel without indexed_gzip (``nibabel._compression.HAVE_INDEXED_GZIP = False``, so
  ``gzip.GzipFile`` decompresses from the start on every read): the same planes, a
  few of them, and the ratio.

Also runnable alone: ``python -m tests.benchmarks.bench_gzip [--quick]``.
"""

from __future__ import annotations

import gzip
import os
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
    run = run_watched(cmd, cwd=REPO, env=child_env())
    if run.returncode != 0 or png_size(out) is None:
        report.failed("first view", f"exit code {run.returncode}\n{run.stderr}")
        return
    report.budget("first view (fresh process)", Stats.of([run.wall_s]), FIRST_VIEW_BUDGET_S, "s")


def indexed_reads(report: Report, path: Path, ks) -> tuple[dict, float]:
    from volview.io.gzip_index import adopt_index, build_index, index_target
    from volview.io.images import open_image

    image = open_image(path)
    try:
        start = time.perf_counter()
        index = build_index(*index_target(image.proxy))
        report.info("index build (whole file)", fmt(time.perf_counter() - start, "s"))
        adopt_index(image.proxy, index)
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
    first_view(report, path, folder)
    rng = np.random.default_rng(11)
    ks = [int(k) for k in rng.integers(0, shape[2], 15 if quick else 25)]
    ours, ours_median = indexed_reads(report, path, ks)
    plain_nibabel_reads(report, path, ks[:3], ours, ours_median)


if __name__ == "__main__":
    sys.exit(run_alone(run))
