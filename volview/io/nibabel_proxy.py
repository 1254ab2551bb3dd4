"""NibabelProxy: planes of the images only nibabel can read (``.nii.gz``, ``.mgz``,
nibabel data held in memory), through ``dataobj[slicer]``.

Owns: the lock that makes those reads safe from several threads (the view, the
plane cache's worker, the background index build), and the streaming of sagittal
and coronal planes of a compressed file as axial slabs: ``read_planes`` reads all
the side planes asked for in one pass over the stream. A gzip file is read through
a ``GzipStream`` (``volview.io.gzip_stream``), which indexes itself as it is read.

Coordinate space: voxel indices, as ``volview.io.proxy`` (shapes 4-D, planes by the
voxel axis held fixed, in-plane ranges along the two other axes in ascending order).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from volview.errors import ImageReadError, describe
from volview.io.gzip_stream import GzipStream
from volview.io.proxy import (
    FULL,
    READ_ERRORS,
    check_plane_args,
    check_voxel_args,
    plane_slicer,
)

#: stored bytes read at a time when a compressed plane is streamed as axial slabs
STREAM_BLOCK_BYTES = 8 * 2**20

#: one plane read: (axis, index, t, in_plane)
PlaneJob = tuple[int, int, int, tuple[slice, slice]]
#: ``progress(job, values, n_read)``: a side plane being streamed has its first
#: ``n_read`` columns (axial indices) read; ``values`` is the live buffer (copy it)
Progress = Callable[[PlaneJob, np.ndarray, int], None]


class NibabelProxy:
    """Planes through nibabel's ``dataobj`` slicing (compressed or unusual layouts)."""

    random_access = False

    def __init__(
        self,
        path: Path,
        dataobj,
        shape: tuple[int, int, int, int],
        access: str,
        data_path: Path | None = None,
        stream_side_planes: bool = False,
        stream: GzipStream | None = None,
    ):
        self.path = Path(path)
        #: the file holding the voxels (the ``.img.gz`` of a pair; else ``path``)
        self.data_path = self.path if data_path is None else Path(data_path)
        self._dataobj = dataobj
        #: read sagittal/coronal planes as axial slabs (a compressed stream, where a
        #: read per row costs a seek each; not for data already in memory)
        self.stream_side_planes = stream_side_planes
        #: the gzip stream ``dataobj`` reads from, when volview opened one
        self.stream = stream
        # reads come from several threads (the view, the plane cache, the index build)
        self._lock = threading.RLock()
        self._ndim = len(dataobj.shape)
        self.shape = shape
        self.access = access
        #: dtype of the numbers in the file (before scaling), for voxel edits
        self.stored_dtype = np.dtype(getattr(dataobj, "dtype", np.float64))

    def _read(self, slicer: tuple[int | slice, ...]) -> np.ndarray:
        # nibabel's shape may be shorter (3-D) or carry trailing singleton axes
        index = slicer[: self._ndim] + (0,) * max(0, self._ndim - 4)
        try:
            with self._lock:
                return np.asarray(self._dataobj[index])
        except READ_ERRORS as exc:
            raise ImageReadError(
                describe(
                    self.path, f"could not read the voxel data ({exc}); is the file truncated?"
                )
            ) from exc

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        check_plane_args(self.shape, axis, index, t)
        slicer = plane_slicer(axis, index, t, in_plane)
        in_plane_axes = [ax for ax in range(3) if ax != axis]
        out_shape = tuple(
            len(range(*sl.indices(self.shape[ax])))
            for ax, sl in zip(in_plane_axes, in_plane, strict=True)
        )
        if 0 in out_shape:
            # _read drops the axes a 1-D/2-D file lacks, so it cannot return an empty crop
            return np.zeros(out_shape, dtype=np.float32)
        if self._streams(axis):
            found = []
            job = (axis, index, t, in_plane)
            self._stream_side_planes(t, [job], lambda _job, plane: found.append(plane))
            return found[0]
        data = self._read(slicer)
        return np.asarray(data.reshape(out_shape), dtype=np.float32)

    def _streams(self, axis: int) -> bool:
        return self.stream_side_planes and axis < 2 and self._ndim >= 3

    def read_planes(
        self,
        jobs: Sequence[PlaneJob],
        deliver: Callable[[PlaneJob, np.ndarray], None],
        cancelled: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> None:
        """Read the planes ``jobs`` asks for, handing each to ``deliver`` when read.

        The sagittal and coronal planes of one volume share one pass over the
        stream, which also cuts out that volume's axial planes as it passes them.
        Other planes, and axial planes the stream has already decompressed past
        (cheap to read again), are read first, one read each. ``cancelled()`` is
        polled between slabs: when it says so, the planes not yet delivered are dropped.
        ``progress`` is told after each slab how far each side plane has got.
        """
        side_ts = {job[2] for job in jobs if self._streams(job[0])}
        first = [job for job in jobs if job[2] not in side_ts or self._read_before(job)]
        for job in first:
            deliver(job, self.plane(*job))
        for t in sorted(side_ts):
            if not cancelled():
                together = [job for job in jobs if job[2] == t and job not in first]
                self._stream_side_planes(t, together, deliver, cancelled, progress)

    def _read_before(self, job: PlaneJob) -> bool:
        """An axial plane whose bytes the stream has decompressed already."""
        if job[0] != 2 or self.stream is None:
            return False
        return self._axial_offset(job[1] + 1, job[2]) <= self.stream.frontier

    def _axial_offset(self, k: int, t: int) -> int:
        """Byte offset of axial plane ``k`` of volume ``t`` in the uncompressed stream."""
        ni, nj, nk = self.shape[:3]
        plane_bytes = ni * nj * self.stored_dtype.itemsize
        return int(self._dataobj.offset) + (t * nk + k) * plane_bytes

    def _stream_side_planes(self, t, jobs, deliver, cancelled=lambda: False, progress=None):
        """Planes of volume ``t`` read as axial slabs, front to back (axial planes are
        cut out of the slab that holds them).

        A sagittal or coronal plane has a row in every axial plane. nibabel would read
        it row by row (a seek and a read per row: over a million calls for a 1024^3
        .nii.gz); one forward pass over slabs of at most ``STREAM_BLOCK_BYTES`` decompresses the
        same bytes in a few dozen reads, for all the planes at once.
        """
        for job in jobs:
            check_plane_args(self.shape, *job[:3])
        ni, nj, nk = self.shape[:3]
        plans = []  # (job, its ks, its rows, its output); slices are unhashable before 3.12
        for job in jobs:
            if job[0] == 2:
                plans.append((job, np.array([job[1]]), None, None))
                continue
            ks, rows = np.arange(nk)[job[3][1]], np.arange((nj, ni)[job[0]])[job[3][0]]
            out = np.zeros((len(rows), len(ks)), np.float32)
            if out.size:
                plans.append((job, ks, rows, out))
            else:
                deliver(job, out)
        per_k = max(ni * nj * self.stored_dtype.itemsize, 1)
        block = max(1, STREAM_BLOCK_BYTES // per_k)
        remaining = np.unique(np.concatenate([plan[1] for plan in plans] or [[]])).astype(int)
        while len(remaining):
            if cancelled():
                return
            cut = np.searchsorted(remaining, remaining[0] + block)
            first, last, remaining = int(remaining[0]), int(remaining[cut - 1]), remaining[cut:]
            slab, scaled = self._slab(first, last, t)
            for job, ks, rows, out in plans:
                inside = (ks >= first) & (ks <= last)
                if job[0] == 2 and inside.any():
                    deliver(job, scaled(slab[:, :, job[1] - first][job[3]]))
                elif inside.any():
                    part = slab[job[1]] if job[0] == 0 else slab[:, job[1]]
                    out[:, inside] = scaled(part[rows][:, ks[inside] - first])
                    if ks[-1] <= last:
                        deliver(job, out)
                    elif progress is not None:
                        progress(job, out, int(np.searchsorted(ks, last, side="right")))

    def _slab(self, first: int, last: int, t: int):
        """Axial planes ``first..last`` of volume ``t``, (ni, nj, n), and the function
        that turns a part of them into float32 values.

        From a gzip stream the stored bytes are read straight into the array (nibabel's
        slicing would copy them twice) and scaled part by part; otherwise nibabel
        reads and scales them.
        """
        ni, nj = self.shape[:2]
        if self.stream is None or getattr(self._dataobj, "order", "F") != "F":
            slab = self._read((FULL, FULL, slice(first, last + 1), t))
            return slab.reshape(ni, nj, -1), lambda part: np.asarray(part, np.float32)
        slab = np.empty(ni * nj * (last - first + 1), dtype=self._dataobj.dtype)
        start = self._axial_offset(first, t)
        view, filled = memoryview(slab).cast("B"), 0
        try:
            with self._lock:
                self.stream.seek(start)
                while filled < slab.nbytes and (got := self.stream.readinto(view[filled:])):
                    filled += got
        except READ_ERRORS as exc:
            problem = f"could not read the voxel data ({exc})"
            raise ImageReadError(describe(self.path, problem)) from exc
        if filled < slab.nbytes:
            problem = "could not read the voxel data: the file is truncated (it ends early)"
            raise ImageReadError(describe(self.data_path, problem))
        return slab.reshape((ni, nj, -1), order="F"), self._scaled

    def _scaled(self, stored: np.ndarray) -> np.ndarray:
        """Stored values as float32 with the file's scaling, as nibabel would scale them."""
        slope = float(getattr(self._dataobj, "slope", 1.0))
        inter = float(getattr(self._dataobj, "inter", 0.0))
        if (slope, inter) == (1.0, 0.0):
            return np.asarray(stored, dtype=np.float32)
        return np.asarray(stored * slope + inter, dtype=np.float32)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        check_voxel_args(self.shape, ijk, t)
        return float(self._read((ijk[0], ijk[1], ijk[2], t)).reshape(()))

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        """``dataobj[i, j, k, :]``: nibabel reads just those values and scales them."""
        check_voxel_args(self.shape, ijk, 0)
        data = self._read((ijk[0], ijk[1], ijk[2], FULL))
        return np.asarray(data, dtype=np.float64).reshape(self.shape[3])

    @property
    def stored_bytes(self) -> int:
        """Bytes of the uncompressed data file up to the end of the voxels."""
        n_values = int(np.prod(self._dataobj.shape, dtype=np.int64))
        return int(self._dataobj.offset) + n_values * self.stored_dtype.itemsize

    @property
    def lock(self) -> threading.RLock:
        """Held around every read; hold it to read ``stream`` directly."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            opener = getattr(self._dataobj, "_opener", None)
            if opener is not None:
                opener.close_if_mine()
            if self.stream is not None:
                self.stream.close()
