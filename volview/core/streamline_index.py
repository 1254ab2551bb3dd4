"""Streamline slab index: which segments of a tractogram touch a slab of a voxel grid.

Owns: ``Slab``, ``Segments``, ``StreamlineIndex`` (built once per tractogram and image
grid, in a background thread; queried on every slice change), ``subsample`` and
``BuildCancelled``. Its storage is in ``streamline_chunks``, the exact test of a
query's candidates in ``streamline_query``.

Coordinate spaces
- ``positions``: world RAS+ millimetres (``xyz_mm``), shape (N, 3), any float dtype,
  usually a read-only ``np.memmap`` of a file larger than we want in RAM. Nothing
  here reads it whole at once: the build reads it in steps of about a million
  rows, a query reads only the rows of the chunks near its slab.
- ``ijk``: continuous voxel coordinates of the image grid,
  ``ijk = inverse(voxel_to_world) @ [x, y, z, 1]``; voxel centres are integers.
  Any invertible affine works (oblique, flipped, anisotropic).

Selection rule. Segment ``v`` of a streamline joins its rows ``v`` and ``v + 1`` of
``positions``. With ``u0, u1`` the ``ijk[slab.axis]`` of those two points, the segment
is selected iff the closed intervals ``[min(u0, u1), max(u0, u1)]`` and
``[depth - half_width, depth + half_width]`` overlap. ``u`` is computed in float32
from the positions rounded to float32 (float16 and float32 positions are exact), so a
segment within about 1e-5 voxel of a slab edge may fall either way. A segment with a
NaN point is never selected; streamlines with fewer than two points have no segments.

An index may hold only some streamlines (``build(..., streamlines=ids)``, e.g. the
subsample a viewer draws): its build reads only their rows, its queries return only
them, always under their ids in the whole tractogram.

How a query works (the index layout is in ``streamline_chunks``): each streamline's
segments are cut into chunks of up to 16; per voxel axis, chunks are counting-sorted
by the lower bound of their extent, rounded down to a quarter voxel. A query takes the
chunks whose rounded bounds overlap the slab, keeps those of the shown streamlines
(the buckets of the last subset asked for are cached), then ``streamline_query`` reads
those chunks' rows of ``positions`` in file order and tests every segment exactly (in
two threads).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from volview.core.streamline_chunks import (
    BOUND_SCALE,
    INT16,
    AxisBuckets,
    ChunkLayout,
    WorldToVoxel,
    build_axes,
    chunk_bounds,
)
from volview.core.streamline_query import SlabTest, exact_segments


class BuildCancelled(Exception):  # noqa: N818 (not an error: the user asked for it)
    """``StreamlineIndex.build`` stopped early because ``cancelled()`` returned True."""


@dataclass(frozen=True)
class Slab:
    """The voxels within ``half_width`` of ``depth`` along voxel ``axis`` (0, 1 or 2)."""

    axis: int
    depth: float
    half_width: float = 1.0

    def __post_init__(self) -> None:
        if self.axis not in (0, 1, 2):
            raise ValueError(f"slab axis must be 0, 1 or 2, not {self.axis!r}")
        if not (math.isfinite(self.depth) and self.half_width >= 0):
            raise ValueError(f"a slab needs a finite depth and half_width >= 0: {self}")

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) voxel coordinate of the slab, rounded to float32 as ``u`` is."""
        return (
            float(np.float32(self.depth - self.half_width)),
            float(np.float32(self.depth + self.half_width)),
        )


@dataclass(frozen=True, eq=False)
class Segments:
    """Segments (pairs of consecutive points of one streamline) that touch a slab."""

    start_ijk: np.ndarray  # (n, 3) float32 voxel coordinates of the first point
    end_ijk: np.ndarray  # (n, 3) float32 voxel coordinates of the second point
    streamline: np.ndarray  # (n,) int64 streamline index
    vertex: np.ndarray  # (n,) int64 row of the first point in positions (for dpv)
    direction: np.ndarray  # (n, 3) float32 |unit world direction|; 0 for zero length

    # The (n, 3) arrays of a query are column-major views: ``start_ijk[:, c]`` is contiguous.

    def __len__(self) -> int:
        return len(self.streamline)

    @classmethod
    def empty(cls) -> Segments:
        points = np.empty((0, 3), np.float32)
        ids = np.empty(0, np.int64)
        return cls(points, points.copy(), ids, ids.copy(), points.copy())


