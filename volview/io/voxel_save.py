"""Writing voxel edits: in place into a memory-mapped file, or Save As to a new file.

Owns: ``read_only_reason`` (why a file cannot take edits in place), ``save_in_place``
(write the edited voxels' bytes into an uncompressed NIfTI/Analyze data file),
``save_file_as`` (a file of any format nibabel reads, plus edits, to a new file) and
``save_array_as`` (an image given in memory, plus edits, to a new NIfTI file).

Coordinate space: edits come as ``keys`` (N, 4) voxel indices ``(i, j, k, t)`` with
either the *stored* numbers (in the file's dtype, before scaling) or scaled values.

Invariants:

- a file is opened for writing only here, only at save time (``O_RDWR``, never
  ``O_TRUNC`` or ``O_CREAT``); in place, exactly the bytes of the edited voxels are
  written (consecutive voxels in one write), in the file's byte order, then fsynced;
  no other byte of the file changes;
- Save As reads the whole image (through nibabel: run it in the background), writes
  ``.<name>.volview-tmp-<pid><suffix>`` in the target folder, fsyncs it and
  ``os.replace``s it onto the target; an error or a cancel removes the temporary file.
  It never writes over the source image.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np

from volview.errors import SaveCancelled, VolviewError, describe
from volview.io.header_rewrite import fsync_dir, why
from volview.io.images import image_suffix
from volview.io.proxy import MemmapProxy, VolumeProxy

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]
NIFTI_SUFFIXES = (".nii", ".nii.gz")
MGH_SUFFIXES = (".mgh", ".mgz")
#: volumes of this many bytes or fewer are read in one go by Save As
READ_CHUNK_BYTES = 16 * 2**20


class VoxelSaveError(VolviewError):
    """Writing voxel edits failed or was refused; the message says whether the file changed."""


def is_writable(path: str | os.PathLike) -> bool:
    """True if this process may write ``path`` (``os.access(path, W_OK)``)."""
    return os.access(path, os.W_OK)


def read_only_reason(path: str | os.PathLike) -> str | None:
    """Why edits cannot be saved into ``path`` itself, or None if they can."""
    if not is_writable(path):
        return describe(
            path,
            "is read-only (no write permission), so edits cannot be saved into it: "
            "you can edit and Save As a new file",
        )
    return None


# -- in place ------------------------------------------------------------------------


def file_offsets(proxy: MemmapProxy, keys: np.ndarray) -> np.ndarray:
    """Byte offset in ``proxy``'s data file of each voxel ``keys[n] = (i, j, k, t)``."""
    order = getattr(proxy, "order", "F")
    flat = np.ravel_multi_index(tuple(np.asarray(keys, np.int64).T), proxy.shape, order=order)
    return proxy.offset + flat.astype(np.int64) * proxy.dtype.itemsize


def save_in_place(proxy: MemmapProxy, keys: np.ndarray, numbers: np.ndarray) -> int:
    """Write stored ``numbers`` of voxels ``keys`` into the file behind ``proxy``.

    Returns the number of bytes written. Runs of consecutive voxels go in one write;
    the file is fsynced before this returns. Raises ``VoxelSaveError`` if the file
    cannot be opened for writing, has changed size, or a write fails.
    """
    path = proxy.path
    if len(keys) == 0:
        return 0
    data = np.asarray(numbers).astype(proxy.dtype)  # the file's byte order
    offsets = file_offsets(proxy, keys)
    order = np.argsort(offsets, kind="stable")
    offsets, data = offsets[order], data[order]
    needed = proxy.offset + int(np.prod(proxy.shape, dtype=np.int64)) * proxy.dtype.itemsize
    with _open_for_write(path) as fd:
        size = os.fstat(fd).st_size
        if size < needed:
            raise VoxelSaveError(
                describe(path, f"the file is now {size:,} bytes, shorter than when it was opened")
            )
        written = 0
        try:
            for start, stop in _runs(offsets, proxy.dtype.itemsize):
                written += _pwrite_all(fd, data[start:stop].tobytes(), int(offsets[start]))
            os.fsync(fd)
        except OSError as exc:
            raise VoxelSaveError(
                describe(path, f"writing the edited voxels failed ({why(exc)}); some may be saved")
            ) from exc
    return written


def _runs(offsets: np.ndarray, itemsize: int):
    """``(start, stop)`` index ranges of sorted offsets that are consecutive voxels."""
    breaks = np.flatnonzero(np.diff(offsets) != itemsize) + 1
    edges = [0, *breaks.tolist(), len(offsets)]
    return itertools.pairwise(edges)


@contextlib.contextmanager
def _open_for_write(path: Path):
    try:
        fd = os.open(path, os.O_RDWR)  # never O_TRUNC, never O_CREAT
    except OSError as exc:
        problem = f"cannot open the file for writing ({why(exc)}); nothing was saved"
        raise VoxelSaveError(describe(path, problem)) from exc
    try:
        yield fd
    finally:
        os.close(fd)


def _pwrite_all(fd: int, data: bytes, offset: int) -> int:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)
    return done


# -- Save As ---------------------------------------------------------------------------


