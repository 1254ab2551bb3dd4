"""TCK (MRtrix) and TRK (TrackVis) tractograms, read in full through nibabel.

Owns: ``open_tck_trk(path) -> Tractogram``. These formats interleave counts or
delimiters with the coordinates, so they cannot be memory-mapped: streamlines are
read with ``nibabel.streamlines.load(path, lazy_load=True)`` and packed chunk by
chunk into one float32 ``positions`` array plus int64 ``offsets``, with progress and
cancel between chunks.

Coordinate space: positions are RAS+ world millimetres, voxel centres at integer
indices (nibabel's convention for both formats). TCK is RAS+ mm on disk. TRK stores
TrackVis "voxmm" coordinates (corner-based); a lazily loaded TRK yields them *raw*
from ``tractogram.data`` (nibabel only converts its ``streamlines`` generator), so
the TrackVis-to-RAS+ affine is applied here, chunk-wise. TRK's ``voxel_to_rasmm`` and
``dimensions`` come from its header; TCK has neither.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.affines import apply_affine
from nibabel.streamlines import TrkFile
from nibabel.streamlines.header import Field
from nibabel.streamlines.tractogram_file import DataError, HeaderError
from nibabel.streamlines.trk import get_affine_trackvis_to_rasmm

from volview.errors import CorruptFileError, FileAccessError, OpenCancelled, describe
from volview.io.tractogram import Cancelled, Progress, Tractogram

#: vertices gathered before a chunk is packed, progress reported and cancel polled
CHUNK_VERTICES = 1 << 18
TRK_HEADER_BYTES = 1000
#: what nibabel raises on damaged TCK/TRK files (it does not wrap these)
NIBABEL_ERRORS = (
    HeaderError,
    DataError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    struct.error,
    zlib.error,
    MemoryError,
)


class _Packer:
    """Collects streamlines (and their per-streamline/per-point data) into flat arrays."""

    def __init__(self, to_rasmm: np.ndarray | None) -> None:
        self.to_rasmm = to_rasmm
        self.chunks: list[np.ndarray] = []
        self.pending: list[np.ndarray] = []
        self.pending_vertices = 0
        self.lengths: list[int] = []
        self.dps: dict[str, list[np.ndarray]] = {}
        self.dpv: dict[str, list[np.ndarray]] = {}
        self.dps_arrays: dict[str, np.ndarray] = {}
        self.dpv_arrays: dict[str, np.ndarray] = {}

    def add(self, item) -> None:
        points = np.asarray(item.streamline)
        self.pending.append(points)
        self.pending_vertices += len(points)
        self.lengths.append(len(points))
        for key, value in item.data_for_streamline.items():
            self.dps.setdefault(key, []).append(np.asarray(value, dtype=np.float32))
        for key, value in item.data_for_points.items():
            self.dpv.setdefault(key, []).append(np.asarray(value, dtype=np.float32))

    def flush(self) -> None:
        if not self.pending:
            return
        points = np.concatenate(self.pending).reshape(-1, 3)
        if self.to_rasmm is not None:
            points = apply_affine(self.to_rasmm, points)
        self.chunks.append(points.astype(np.float32))
        self.pending, self.pending_vertices = [], 0

    def finish(self) -> None:
        """Pack what is left; may raise ValueError on inconsistent per-point data."""
        self.flush()
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        self.dps_arrays = {k: _stack(v) for k, v in self.dps.items() if v[0].size}
        self.dpv_arrays = {k: _concat(v) for k, v in self.dpv.items() if v[0].shape[-1:] != (0,)}

    def positions(self) -> np.ndarray:
        return self.chunks[0] if self.chunks else np.empty((0, 3), np.float32)

    def offsets(self) -> np.ndarray:
        offsets = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        return offsets


def open_tck_trk(
    path: Path, *, progress: Progress | None = None, cancelled: Cancelled | None = None
) -> Tractogram:
    """Read a whole TCK or TRK file into RAS+ mm float32 positions and int64 offsets."""
    if path.suffix.lower() == ".trk" and path.stat().st_size < TRK_HEADER_BYTES:
        raise CorruptFileError(
            describe(path, f"the file is truncated: a TRK header alone is {TRK_HEADER_BYTES} bytes")
        )
    tfile = _load(path, "TRK" if path.suffix.lower() == ".trk" else "TCK")
    is_trk = isinstance(tfile, TrkFile)  # nibabel trusts the magic number over the suffix
    header = tfile.header
    packer = _Packer(get_affine_trackvis_to_rasmm(header) if is_trk else None)
    kind = "TRK" if is_trk else "TCK"
    _read_all(path, kind, tfile, packer, progress, cancelled)
    return Tractogram(
        path=path,
        format_name=kind,
        positions=packer.positions(),
        offsets=packer.offsets(),
        voxel_to_rasmm=_trk_affine(header) if is_trk else None,
        dimensions=tuple(int(n) for n in header[Field.DIMENSIONS]) if is_trk else None,  # type: ignore[arg-type]
        dps=packer.dps_arrays,
        dpv=packer.dpv_arrays,
    )


def _read_all(
    path: Path,
    kind: str,
    tfile,
    packer: _Packer,
    progress: Progress | None,
    cancelled: Cancelled | None,
) -> None:
    """Feed every streamline of ``tfile`` to ``packer``, mapping nibabel's errors to ours."""
    total = _expected_count(tfile.header)
    try:
        for item in tfile.tractogram.data:
            packer.add(item)
            if packer.pending_vertices >= CHUNK_VERTICES:
                packer.flush()
                _report(path, len(packer.lengths), total, progress, cancelled)
        packer.finish()
    except OSError as exc:
        raise FileAccessError(describe(path, f"cannot read the file ({exc})")) from exc
    except NIBABEL_ERRORS as exc:
        raise CorruptFileError(describe(path, f"not a valid {kind} file ({_reason(exc)})")) from exc
    _report(path, len(packer.lengths), len(packer.lengths), progress, None)


