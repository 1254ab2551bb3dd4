"""Storage behind ``StreamlineIndex``: chunks of streamlines and their voxel bounds.

Owns: ``ChunkLayout`` (which rows of ``positions`` each chunk covers), ``WorldToVoxel``
(the float32 world -> voxel map and its rounding-error bound), ``chunk_bounds`` (the
build's one pass over ``positions``) and ``AxisBuckets`` (chunks counting-sorted by
their lower bound along one voxel axis, and subsets of them).

A chunk is a run of up to ``CHUNK_SEGMENTS`` consecutive segments of one streamline:
streamline s with n points has ``ceil((n - 1) / CHUNK_SEGMENTS)`` chunks, chunk c of it
(the ``c - first[s]``-th) starts at row ``offsets[s] + CHUNK_SEGMENTS * (c - first[s])``
and its last point is the next chunk's first. Chunks are numbered in streamline order,
so chunk ids, rows of ``positions`` and streamline ids all grow together.

Bounds are in voxel coordinates (``ijk``) times ``BOUND_SCALE``: per chunk and axis an
int16 interval ``[lo, hi]`` with ``lo <= BOUND_SCALE * min(u)`` and
``hi >= BOUND_SCALE * max(u)`` over the chunk's points' ``u = ijk[axis]``, however ``u``
is rounded in float32 (the interval is widened by ``WorldToVoxel.tolerance`` and
clipped to int16, which keeps it conservative for a query clipped the same way).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

#: segments per chunk (a query reads each chunk it touches whole)
CHUNK_SEGMENTS = 16
#: rows of positions transformed per build step (bounds the build's temporary memory)
BUILD_STEP_POINTS = 1 << 20
#: build steps computed at once (in threads: this machine class has 2 cores)
BUILD_THREADS = 2
#: bounds are stored in units of 1 / BOUND_SCALE voxel (int16: +-8191 voxels, clipped)
BOUND_SCALE = 4
#: at most this fraction of chunks may be wider than an axis's ``max_extent``
WIDE_FRACTION = 0.005
#: bins of the histogram of chunk extents (in 1 / BOUND_SCALE voxel; the last: wider)
EXTENT_BINS = 4096
#: bounds are widened by REL_TOL * (magnitude of the terms of ijk = L @ xyz + t) + ABS_TOL
#: voxels: far more than the float32 rounding of build and query (a few 1e-7 relative)
REL_TOL = 1e-5
ABS_TOL = 1e-4
INT16 = np.iinfo(np.int16)


@dataclass(frozen=True, eq=False)
class WorldToVoxel:
    """``ijk = linear @ xyz_mm + shift`` in float32, from a voxel_to_world affine."""

    linear: np.ndarray  # (3, 3) float32
    shift: np.ndarray  # (3,) float32
    term_scale: np.ndarray  # (3,) float64: |terms| of ijk[a] <= scale[a] * max|ijk| + offset[a]
    term_offset: np.ndarray  # (3,) float64

    @classmethod
    def of(cls, voxel_to_world: np.ndarray) -> WorldToVoxel:
        inverse = np.linalg.inv(voxel_to_world)
        to_world, to_voxel = np.abs(voxel_to_world), np.abs(inverse)
        # |xyz| <= |A| @ |ijk| + |T|, so |L| @ |xyz| + |t| <= scale * max|ijk| + offset
        scale = to_voxel[:3, :3] @ to_world[:3, :3].sum(axis=1)
        offset = to_voxel[:3, :3] @ to_world[:3, 3] + to_voxel[:3, 3]
        return cls(
            inverse[:3, :3].astype(np.float32), inverse[:3, 3].astype(np.float32), scale, offset
        )

    def axis_coordinate(self, xyz_mm: np.ndarray, axis: int) -> np.ndarray:
        """``ijk[..., axis]`` of (..., 3) float32 points (zero terms skipped)."""
        row = self.linear[axis]
        terms = np.flatnonzero(row)
        u = xyz_mm[..., terms[0]] * row[terms[0]]
        for column in terms[1:]:
            u += xyz_mm[..., column] * row[column]
        u += self.shift[axis]
        return u

    def ijk_planar(self, xyz_planar: np.ndarray, out: np.ndarray) -> None:
        """(3, n) float32 voxel coordinates of (3, n) float32 points, into ``out``."""
        for axis in range(3):
            row = self.linear[axis]
            terms = np.flatnonzero(row)
            np.multiply(xyz_planar[terms[0]], row[terms[0]], out=out[axis])
            for column in terms[1:]:
                out[axis] += xyz_planar[column] * row[column]
            out[axis] += self.shift[axis]

    def tolerance(self, ijk_abs_max: np.ndarray) -> np.ndarray:
        """(3, C) float32 widening of bounds for chunks whose points have
        ``max|ijk| <= ijk_abs_max`` ((C,) float32)."""
        scale = (REL_TOL * self.term_scale).astype(np.float32)
        offset = (REL_TOL * self.term_offset + ABS_TOL).astype(np.float32)
        return scale[:, None] * ijk_abs_max + offset[:, None]


@dataclass(frozen=True, eq=False)
class ChunkLayout:
    """Which rows of positions each chunk covers (see the module doc).

    Per streamline s, ``rows[s] = (offsets[s] - K * first[s], n_segments[s] + K * first[s])``
    with K = CHUNK_SEGMENTS, so that chunk c of s starts at row ``K * c + rows[s, 0]`` and
    has ``min(rows[s, 1] - K * c, K)`` segments: one 16-byte gather per chunk.
    """

    rows: np.ndarray  # (M, 2) int64
    streamline: np.ndarray  # (C,) int32: streamline of each chunk (0..M-1)
    contiguous: bool = True  # the chunks cover every row of positions, in order

    @classmethod
    def of(cls, offsets: np.ndarray, streamlines: np.ndarray | None = None) -> ChunkLayout:
        """The chunks of every streamline, or of ``streamlines`` only (sorted ids; the
        layout's streamline m is then ``streamlines[m]``)."""
        starts, n_points = offsets[:-1], np.diff(offsets)
        if streamlines is not None:
            starts, n_points = starts[streamlines], n_points[streamlines]
        n_segments = np.maximum(n_points - 1, 0)
        n_chunks = -(-n_segments // CHUNK_SEGMENTS)
        first = np.cumsum(n_chunks) - n_chunks
        rows = np.empty((len(n_segments), 2), np.int64)
        rows[:, 0] = starts - CHUNK_SEGMENTS * first
        rows[:, 1] = n_segments + CHUNK_SEGMENTS * first
        id_dtype = np.int32 if len(offsets) <= np.iinfo(np.int32).max else np.int64
        streamline = np.repeat(np.arange(len(n_segments), dtype=id_dtype), n_chunks)
        return cls(rows, streamline, streamlines is None)

    @property
    def n_chunks(self) -> int:
        return len(self.streamline)

    @property
    def n_streamlines(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.streamline.nbytes

    def extents(self, chunks: np.ndarray, streamlines: np.ndarray):
        """(first row, number of segments) of each chunk, int64."""
        pairs = self.rows.view(np.dtype((np.void, 16))).reshape(-1)[streamlines]
        rows = pairs.view(np.int64).reshape(-1, 2)
        offset = chunks.astype(np.int64) * CHUNK_SEGMENTS
        n_segments = rows[:, 1] - offset
        np.minimum(n_segments, CHUNK_SEGMENTS, out=n_segments)
        offset += rows[:, 0]
        return offset, n_segments


@dataclass(frozen=True, eq=False)
class ChunkBounds:
    """What the build's pass over positions found: per axis, chunk bounds and widths."""

    lo: list[np.ndarray]  # per axis (C,) int16 (a list: each is dropped once used)
    hi: list[np.ndarray]
    extent_counts: np.ndarray  # (3, EXTENT_BINS) int64: chunks per hi - lo (last: wider)
    lo_counts: np.ndarray  # (3, 65536) int64: chunks per lo - int16 min
    has_nan: bool


def chunk_bounds(positions, layout: ChunkLayout, to_voxel: WorldToVoxel, on_step: Callable):
    """``ChunkBounds`` of every chunk, reading ``positions`` once.

    Reads ``positions`` in steps of about ``BUILD_STEP_POINTS`` rows, ``BUILD_THREADS``
    steps at a time (numpy releases the GIL), calling ``on_step(chunks_done)`` in the
    caller's thread before the first step and after each; it may raise to stop.
    """
    found = ChunkBounds(
        [np.empty(layout.n_chunks, np.int16) for _ in range(3)],
        [np.empty(layout.n_chunks, np.int16) for _ in range(3)],
        np.zeros((3, EXTENT_BINS), np.int64),
        np.zeros((3, 1 << 16), np.int64),
        has_nan=False,
    )
    step = max(BUILD_STEP_POINTS // CHUNK_SEGMENTS, 1)
    on_step(0)
    has_nan = False
    with ThreadPoolExecutor(BUILD_THREADS) as pool:
        running: deque[Future] = deque()
        for c0 in range(0, layout.n_chunks, step):
            c1 = min(c0 + step, layout.n_chunks)
            running.append(pool.submit(_step_bounds, positions, layout, to_voxel, c0, c1, found))
            while running and (len(running) == BUILD_THREADS or c1 == layout.n_chunks):
                chunks_done, nan, extent_counts, lo_counts = running.popleft().result()
                has_nan |= nan
                found.extent_counts[...] += extent_counts
                found.lo_counts[...] += lo_counts
                on_step(chunks_done)
    return dataclasses.replace(found, has_nan=has_nan)


def _step_bounds(positions, layout, to_voxel: WorldToVoxel, c0: int, c1: int, found):
    """Fill chunks ``c0:c1`` of ``found.lo``/``found.hi``; return (``c1``,
    whether a point is NaN, and the step's share of ``extent_counts`` and ``lo_counts``)."""
    start, n_segments = layout.extents(np.arange(c0, c1), layout.streamline[c0:c1])
    block, ranges = _step_rows(positions, layout.contiguous, start, n_segments)
    ijk = to_voxel.linear @ block.T  # (3, n): each axis contiguous; shift added below
    mins = np.stack([np.minimum.reduceat(row, ranges)[0::2] for row in ijk])
    maxs = np.stack([np.maximum.reduceat(row, ranges)[0::2] for row in ijk])
    has_nan = bool(np.isnan(mins).any())
    if has_nan:  # NaN propagated: bound the other points of those chunks
        mins = np.stack([np.fmin.reduceat(row, ranges)[0::2] for row in ijk])
        maxs = np.stack([np.fmax.reduceat(row, ranges)[0::2] for row in ijk])
    mins += to_voxel.shift[:, None]
    maxs += to_voxel.shift[:, None]
    lo, hi = _integer_bounds(mins, maxs, to_voxel, has_nan)
    for axis in range(3):
        found.lo[axis][c0:c1], found.hi[axis][c0:c1] = lo[axis], hi[axis]
    extent = np.clip(hi.astype(np.int32) - lo, 0, EXTENT_BINS - 1)
    extent_counts = [np.bincount(extent[axis], minlength=EXTENT_BINS) for axis in range(3)]
    lo_counts = [
        np.bincount(lo[axis] - np.int32(INT16.min), minlength=1 << 16) for axis in range(3)
    ]
    return c1, has_nan, np.stack(extent_counts), np.stack(lo_counts)


def _step_rows(positions, contiguous: bool, start: np.ndarray, n_segments: np.ndarray):
    """The float32 rows of a build step's chunks, and the ``reduceat`` indices whose even
    entries give each chunk's points.

    A contiguous layout reads one block of ``positions``; a subset gathers only its
    chunks' rows (a chunk's last point is then read twice: once as the next's first).
    """
    ranges = np.empty(2 * len(start) - 1, np.int64)  # even: a chunk's first row
    if contiguous:
        p0, p1 = int(start[0]), int(start[-1] + n_segments[-1]) + 1
        ranges[0::2] = start - p0
        ranges[1::2] = start[:-1] + n_segments[:-1] + 1 - p0  # its stop + 1
        return np.asarray(positions[p0:p1], dtype=np.float32), ranges
    n_points = n_segments + 1
    first = np.cumsum(n_points) - n_points  # each chunk's first row in the gathered block
    rows = np.arange(int(first[-1] + n_points[-1]), dtype=np.int64)
    rows += np.repeat(start - first, n_points)
    ranges[0::2] = first
    ranges[1::2] = first[1:]
    return np.asarray(positions[rows], dtype=np.float32), ranges


def _integer_bounds(mins: np.ndarray, maxs: np.ndarray, to_voxel: WorldToVoxel, has_nan):
    """int16 scaled ``floor``/``ceil`` of (3, C) float32 extents, widened by the rounding
    error. Chunks whose points are all NaN get the empty interval ``[int16 max, int16 min]``.
    """
    ijk_abs = np.fmax(np.abs(mins), np.abs(maxs))
    tol = to_voxel.tolerance(np.fmax(np.fmax(ijk_abs[0], ijk_abs[1]), ijk_abs[2]))
    bounds = []
    for extreme, sign, rounding in ((mins, -1, np.floor), (maxs, 1, np.ceil)):
        scaled = extreme + sign * tol
        scaled *= BOUND_SCALE
        rounding(scaled, out=scaled)
        np.clip(scaled, INT16.min, INT16.max, out=scaled)
        if has_nan:
            scaled[np.isnan(scaled)] = INT16.max if sign < 0 else INT16.min
        bounds.append(scaled.astype(np.int16))
    return bounds


@dataclass(frozen=True, eq=False)
class AxisBuckets:
    """Chunks counting-sorted by their lower bound ``lo`` along one voxel axis.

    The chunks of bucket b (``lo == lo_min + b``) are
    ``order[bucket_start[b]:bucket_start[b + 1]]``, in ascending id order. Every chunk in
    ``order`` spans at most ``max_extent`` voxels; the few wider ones are in ``wide``.
    """

    lo_min: int
    bucket_start: np.ndarray  # (n_buckets + 1,) int64
    order: np.ndarray  # chunk ids
    hi: np.ndarray  # (len(order),) int16 upper bound of each chunk of `order`
    max_extent: int
    wide: np.ndarray  # ids of the chunks wider than max_extent
    wide_lo: np.ndarray  # their bounds, int16
    wide_hi: np.ndarray

    @classmethod
    def build(cls, lo: np.ndarray, hi: np.ndarray, extent_counts, lo_counts) -> AxisBuckets:
        """Buckets of the chunks with bounds ``lo``/``hi`` ((C,) int16 each), given the
        histograms of their extents (``hi - lo``, last bin: wider) and of ``lo``."""
        id_dtype = np.int32 if len(lo) <= np.iinfo(np.int32).max else np.int64
        max_extent = _extent_cap(extent_counts)
        # hi - lo > max_extent, without overflowing int16
        is_wide = hi > np.minimum(lo, INT16.max - max_extent) + np.int16(max_extent)
        wide_keys = lo[is_wide].astype(np.int32) - INT16.min
        counts = lo_counts - np.bincount(wide_keys, minlength=len(lo_counts))
        counts[-1] = 0  # lo == int16 max (clipped): with the wide chunks, at the end
        key = lo.copy()  # the wide chunks sort last: they are the wide list
        key[is_wide] = INT16.max
        del is_wide
        order = np.argsort(key, kind="stable").astype(id_dtype)  # a radix sort for int16
        used = np.flatnonzero(counts)
        first, last = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 0)
        bucket_start = np.concatenate([[0], np.cumsum(counts[first:last])])
        main, wide = order[: bucket_start[-1]], order[bucket_start[-1] :]
        lo_min = int(INT16.min) + first
        return cls(lo_min, bucket_start, main, hi[main], max_extent, wide, lo[wide], hi[wide])

    def subset(self, keep_chunk: np.ndarray) -> AxisBuckets:
        """The same buckets restricted to the chunks where ``keep_chunk`` ((C,) bool) is True."""
        keep = keep_chunk[self.order]
        starts, ends = self.bucket_start[:-1], self.bucket_start[1:]
        kept = np.add.reduceat(keep, starts, dtype=np.int64) if len(keep) else ends - starts
        kept[starts == ends] = 0  # reduceat gives keep[start] for an empty bucket
        wide = keep_chunk[self.wide]
        return AxisBuckets(
            self.lo_min,
            np.concatenate([[0], np.cumsum(kept)]),
            self.order[keep],
            self.hi[keep],
            self.max_extent,
            self.wide[wide],
            self.wide_lo[wide],
            self.wide_hi[wide],
        )

    @property
    def nbytes(self) -> int:
        arrays = (self.bucket_start, self.order, self.hi, self.wide, self.wide_lo, self.wide_hi)
        return sum(a.nbytes for a in arrays)

    def candidates(self, b_lo: int, b_hi: int) -> np.ndarray:
        """Ids of the chunks whose ``[lo, hi]`` overlaps the integer range ``[b_lo, b_hi]``."""
        n_buckets = len(self.bucket_start) - 1
        first = min(max(b_lo - self.max_extent - self.lo_min, 0), n_buckets)
        last = min(max(b_hi - self.lo_min + 1, 0), n_buckets)
        r0, r1 = self.bucket_start[first], self.bucket_start[last]
        ids = self.order[r0:r1][self.hi[r0:r1] >= b_lo]
        if len(self.wide):
            hit = (self.wide_lo <= b_hi) & (self.wide_hi >= b_lo)
            ids = np.concatenate([ids, self.wide[hit]])
        return ids


def _extent_cap(extent_counts: np.ndarray) -> int:
    """Smallest extent that at most WIDE_FRACTION of the chunks exceed (below the last bin)."""
    total = int(extent_counts.sum())
    wider = total - np.cumsum(extent_counts)  # chunks wider than each extent
    return min(int(np.argmax(wider <= WIDE_FRACTION * total)), len(extent_counts) - 2)


def build_axes(found: ChunkBounds, on_step: Callable) -> tuple[AxisBuckets, ...]:
    """The ``AxisBuckets`` of the three axes, one after the other, dropping each axis's
    bounds from ``found`` once used (less memory at once); ``on_step()`` after each."""
    axes = []
    for axis in range(3):
        lo, hi = found.lo[axis], found.hi[axis]
        found.lo[axis] = found.hi[axis] = None
        axes.append(AxisBuckets.build(lo, hi, found.extent_counts[axis], found.lo_counts[axis]))
        del lo, hi
        on_step()
    return tuple(axes)