def save_file_as(
    source: Path,
    keys: np.ndarray,
    numbers: np.ndarray,
    destination: Path,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Path:
    """Write the image in ``source`` with stored ``numbers`` at voxels ``keys`` to
    ``destination`` (same format family; header, dtype and scaling kept).

    Reads the whole image: call it from a background task.
    """
    source, destination = Path(source), Path(destination)
    img = nib.load(source)
    out_class = _output_class(img, source, destination)
    _check_not_source(source, img, destination)
    raw = read_stored(img, source, progress, cancelled)
    if len(keys):
        raw[_index(keys, raw.ndim)] = np.asarray(numbers).astype(raw.dtype)
    out = out_class(raw, img.affine, img.header)
    out.header.set_data_dtype(raw.dtype)
    if out_class is not nib.MGHImage:
        out.header.set_slope_inter(*_slope_inter(img.dataobj))
    return _write_atomically(out, destination, cancelled)


def save_array_as(
    proxy: VolumeProxy,
    affine: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    destination: Path,
    *,
    name: str = "image",
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Path:
    """Write an image held in memory (read plane by plane through ``proxy``, scaled
    float32) with scaled ``values`` at ``keys`` to a new NIfTI file ``destination``."""
    destination = Path(destination)
    if image_suffix(destination) not in NIFTI_SUFFIXES:
        raise VoxelSaveError(describe(destination, "choose a .nii or .nii.gz name"))
    nk, nt = proxy.shape[2:]
    data = np.empty(proxy.shape, dtype=np.float32, order="F")
    for n, (k, t) in enumerate((k, t) for t in range(nt) for k in range(nk)):
        _check_cancel(cancelled, destination)
        data[:, :, k, t] = proxy.plane(2, k, t)
        if progress is not None:
            progress(n + 1, nk * nt)
    if len(keys):
        data[tuple(np.asarray(keys, np.int64).T)] = values
    out = nib.Nifti1Image(data if nt > 1 else data[..., 0], np.asarray(affine, np.float64))
    out.header.set_qform(out.affine, code=1)
    out.header.set_sform(out.affine, code=1)
    return _write_atomically(out, destination, cancelled)


def _index(keys: np.ndarray, ndim: int) -> tuple[np.ndarray, ...]:
    """Index arrays into an array of ``ndim`` axes for 4-D voxel ``keys`` (the axes a
    file lacks are 0 in every key; the extra trailing axes it has are size 1)."""
    columns = np.asarray(keys, np.int64).T
    zeros = np.zeros(len(keys), np.int64)
    return tuple(columns[n] if n < 4 else zeros for n in range(ndim))


def read_stored(img, source: Path, progress: Progress | None, cancelled: Cancelled | None):
    """The stored numbers of ``img`` (no scaling), read in slabs of the last axis."""
    dataobj = img.dataobj
    get = getattr(dataobj, "_get_unscaled", None)
    shape = tuple(img.shape)
    if get is None or len(shape) == 0:
        return np.asarray(dataobj.get_unscaled() if hasattr(dataobj, "get_unscaled") else dataobj)
    per_slab = int(np.prod(shape[:-1], dtype=np.int64)) * img.get_data_dtype().itemsize
    step = max(1, READ_CHUNK_BYTES // max(per_slab, 1))
    out = np.empty(shape, dtype=img.get_data_dtype().newbyteorder("="), order="F")
    for start in range(0, shape[-1], step):
        _check_cancel(cancelled, source)
        stop = min(start + step, shape[-1])
        out[..., start:stop] = get(slicer=(..., slice(start, stop)))
        if progress is not None:
            progress(stop, shape[-1])
    return out


def _output_class(img, source: Path, destination: Path):
    suffix = image_suffix(destination)
    if isinstance(img, nib.MGHImage):
        if suffix in MGH_SUFFIXES:
            return nib.MGHImage
        raise VoxelSaveError(describe(destination, "an MGH image is saved as .mgh or .mgz"))
    if suffix in NIFTI_SUFFIXES:
        return (
            nib.Nifti2Image
            if isinstance(img, nib.Nifti2Image | nib.Nifti2Pair)
            else (nib.Nifti1Image)
        )
    raise VoxelSaveError(
        describe(destination, f"choose a .nii or .nii.gz name to save {source.name} as")
    )


def _check_not_source(source: Path, img, destination: Path) -> None:
    files = {Path(holder.filename) for holder in img.file_map.values() if holder.filename}
    files.add(source)
    for path in files:
        same = destination.resolve() == path.resolve() or (
            destination.exists() and os.path.samefile(destination, path)
        )
        if same:
            raise VoxelSaveError(
                describe(
                    destination,
                    "is the image being edited; Save As writes a new file, not over the source",
                )
            )


def _slope_inter(dataobj) -> tuple[float, float]:
    return float(getattr(dataobj, "slope", 1.0)), float(getattr(dataobj, "inter", 0.0))


def _check_cancel(cancelled: Cancelled | None, path: Path) -> None:
    if cancelled is not None and cancelled():
        raise SaveCancelled(describe(path, "save cancelled; nothing was written"))


def _write_atomically(img, destination: Path, cancelled: Cancelled | None) -> Path:
    suffix = image_suffix(destination) or destination.suffix
    stem = destination.name[: len(destination.name) - len(suffix)]
    temp = destination.with_name(f".{stem}.volview-tmp-{os.getpid()}{suffix}")
    try:
        img.to_filename(str(temp))
        _check_cancel(cancelled, destination)
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, destination)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            problem = f"cannot write the file ({why(exc)})"
            raise VoxelSaveError(describe(destination, problem)) from exc
        raise
    fsync_dir(destination.parent)
    return destination
