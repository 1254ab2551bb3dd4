"""The exact part of a slab query: read the candidate chunks and test every segment.

Owns: ``SlabTest`` (what a segment is tested against), ``Selected`` (the output
arrays) and ``exact_segments``. Given the first row, segment count and streamline of
each candidate chunk (see ``streamline_chunks``), it copies each chunk's window of
rows out of ``positions`` (one opaque item per window, whatever the alignment or
dtype of ``positions``), tests every segment against the slab and writes the selected
ones' voxel coordinates, directions, streamline and vertex ids into one set of arrays.
A large query is split in two halves by chunk, computed at once in two threads (numpy
releases the GIL); each half writes its own slice of the output.

Coordinate spaces: ``positions`` are world mm; the outputs are voxel ``ijk`` (planar:
one contiguous row per coordinate) and unit world directions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from volview.core.streamline_chunks import CHUNK_SEGMENTS, WorldToVoxel

#: threads of a large query (the caller's and one shared worker)
QUERY_THREADS = 2
#: fewer candidate chunks than this are not worth a second thread
PARALLEL_MIN_CHUNKS = 8192

_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()


@dataclass(frozen=True)
class SlabTest:
    """Segments are tested for ``to_voxel``'s coordinate ``axis`` in ``[low, high]``."""

    to_voxel: WorldToVoxel
    axis: int
    low: float
    high: float
    has_nan: bool  # positions hold NaN: segments touching one are dropped


@dataclass(frozen=True, eq=False)
class Selected:
    """The selected segments: ``planar`` rows are start ijk, end ijk, |unit direction|."""

    planar: np.ndarray  # (9, n) float32
    streamline: np.ndarray  # (n,) int64
    vertex: np.ndarray  # (n,) int64 row of each segment's first point


@dataclass(frozen=True, eq=False)
class _WindowHits:
    points: np.ndarray  # (n, W, 3) float32: the rows of each chunk's window
    first: np.ndarray  # (n,) int64: row of each window's first point
    flat: np.ndarray  # row-major indices into (n, W - 1) of the selected segments


def exact_segments(positions, test: SlabTest, start, n_segments, owners) -> Selected:
    """The segments of the chunks starting at rows ``start`` (with ``n_segments`` each,
    of streamlines ``owners``) that pass ``test``, in chunk order."""
    n = len(start)
    halves = [slice(0, n // 2), slice(n // 2, n)] if n >= PARALLEL_MIN_CHUNKS else [slice(0, n)]
    found = _in_threads(
        lambda part: _window_hits(positions, test, start[part], n_segments[part]), halves
    )
    ends = np.cumsum([0] + [len(hits.flat) for hits in found])
    out = Selected(
        np.empty((9, ends[-1]), np.float32),
        np.empty(ends[-1], np.int64),
        np.empty(ends[-1], np.int64),
    )

    def write(i: int) -> None:
        rows = slice(ends[i], ends[i + 1])
        _write_segments(found[i], owners[halves[i]], test.to_voxel, out, rows)

    _in_threads(write, range(len(halves)))
    return out


def _in_threads(function: Callable, items: Sequence) -> list:
    """``[function(item) for item in items]``, the first in this thread, the rest in the
    shared worker (exceptions propagate)."""
    if len(items) == 1:
        return [function(items[0])]
    futures = [_shared_worker().submit(function, item) for item in items[1:]]
    first = function(items[0])
    return [first] + [future.result() for future in futures]


def _shared_worker() -> ThreadPoolExecutor:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(QUERY_THREADS - 1, thread_name_prefix="volview-slab")
        return _worker


def _window_hits(positions, test: SlabTest, start, n_segments) -> _WindowHits:
    points, first = _read_windows(positions, start)
    u = test.to_voxel.axis_coordinate(points, test.axis)  # (n, W)
    # -1 below the slab, 0 inside, +1 above: a segment misses iff both ends agree
    side = (u > np.float32(test.high)).view(np.int8) - (u < np.float32(test.low)).view(np.int8)
    hit = side[:, :-1] * side[:, 1:] <= 0
    if test.has_nan:
        nan = np.isnan(points).any(axis=2)
        hit &= ~(nan[:, :-1] | nan[:, 1:])
    _drop_foreign(hit, start - first, n_segments)
    return _WindowHits(points, first, np.flatnonzero(hit))


def _read_windows(positions: np.ndarray, start: np.ndarray):
    """(points (n, W, 3) float32, first row (n,) int64): the W = CHUNK_SEGMENTS + 1 rows
    from each ``start``, moved back where they would run past the end of positions."""
    n_rows = len(positions)
    width = min(CHUNK_SEGMENTS + 1, n_rows)
    first = np.minimum(start, n_rows - width)
    if positions.flags.c_contiguous:  # each window one opaque item: a memcpy per window
        row_bytes = 3 * positions.itemsize
        windows = np.ndarray(
            (n_rows - width + 1,),
            np.dtype((np.void, width * row_bytes)),
            buffer=positions,
            strides=(row_bytes,),
        )
        points = windows[first].view(positions.dtype).reshape(-1, width, 3)
    else:
        windows = as_strided(
            positions,
            shape=(n_rows - width + 1, width, 3),
            strides=(positions.strides[0], *positions.strides),
            writeable=False,
        )
        points = windows[first]
    return points.astype(np.float32, copy=False), first


def _drop_foreign(hit: np.ndarray, local: np.ndarray, n_segments: np.ndarray) -> None:
    """Clear the hits on segments of a window that are not its chunk's own (in place).

    A chunk's segments are columns ``local .. local + n_segments - 1`` of its window;
    the others belong to the next chunk or streamline (``local`` is 0 except for
    windows moved back from the end of positions).
    """
    partial = np.flatnonzero((n_segments < hit.shape[1]) | (local > 0))
    if len(partial):
        column = np.arange(hit.shape[1])
        own = column >= local[partial, None]
        own &= column < (local + n_segments)[partial, None]
        hit[partial] &= own


def _write_segments(hits: _WindowHits, owners, to_voxel: WorldToVoxel, out: Selected, rows):
    """Write the segments of ``hits`` into rows ``rows`` of ``out``."""
    n_columns = hits.points.shape[1] - 1
    flat = hits.flat
    window, column = (flat >> 4, flat & 15) if n_columns == 16 else divmod(flat, n_columns)
    n = hits.points.shape[0] * hits.points.shape[1]  # points p and p + 1 as one 24-byte item
    pairs = np.ndarray((max(n - 1, 0),), np.dtype((np.void, 24)), hits.points, strides=(12,))
    ends = pairs[flat + window].view(np.float32).reshape(-1, 6).T  # (6, h): start, end xyz
    planar = out.planar[:, rows]
    to_voxel.ijk_planar(ends[:3], out=planar[0:3])
    to_voxel.ijk_planar(ends[3:], out=planar[3:6])
    np.subtract(ends[3:], ends[:3], out=planar[6:9])
    _unit_abs(planar[6:9])
    out.streamline[rows] = owners[window]
    np.add(hits.first[window], column, out=out.vertex[rows])


def _unit_abs(delta: np.ndarray) -> None:
    """(3, n) float32 ``delta`` -> |delta| / its length, in place; zero length stays 0."""
    squared = delta[0] * delta[0]
    squared += delta[1] * delta[1]
    squared += delta[2] * delta[2]
    np.maximum(squared, np.float32(1e-30), out=squared)
    np.sqrt(squared, out=squared)
    np.divide(1, squared, out=squared)
    np.abs(delta, out=delta)
    delta *= squared
