"""NibabelProxy: planes of the images only nibabel can read (``.nii.gz``, ``.mgz``,
nibabel data held in memory), through ``dataobj[slicer]``.

Owns: the lock that makes those reads safe from several threads (the view, the
plane cache's prefetch, a gzip index being adopted), the streaming of sagittal and
coronal planes of a compressed file as axial slabs, and the hand-over of a finished
indexed_gzip seek index (``adopt_gzip_index``; built by ``volview.io.gzip_index``).

Coordinate space: voxel indices, as ``volview.io.proxy`` (shapes 4-D, planes by the
voxel axis held fixed, in-plane ranges along the two other axes in ascending order).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
from nibabel import _compression

from volview.errors import ImageReadError, describe
from volview.io.proxy import (
    FULL,
    READ_ERRORS,
    check_plane_args,
    check_voxel_args,
    plane_slicer,
)

#: stored bytes read at a time when a compressed plane is streamed as axial slabs
STREAM_BLOCK_BYTES = 8 * 2**20


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
    ):
        self.path = Path(path)
        #: the file holding the voxels (the ``.img.gz`` of a pair; else ``path``)
        self.data_path = self.path if data_path is None else Path(data_path)
        self._dataobj = dataobj
        #: read sagittal/coronal planes as axial slabs (a compressed stream, where a
        #: read per row costs a seek each; not for data already in memory)
        self.stream_side_planes = stream_side_planes
        # reads and the adoption of a gzip index come from several threads
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
        if self.stream_side_planes and axis < 2 and self._ndim >= 3:
            return self._streamed_plane(axis, index, t, in_plane, out_shape)
        data = self._read(slicer)
        return np.asarray(data.reshape(out_shape), dtype=np.float32)

    def _streamed_plane(self, axis, index, t, in_plane, out_shape) -> np.ndarray:
        """A sagittal or coronal plane read as whole axial slabs, front to back.

        Such a plane has a row in every axial plane. nibabel would read it row by row
        (a seek and a read per row: over a million calls for a 1024^3 .nii.gz); one
        forward pass over slabs of at most ``STREAM_BLOCK_BYTES`` decompresses the
        same bytes in a few dozen reads.
        """
        ni, nj, nk = self.shape[:3]
        ks = np.arange(nk)[in_plane[1]]
        per_k = max(ni * nj * self.stored_dtype.itemsize, 1)
        block = max(1, STREAM_BLOCK_BYTES // per_k)
        out = np.empty(out_shape, dtype=np.float32)
        done = 0
        while done < len(ks):
            chunk = ks[done:][ks[done:] < ks[done] + block]
            slab = self._read((FULL, FULL, slice(int(chunk[0]), int(chunk[-1]) + 1), t))
            slab = np.asarray(slab).reshape(ni, nj, -1)[:, :, chunk - chunk[0]]
            rows = slab[index, in_plane[0]] if axis == 0 else slab[in_plane[0], index]
            out[:, done : done + len(chunk)] = rows
            done += len(chunk)
        return out

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

    def gzip_file(self):
        """The ``IndexedGzipFile`` nibabel reads from (opened by a first read), or None."""
        if not _compression.HAVE_INDEXED_GZIP:
            return None
        if getattr(self._dataobj, "_opener", None) is None:
            self._read((0, 0, 0, 0))  # nibabel opens its file on the first read
        fobj = getattr(getattr(self._dataobj, "_opener", None), "fobj", None)
        return fobj if isinstance(fobj, _compression.IndexedGzipFile) else None

    def adopt_gzip_index(self, index: bytes) -> None:
        """Replace the seek index of the gzip file being read by ``index`` (exported
        by ``indexed_gzip`` from another file object on the same file)."""
        with self._lock:
            fobj = self.gzip_file()
            if fobj is None:
                raise ValueError(f"{self.data_path.name} is not read through indexed_gzip")
            fobj.import_index(fileobj=io.BytesIO(index))

    def close(self) -> None:
        opener = getattr(self._dataobj, "_opener", None)
        if opener is not None:
            with self._lock:
                opener.close_if_mine()
