"""Whole-image scans, one plane at a time: data range, non-zero bounding box, histogram.

Owns: ``data_range``, ``nonzero_bbox`` and ``histogram`` (with ``ScanCancelled``).
Each reads the image through its proxy plane by plane along the last voxel axis
(contiguous on disk), for every volume ``t`` asked for, so memory stays at one plane
whatever the file size; each calls ``progress(done, total)`` after every plane and
stops with ``ScanCancelled`` as soon as ``cancelled()`` is true. Run them on a worker
thread; pass ``volview.io.uncached.uncached(proxy)`` so that a scan does not evict the planes
the views show.

Coordinate space: voxel indices ``ijk`` (the bounding box) and scaled data values
(slope/intercept applied, as the proxy returns them). Non-finite values (NaN, inf)
are left out of the range and histogram; NaN voxels do not count as non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from volview.errors import VolviewError
from volview.io.proxy import VolumeProxy

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]
BBox = tuple[tuple[int, int, int], tuple[int, int, int]]
DEFAULT_BINS = 256


class ScanCancelled(VolviewError):  # noqa: N818 - reads as what happened
    """The user cancelled a whole-image scan or load; nothing was changed."""


def no_progress(_done: int, _total: int) -> None:
    return None


def never() -> bool:
    return False


def _volumes(proxy: VolumeProxy, volumes: Sequence[int] | None) -> list[int]:
    return list(range(proxy.shape[3])) if volumes is None else [int(t) for t in volumes]


def iter_planes(
    proxy: VolumeProxy,
    volumes: Sequence[int] | None = None,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    passes: tuple[int, int] = (0, 1),
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(k, t, plane)`` for every plane ``k`` of axis 2 of each volume ``t``.

    ``passes = (this pass, number of passes)`` spreads the progress of a scan that
    reads the image more than once over one bar.
    """
    ts = _volumes(proxy, volumes)
    nk = proxy.shape[2]
    per_pass = nk * len(ts)
    done = passes[0] * per_pass
    total = passes[1] * per_pass
    for t in ts:
        for k in range(nk):
            if cancelled():
                raise ScanCancelled("the scan was cancelled")
            yield k, t, proxy.plane(2, k, t)
            done += 1
            progress(done, total)


def data_range(
    proxy: VolumeProxy,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    volumes: Sequence[int] | None = None,
    passes: tuple[int, int] = (0, 1),
) -> tuple[float, float] | None:
    """(min, max) of the finite scaled values of the image; None if it has none."""
    lo, hi = np.inf, -np.inf
    for _k, _t, plane in iter_planes(proxy, volumes, progress, cancelled, passes):
        finite = np.isfinite(plane)
        if not finite.all():
            plane = plane[finite]
        if plane.size:
            lo = min(lo, float(plane.min()))
            hi = max(hi, float(plane.max()))
    if lo > hi:
        return None
    return lo, hi


def nonzero_bbox(
    proxy: VolumeProxy,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    volumes: Sequence[int] | None = None,
) -> BBox | None:
    """Inclusive voxel corners ``(ijk_min, ijk_max)`` of the non-zero voxels of any
    volume; None when every voxel is zero (or NaN)."""
    ni, nj, _nk = proxy.shape[:3]
    rows = np.zeros(ni, dtype=bool)  # i indices with a non-zero voxel
    cols = np.zeros(nj, dtype=bool)  # j indices
    ks: set[int] = set()
    for k, _t, plane in iter_planes(proxy, volumes, progress, cancelled):
        mask = plane != 0
        mask &= ~np.isnan(plane)
        if mask.any():
            ks.add(k)
            rows |= mask.any(axis=1)
            cols |= mask.any(axis=0)
    if not ks:
        return None
    i = np.flatnonzero(rows)
    j = np.flatnonzero(cols)
    return (int(i[0]), int(j[0]), min(ks)), (int(i[-1]), int(j[-1]), max(ks))


def histogram(
    proxy: VolumeProxy,
    bins: int = DEFAULT_BINS,
    value_range: tuple[float, float] | None = None,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    volumes: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the finite values, as ``np.histogram`` of the whole image.

    Without ``value_range`` a first pass finds the data range (two passes in all).
    Values outside ``value_range`` are not counted.
    """
    n_passes = 1
    if value_range is None:
        n_passes = 2
        found = data_range(proxy, progress, cancelled, volumes, passes=(0, 2))
        # float32 like the planes: the edges np.histogram gives the whole image
        value_range = (0.0, 1.0) if found is None else tuple(np.float32(v) for v in found)
    counts = np.zeros(bins, dtype=np.int64)
    # a constant image widens to +-0.5 here, as in np.histogram
    edges = np.histogram_bin_edges(np.empty(0, np.float32), bins=bins, range=value_range)
    scan = iter_planes(proxy, volumes, progress, cancelled, passes=(n_passes - 1, n_passes))
    for _k, _t, plane in scan:
        values = plane[np.isfinite(plane)]
        # the same uniform-bin arithmetic as one np.histogram of the whole image
        counts += np.histogram(values, bins=bins, range=value_range)[0]
    return counts, edges


def format_bbox(bbox: BBox | None) -> str:
    """The bounding box in words for a dialog."""
    if bbox is None:
        return "Every voxel is zero: there is no bounding box."
    (i0, j0, k0), (i1, j1, k1) = bbox
    size = (i1 - i0 + 1, j1 - j0 + 1, k1 - k0 + 1)
    return (
        f"Non-zero voxels lie within i {i0}\u2013{i1}, j {j0}\u2013{j1}, k {k0}\u2013{k1} "
        f"(voxel indices, inclusive): {size[0]} \u00d7 {size[1]} \u00d7 {size[2]} voxels."
    )
