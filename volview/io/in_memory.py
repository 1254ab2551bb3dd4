"""Images that a Python caller already holds: nibabel images and numpy arrays.

Owns: ``image_from_nibabel(img) -> ImageFile`` and ``image_from_array(array, affine)
-> ImageFile``, the in-memory counterparts of ``open_image(path)``.

- A nibabel image that is exactly what its file on disk says (same header, same
  affine, voxels still read from that file) is opened from the file by ``open_image``:
  memory-mapped when uncompressed, with an indexed gzip otherwise.
- Any other nibabel image keeps its own header and affine. Its voxels are read
  through ``img.dataobj``, one plane at a time: a file-backed proxy is copied (so that
  closing the viewer's copy leaves the caller's file handle alone), an array in RAM
  is used as it is. Nothing here calls ``get_fdata()`` or ``np.asarray(img.dataobj)``.
- A numpy array is used without a copy; a nibabel array proxy passed as the array
  is read plane by plane like an image's ``dataobj``.

Coordinate spaces: the affine maps voxel indices ``ijk`` to world ``xyz_mm`` (RAS+).
An array given without an affine is shown on its voxel axes (identity affine) with
its orientation marked unknown. An image's ``path`` is only a name for these images
unless it came from ``open_image``.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.arrayproxy import ArrayProxy as NibabelArrayProxy
from nibabel.spatialimages import SpatialImage

from volview.errors import UnsupportedFormatError
from volview.io.images import (
    NIBABEL_LOAD_ERRORS,
    ImageFile,
    is_image_path,
    open_image,
    time_step,
    usable_geometry,
)
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import ArrayProxy, VolumeProxy

#: how planes of a lazily wrapped nibabel proxy are read, for the status bar
LAZY_ACCESS = "read through nibabel"


def image_from_nibabel(img: SpatialImage, name: str | None = None) -> ImageFile:
    """An ImageFile for a nibabel image, reading its voxels lazily.

    An unmodified image of a file volview opens is opened from that file (``name`` is
    then the file's name). Otherwise the image's own header and affine are used and
    ``name`` (default: the image's file name, or "image") names it. The voxels are
    those of ``img.dataobj``: changes made to an array returned by ``get_fdata()``
    (nibabel's cache) are not seen; show ``nib.Nifti1Image(data, img.affine)`` instead.
    Raises ``UnsupportedFormatError`` for data volview cannot show (complex, RGB,
    more than 4 dimensions) and ``TypeError`` for an object that is not an image.
    """
    if not isinstance(img, SpatialImage):
        raise TypeError(f"expected a nibabel image, not {type(img).__name__}")
    filename = _unmodified_file(img)
    if filename is not None:
        return open_image(filename)
    if name is None:
        filename = img.get_filename()
        name = Path(filename).name if filename else "image"
    dataobj = img.dataobj
    dtype = np.dtype(getattr(dataobj, "dtype", img.get_data_dtype()))
    shape4 = _shape4(name, dataobj.shape, dtype)
    affine = img.affine if img.affine is not None else img.header.get_best_affine()
    affine, voxel_sizes, notes = usable_geometry(affine, img.header.get_zooms())
    return ImageFile(
        path=Path(name),
        format_name=f"nibabel {type(img).__name__}",
        shape=shape4,
        affine=affine,
        voxel_sizes=voxel_sizes,
        orientation_known=_orientation_known(img) and not notes,
        proxy=_proxy_for(name, dataobj, shape4),
        cal_range=_cal_range(img.header),
        notes=notes,
        scaling=_scaling(dataobj),
        time_step=time_step(img.header),
        stored_kind=np.dtype(dataobj.dtype).kind,
        on_disk=False,
    )


def image_from_array(array, affine=None, name: str | None = None) -> ImageFile:
    """An ImageFile over a 2-D to 4-D numpy array (not copied) and an optional affine.

    A 2-D array is shown as a single slice ``(ni, nj, 1)``. Without an affine the
    voxel axes are shown as they are (identity affine, orientation unknown).
    Raises ``UnsupportedFormatError`` for boolean, complex or non-numeric data and
    for other ranks, ``TypeError`` for an object that is not an array, and
    ``ValueError`` for an affine that is not 4x4.
    """
    if not (isinstance(array, np.ndarray) or nib.is_proxy(array)):
        raise TypeError(
            f"expected a numpy array or a nibabel array proxy, not {type(array).__name__}"
        )
    name = "array" if name is None else name
    orientation_known = affine is not None
    affine = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine must be a 4x4 matrix, not an array of shape {affine.shape}")
    shape4 = _shape4(name, array.shape, np.dtype(array.dtype))
    affine, voxel_sizes, notes = usable_geometry(affine, (1.0, 1.0, 1.0))
    return ImageFile(
        path=Path(name),
        format_name="numpy array" if isinstance(array, np.ndarray) else "nibabel array proxy",
        shape=shape4,
        affine=affine,
        voxel_sizes=voxel_sizes,
        orientation_known=orientation_known and not notes,
        proxy=_proxy_for(name, array, shape4),
        notes=notes,
        scaling=_scaling(array),
        stored_kind=np.dtype(array.dtype).kind,
        on_disk=False,
    )


def _unmodified_file(img: SpatialImage) -> Path | None:
    """The file ``img`` was loaded from, if opening that file again gives the same image.

    That is: its voxels are still read from that file (not an array in RAM, not a
    file renamed with ``set_filename``), and the header and affine on disk equal the
    ones in memory (no edits since loading, and the file has not changed since).
    """
    filename = img.get_filename()
    dataobj = img.dataobj
    if (
        filename is None
        or not is_image_path(filename)
        or not isinstance(dataobj, NibabelArrayProxy)
        or dataobj.file_like != img.file_map["image"].filename
    ):
        return None
    try:
        on_disk = type(img).from_filename(filename)
    except NIBABEL_LOAD_ERRORS:
        return None
    same = on_disk.header == img.header and np.array_equal(on_disk.affine, img.affine)
    return Path(filename) if same else None


def _shape4(name: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, int, int, int]:
    """``shape`` as ``(ni, nj, nk, nt)``, refusing data volview cannot show."""
    _check_dtype(name, dtype)
    shape = tuple(int(n) for n in shape)
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if not 2 <= len(shape) <= 4:
        raise UnsupportedFormatError(
            f"{name}: has {len(shape)} dimensions {shape}; volview shows 2-D, 3-D and 4-D data"
        )
    if 0 in shape:
        raise UnsupportedFormatError(f"{name}: is empty (shape {shape})")
    return (*shape, *(1,) * (4 - len(shape)))  # type: ignore[return-value]


def _check_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.kind == "b":
        raise UnsupportedFormatError(
            f"{name}: boolean data is not supported; show it as numbers with .astype(np.uint8)"
        )
    if dtype.kind == "c":
        raise UnsupportedFormatError(
            f"{name}: complex data ({dtype}) is not supported; "
            "show its magnitude (np.abs) or its real part (.real)"
        )
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise UnsupportedFormatError(
            f"{name}: data of type {dtype} is not supported; "
            "volview shows integer and floating-point data"
        )


def _proxy_for(name: str, data, shape4: tuple[int, int, int, int]) -> VolumeProxy:
    """Planes of an array in RAM, or of a nibabel proxy read one plane at a time."""
    if isinstance(data, np.ndarray):
        return ArrayProxy(data.reshape(shape4))
    return NibabelProxy(Path(name), _own_copy(data), shape4, LAZY_ACCESS)


def _own_copy(dataobj):
    """A nibabel proxy of our own over the same file, keeping it open between planes.

    Closing it (when the viewer shows something else) then leaves the caller's proxy
    and its file handle alone, and a ``.gz`` keeps its index between planes.
    """
    if type(dataobj) is not NibabelArrayProxy or not isinstance(dataobj.file_like, str):
        return dataobj
    spec = (dataobj.shape, dataobj.dtype, dataobj.offset, dataobj.slope, dataobj.inter)
    return NibabelArrayProxy(dataobj.file_like, spec, order=dataobj.order, keep_file_open=True)


def _orientation_known(img: SpatialImage) -> bool:
    """NIfTI: a qform or sform code is set; Analyze: never; other formats: an affine is set."""
    header = img.header
    if img.affine is None:
        return False
    if isinstance(header, nib.Nifti1Header):  # NIfTI-2 headers derive from it
        return int(header["qform_code"]) > 0 or int(header["sform_code"]) > 0
    return not isinstance(header, nib.AnalyzeHeader)


def _cal_range(header) -> tuple[float, float] | None:
    if not isinstance(header, nib.Nifti1Header):
        return None
    lo, hi = float(header["cal_min"]), float(header["cal_max"])
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else None


def _scaling(data) -> tuple[float, float]:
    """(slope, intercept) a nibabel proxy applies to the stored numbers; none for arrays."""
    return float(getattr(data, "slope", 1.0)), float(getattr(data, "inter", 0.0))