def subsample(n_streamlines: int, cap: int | None, seed: int = 0) -> np.ndarray:
    """Sorted int64 ids of ``min(cap, n_streamlines)`` streamlines (cap None: all).

    Deterministic for a given ``seed``, and nested: the subset for a smaller cap is
    contained in the subset for a larger one (both are prefixes of one permutation).
    """
    if cap is None or cap >= n_streamlines:
        return np.arange(n_streamlines, dtype=np.int64)
    if cap < 0:
        raise ValueError(f"cap must be >= 0 or None, not {cap}")
    order = np.random.default_rng(seed).permutation(n_streamlines)
    return np.sort(order[:cap]).astype(np.int64, copy=False)


@dataclass(eq=False)
class _SubsetBuckets:
    """The per-axis buckets of one subset of streamlines (built per axis on first use)."""

    shown: np.ndarray  # (M,) bool
    keep_chunk: np.ndarray  # (C,) bool
    axes: list = field(default_factory=lambda: [None, None, None])

    @property
    def nbytes(self) -> int:
        arrays = [self.shown, self.keep_chunk]
        return sum(a.nbytes for a in arrays) + sum(b.nbytes for b in self.axes if b is not None)


@dataclass(frozen=True, eq=False)
class StreamlineIndex:
    """Chunk bounds of a tractogram on one image grid; ``query`` selects a slab's segments.

    Holds a reference to ``positions`` (not a copy) and reads from it on every query.
    Queries may come from any one thread at a time.
    """

    positions: np.ndarray  # (N, 3) world mm, as given
    shape: tuple[int, int, int]  # the grid the slabs refer to
    voxel_to_world: np.ndarray  # (4, 4) float64
    to_voxel: WorldToVoxel
    layout: ChunkLayout
    axes: tuple[AxisBuckets, AxisBuckets, AxisBuckets]
    has_nan: bool
    n_streamlines: int  # in the tractogram
    indexed: np.ndarray | None  # sorted ids of the streamlines indexed; None: all
    _subset: list = field(default_factory=lambda: [None], repr=False)  # [_SubsetBuckets]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        positions,
        offsets,
        voxel_to_world: np.ndarray,
        shape: tuple[int, int, int],
        *,
        streamlines: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> StreamlineIndex:
        """Index ``positions`` (the rows of streamline s are ``offsets[s]:offsets[s + 1]``).

        ``streamlines``: the ids to index (any order; None: all). Queries return only
        those; indexing a subsample reads only its rows, so it is that much faster.
        Reads those rows once, a step of about a million at a time, calling
        ``progress(done, total)`` after each step; the last call has ``done == total``.
        Raises ``BuildCancelled`` as soon as ``cancelled()`` returns True, and
        ``ValueError`` for inconsistent inputs.
        """
        positions = _checked_positions(positions)
        offsets = _checked_offsets(offsets, len(positions))
        voxel_to_world = _checked_affine(voxel_to_world)
        indexed = _checked_ids(streamlines, len(offsets) - 1)
        layout = ChunkLayout.of(offsets, indexed)
        total = layout.n_chunks

        def on_step(done: int) -> None:
            if cancelled is not None and cancelled():
                raise BuildCancelled("building the streamline index was cancelled")
            if progress is not None and done < total:
                progress(done, total)

        to_voxel = WorldToVoxel.of(voxel_to_world)
        found = chunk_bounds(positions, layout, to_voxel, on_step)
        axes = build_axes(found, lambda: on_step(total))
        if progress is not None:
            progress(total, total)
        shape = tuple(int(n) for n in shape)
        return cls(
            positions,
            shape,
            voxel_to_world,
            to_voxel,
            layout,
            axes,
            found.has_nan,
            len(offsets) - 1,
            indexed,
        )

    def covers(self, streamlines: np.ndarray) -> bool:
        """Whether every streamline of ``streamlines`` (sorted ids) is indexed."""
        if self.indexed is None or len(streamlines) == 0:
            return True
        if len(self.indexed) == 0:
            return False
        found = np.searchsorted(self.indexed, streamlines)
        found[found == len(self.indexed)] = 0
        return bool(np.array_equal(self.indexed[found], streamlines))

    @property
    def nbytes(self) -> int:
        """Bytes the index holds, including the cached buckets of the last subset."""
        subset = self._subset[0]
        return (
            self.layout.nbytes
            + sum(axis.nbytes for axis in self.axes)
            + (subset.nbytes if subset is not None else 0)
            + (self.indexed.nbytes if self.indexed is not None else 0)
        )

    def query(self, slab: Slab, streamlines: np.ndarray | None = None) -> Segments:
        """The segments that touch ``slab`` (see the module's selection rule).

        ``streamlines``: the streamlines to include, as int ids (any order) or a bool
        mask of length ``n_streamlines``; None includes all. Streamlines that are not
        indexed are left out. The first query with a new subset also filters the index
        for it (tens of ms per axis, cached for the next queries). Segments come in
        file order.
        """
        q_lo, q_hi = slab.bounds
        buckets = self._buckets(slab.axis, streamlines)
        chunks = buckets.candidates(
            _clip_int16(math.ceil(q_lo * BOUND_SCALE)), _clip_int16(math.floor(q_hi * BOUND_SCALE))
        )
        if len(chunks) == 0:
            return Segments.empty()
        chunks = np.sort(chunks, kind="stable")  # runs of ascending ids: read in file order
        owners = self.layout.streamline[chunks]
        start, n_segments = self.layout.extents(chunks, owners)
        if self.indexed is not None:
            owners = self.indexed[owners]
        test = SlabTest(self.to_voxel, slab.axis, q_lo, q_hi, self.has_nan)
        selected = exact_segments(self.positions, test, start, n_segments, owners)
        planar = selected.planar
        return Segments(
            start_ijk=planar[0:3].T,
            end_ijk=planar[3:6].T,
            streamline=selected.streamline,
            vertex=selected.vertex,
            direction=planar[6:9].T,
        )

    def _buckets(self, axis: int, streamlines) -> AxisBuckets:
        if streamlines is None:
            return self.axes[axis]
        shown = self._shown(streamlines)
        with self._lock:
            subset = self._subset[0]
            if subset is None or not np.array_equal(subset.shown, shown):
                if shown.all():
                    return self.axes[axis]
                subset = _SubsetBuckets(shown.copy(), shown[self.layout.streamline])
                self._subset[0] = subset
            if subset.axes[axis] is None:
                subset.axes[axis] = self.axes[axis].subset(subset.keep_chunk)
            return subset.axes[axis]

    def _shown(self, streamlines) -> np.ndarray:
        """Which of the indexed streamlines (layout order) ``streamlines`` includes."""
        shown = np.asarray(streamlines)
        if shown.dtype == bool:
            if shown.shape != (self.n_streamlines,):
                raise ValueError(f"a streamline mask needs {self.n_streamlines} values")
        else:
            mask = np.zeros(self.n_streamlines, bool)
            mask[shown] = True
            shown = mask
        return shown if self.indexed is None else shown[self.indexed]