def _load(path: Path, kind: str):
    try:
        return nib.streamlines.load(str(path), lazy_load=True)
    except OSError as exc:
        raise FileAccessError(describe(path, f"cannot read the file ({exc})")) from exc
    except NIBABEL_ERRORS as exc:
        raise CorruptFileError(describe(path, f"not a valid {kind} file ({_reason(exc)})")) from exc


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    cut_short = ("buffer is too small", "cannot reshape array", "multiple of element size")
    if isinstance(exc, TypeError | ValueError) and any(words in text for words in cut_short):
        return "the file is truncated: the data ends in the middle of a streamline"
    return text or type(exc).__name__


def _expected_count(header) -> int:
    """Streamline count announced by the header (0 when absent or unreadable)."""
    for key in (Field.NB_STREAMLINES, "count"):
        try:
            count = int(header.get(key) or 0)
        except (TypeError, ValueError):
            continue
        if count > 0:
            return count
    return 0


def _report(
    path: Path, done: int, total: int, progress: Progress | None, cancelled: Cancelled | None
) -> None:
    if progress is not None:
        progress(done, max(total, done) if total else 0)
    if cancelled is not None and cancelled():
        raise OpenCancelled(describe(path, "opening was cancelled"))


def _trk_affine(header) -> np.ndarray:
    affine = np.array(header[Field.VOXEL_TO_RASMM], dtype=np.float64)
    affine.flags.writeable = False
    return affine


def _stack(values: list[np.ndarray]) -> np.ndarray:
    """Per-streamline values (k,) each -> (N,) or (N, k)."""
    array = np.stack([v.reshape(-1) for v in values])
    return array[:, 0] if array.shape[1] == 1 else array


def _concat(values: list[np.ndarray]) -> np.ndarray:
    """Per-point values (n_i, k) each -> (V,) or (V, k)."""
    array = np.concatenate([np.atleast_2d(v.T).T for v in values])
    return array[:, 0] if array.shape[1] == 1 else array
