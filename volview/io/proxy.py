"""Array proxies: read one plane, one voxel or one voxel's time course of a 4-D image.

Owns: the ``VolumeProxy`` protocol and its implementations

- ``MemmapProxy``  uncompressed data: a read-only ``mmap`` of the *unscaled* voxels
  (any byte order, Fortran or C order), scaling applied to the plane that was read;
- (``NibabelProxy``, for what only nibabel can read, is in ``nibabel_proxy``);
- ``ArrayProxy``   an array already in RAM;
- ``RescaledProxy`` another proxy seen through a different slope/intercept.

Coordinate space: voxel indices. Shapes are always 4-D ``(ni, nj, nk, nt)``. A plane
is addressed by the voxel axis held fixed (0, 1 or 2), its index and the volume ``t``;
its two remaining voxel axes come back in ascending order, each optionally restricted
by a slice (start, stop, step) so that callers can read a strided or cropped plane.
A time course (``series``) is one voxel ``ijk`` through all ``nt`` volumes, read as
one strided index: ``nt`` values, never ``nt`` volumes. Nothing here reads a whole
volume.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

FULL = slice(None)
#: a memory map up to this size may stay mapped whole; a larger one unmaps the pages
#: of each plane it read (they stay in the kernel's page cache)
RESIDENT_BYTES = 2**30
#: ... reading such a plane in pieces whose pages span at most this many bytes
PIECE_BYTES = 64 * 2**20

#: exceptions that a broken compressed stream or a vanished file raises while reading
READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)


@runtime_checkable
class VolumeProxy(Protocol):
    """Lazy access to a 4-D voxel array; every read returns scaled float32 values."""

    shape: tuple[int, int, int, int]
    #: how the data is being read, in words for the status bar
    access: str
    #: True when any plane costs about the same (no need to decompress up to it)
    random_access: bool

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        """Read the plane ``axis == index`` of volume ``t`` as scaled float32."""
        ...

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        """Read one scaled voxel value at full precision."""
        ...

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        """Read voxel ``ijk`` of every volume: scaled float64 of shape ``(nt,)``."""
        ...

    def close(self) -> None:
        """Release the file or memory behind the proxy."""
        ...


def plane_slicer(
    axis: int, index: int, t: int, in_plane: tuple[slice, slice]
) -> tuple[int | slice, ...]:
    """Build the 4-D index tuple for plane ``axis == index`` of volume ``t``."""
    if axis not in (0, 1, 2):
        raise ValueError(f"plane axis must be 0, 1 or 2, not {axis}")
    others = iter(in_plane)
    spatial = tuple(index if ax == axis else next(others) for ax in range(3))
    return (*spatial, t)


def dense_span(view: np.ndarray) -> int | None:
    """Bytes from a view's first to its last element, or None if a page-sized gap skips pages.

    A view with no gap of a whole page between the bytes it reads needs every page
    it spans, so reading the whole span at once costs nothing extra.
    """
    if any(stride < 0 for stride in view.strides):
        return None
    reach = view.itemsize
    for stride, n in sorted((s, n) for s, n in zip(view.strides, view.shape, strict=True)):
        if n == 1:
            continue
        if stride - reach >= mmap.PAGESIZE:
            return None
        reach += stride * (n - 1)
    return reach


def touched_pages(view: np.ndarray, base: int) -> tuple[int, int]:
    """Page-aligned (start, length) of the bytes a view of a map at address ``base`` spans."""
    lo = hi = view.__array_interface__["data"][0] - base
    for stride, n in zip(view.strides, view.shape, strict=True):
        reach = stride * (n - 1)
        lo, hi = lo + min(0, reach), hi + max(0, reach)
    aligned = lo - lo % mmap.PAGESIZE
    return aligned, hi + view.itemsize - aligned


def check_voxel_args(shape: tuple[int, ...], ijk: tuple[int, int, int], t: int) -> None:
    if not all(0 <= v < n for v, n in zip((*ijk, t), shape, strict=True)):
        raise IndexError(f"voxel {tuple(ijk)} of volume {t} outside the image {shape}")


def check_plane_args(shape: tuple[int, ...], axis: int, index: int, t: int) -> None:
    if not 0 <= index < shape[axis]:
        raise IndexError(f"plane index {index} outside 0..{shape[axis] - 1} on axis {axis}")
    if not 0 <= t < shape[3]:
        raise IndexError(f"volume {t} outside 0..{shape[3] - 1}")


class MemmapProxy:
    """Planes of uncompressed voxel data through a read-only memory map.

    The file is mapped once, read-only; ``MADV_RANDOM`` stops the kernel from
    reading ahead around every page a strided (coronal) plane touches, while a plane
    that needs every page it spans (axial; sagittal when rows are shorter than a
    page) asks for exactly that range, sequentially, with ``MADV_WILLNEED``.

    Pages a read touched stay mapped, and count in the process's resident set, until
    the kernel needs them back. A sagittal plane of a 16 GiB file touches a page in
    every row: about 1 GiB even at stride 4. A map larger than ``resident_bytes`` is
    therefore read in pieces whose pages span at most ``PIECE_BYTES``, and each
    piece's pages are unmapped (``MADV_DONTNEED``) once copied. They stay in the page
    cache, so reading them again costs minor faults, not disk reads; a smaller map
    keeps its pages, because faulting 512 MiB back in costs a sagittal plane about
    2 ms more.
    """

    access = "memory-mapped"
    random_access = True

    def __init__(
        self,
        path: Path,
        shape: tuple[int, int, int, int],
        dtype: np.dtype,
        offset: int,
        slope: float = 1.0,
        inter: float = 0.0,
        order: str = "F",
        resident_bytes: int = RESIDENT_BYTES,
    ) -> None:
        self.path = Path(path)
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.offset = int(offset)
        self.slope = float(slope)
        self.inter = float(inter)
        self.order = order  # memory order of the voxels in the file ("F" or "C")
        self.resident_bytes = int(resident_bytes)
        with open(self.path, "rb") as f:
            self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_RANDOM"):
            self._mmap.madvise(mmap.MADV_RANDOM)
        self._array = np.ndarray(
            shape, dtype=self.dtype, buffer=self._mmap, offset=self.offset, order=order
        )
        #: address of the map's first byte: a view's address minus this is a file offset
        self._base = self._array.__array_interface__["data"][0] - self.offset

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        check_plane_args(self.shape, axis, index, t)
        view = self._array[plane_slicer(axis, index, t, in_plane)]
        out = np.empty_like(view, dtype=np.float32)  # same memory order: a fast copy
        if len(self._mmap) <= self.resident_bytes:
            self._copy(out, view)
        else:
            for piece in self._pieces(view):
                self._copy(out[piece], view[piece])
                self._advise("MADV_DONTNEED", touched_pages(view[piece], self._base))
        return self._scale(out)

    def _copy(self, out: np.ndarray, view: np.ndarray) -> None:
        """Copy a view of the map into ``out``, asking for its pages in bulk when dense."""
        pages = self._dense_pages(view)
        if pages is None:
            out[...] = view
            return
        # read the range in bulk: under MADV_RANDOM every page would fault in on its
        # own, which makes a sagittal plane of a large file take many seconds
        self._advise("MADV_SEQUENTIAL", pages)
        self._advise("MADV_WILLNEED", pages)
        try:
            out[...] = view
        finally:
            self._advise("MADV_RANDOM", pages)

    def _pieces(self, view: np.ndarray) -> list[tuple[slice, ...]]:
        """Split a plane along its slowest axis into pieces spanning <= PIECE_BYTES."""
        if view.ndim == 0 or view.size == 0:
            return [()]
        slow = int(np.argmax(np.abs(view.strides)))
        piece_bytes = min(PIECE_BYTES, self.resident_bytes)
        per_piece = max(1, piece_bytes // max(1, abs(view.strides[slow])))
        lead = (slice(None),) * slow
        return [
            (*lead, slice(start, start + per_piece))
            for start in range(0, view.shape[slow], per_piece)
        ]

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        check_voxel_args(self.shape, ijk, t)
        raw = self._array[ijk[0], ijk[1], ijk[2], t]
        return float(raw) * self.slope + self.inter

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        check_voxel_args(self.shape, ijk, 0)
        view = self._array[ijk[0], ijk[1], ijk[2], :]
        self._prefetch(view)
        return scale_series(view, self.slope, self.inter)

    def _prefetch(self, view: np.ndarray) -> None:
        """Ask for every page a 1-D view touches before reading it (``MADV_WILLNEED``).

        One value per volume, a volume apart: without this each page faults in on its
        own, one disk read after another (about 20 ms for 300 volumes from a cold
        cache here); asked for together, the reads overlap (about 4 ms).
        """
        pages = self._dense_pages(view)
        if pages is not None:  # volumes smaller than a page: one range
            self._advise("MADV_WILLNEED", pages)
            return
        first = view.__array_interface__["data"][0] - self._base
        starts = first + view.strides[0] * np.arange(len(view), dtype=np.int64)
        in_page = starts % mmap.PAGESIZE
        for start, skip in zip((starts - in_page).tolist(), in_page.tolist(), strict=True):
            self._advise("MADV_WILLNEED", (start, skip + view.itemsize))

    def _scale(self, out: np.ndarray) -> np.ndarray:
        """Apply the scaling in place to float32 values copied from the map."""
        if self.slope != 1.0:
            out *= np.float32(self.slope)
        if self.inter != 0.0:
            out += np.float32(self.inter)
        return out

    def _dense_pages(self, view: np.ndarray) -> tuple[int, int] | None:
        """Page-aligned (start, length) in the map of a view that needs every page it spans."""
        span = dense_span(view)
        if span is None or view.size == 0:
            return None
        start = view.__array_interface__["data"][0] - self._base
        aligned = start - start % mmap.PAGESIZE
        return aligned, start - aligned + span

    def _advise(self, name: str, pages: tuple[int, int]) -> None:
        """``madvise`` a byte range, where the platform has that advice."""
        advice = getattr(mmap, name, None)
        if advice is not None:
            self._mmap.madvise(advice, *pages)

    def close(self) -> None:
        self._array = None  # drop the buffer export before closing the map
        # a plane view handed out earlier may still reference the map
        with contextlib.suppress(BufferError):
            self._mmap.close()


class ArrayProxy:
    """A 4-D array that is already in memory (small images, tests, scripts)."""

    access = "in RAM"
    random_access = True

    def __init__(self, array: np.ndarray) -> None:
        array = np.asanyarray(array)
        if array.ndim > 4 or array.ndim == 0:
            raise ValueError(f"expected a 1-D to 4-D array, got {array.ndim}-D")
        self._array = array.reshape(array.shape + (1,) * (4 - array.ndim))
        self.shape = tuple(int(n) for n in self._array.shape)
        #: dtype of the numbers held (no scaling), for voxel edits
        self.stored_dtype = self._array.dtype

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        check_plane_args(self.shape, axis, index, t)
        return np.array(self._array[plane_slicer(axis, index, t, in_plane)], dtype=np.float32)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        check_voxel_args(self.shape, ijk, t)
        return float(self._array[ijk[0], ijk[1], ijk[2], t])

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        check_voxel_args(self.shape, ijk, 0)
        return np.array(self._array[ijk[0], ijk[1], ijk[2], :], dtype=np.float64)

    def close(self) -> None:
        self._array = np.zeros((1, 1, 1, 1), dtype=np.float32)


class RescaledProxy:
    """Another proxy's voxels under a different slope/intercept (a header edit's preview).

    ``base`` applies ``base_scaling``; values come back as if ``scaling`` had been
    applied to the stored numbers instead. Closing this proxy closes ``base``.
    """

    def __init__(
        self,
        base: VolumeProxy,
        base_scaling: tuple[float, float],
        scaling: tuple[float, float],
    ) -> None:
        (slope0, inter0), (slope1, inter1) = base_scaling, scaling
        if slope0 == 0:
            raise ValueError("the base proxy's slope must not be zero")
        self.base = base
        self.base_scaling = base_scaling
        self.shape = base.shape
        self.access = base.access
        self.random_access = base.random_access
        self._gain = slope1 / slope0
        self._offset = inter1 - inter0 * slope1 / slope0

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        out = self.base.plane(axis, index, t, in_plane)
        out *= np.float32(self._gain)
        out += np.float32(self._offset)
        return out

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        return self.base.value(ijk, t) * self._gain + self._offset

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        return self.base.series(ijk) * self._gain + self._offset

    def close(self) -> None:
        self.base.close()


def scale_series(raw: np.ndarray, slope: float, inter: float) -> np.ndarray:
    """``raw * slope + inter`` in float64 (a copy: ``raw`` may be a view of a memory map)."""
    out = np.array(raw, dtype=np.float64)
    if slope != 1.0:
        out *= slope
    if inter != 0.0:
        out += inter
    return out


def file_size(path: str | os.PathLike) -> int:
    """Size of a file in bytes (sparse files report their apparent size)."""
    return os.stat(path).st_size