def _checked_positions(positions) -> np.ndarray:
    if not hasattr(positions, "dtype"):
        positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.dtype.kind != "f":
        raise ValueError(
            f"positions must be an (N, 3) float array, not {positions.shape} {positions.dtype}"
        )
    return positions


def _checked_offsets(offsets, n_rows: int) -> np.ndarray:
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or len(offsets) == 0 or offsets.dtype.kind not in "iu":
        raise ValueError(f"offsets must be a 1-D integer array of M + 1 values: {offsets.shape}")
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != n_rows or np.any(offsets[1:] < offsets[:-1]):
        raise ValueError(
            f"offsets must rise from 0 to the number of points ({n_rows}); "
            f"they go from {offsets[0]} to {offsets[-1]}"
        )
    return offsets


def _checked_ids(streamlines, n_streamlines: int) -> np.ndarray | None:
    if streamlines is None:
        return None
    ids = np.unique(np.asarray(streamlines, dtype=np.int64))
    if len(ids) and (ids[0] < 0 or ids[-1] >= n_streamlines):
        raise ValueError(f"streamline ids must be in [0, {n_streamlines}): {ids[0]}..{ids[-1]}")
    return ids


def _checked_affine(voxel_to_world) -> np.ndarray:
    affine = np.asarray(voxel_to_world, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise ValueError(f"voxel_to_world must be a finite 4x4 matrix, not {affine.shape}")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError("voxel_to_world is singular")
    return affine


def _clip_int16(value: int) -> int:
    return min(max(value, INT16.min), INT16.max)
