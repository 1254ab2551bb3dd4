"""Open an image file: check it, parse its header with nibabel, pick a lazy proxy.

Owns: ``open_image(path) -> ImageFile`` and the list of supported file types.
Coordinate spaces: ``ImageFile.affine`` maps voxel indices ``ijk`` to world ``xyz_mm``
(RAS+, the scanner/template space of the header); ``ImageFile.time_step`` gives the
time between volumes in seconds when the header says it. Nothing here reads voxel data
except through the proxy; files are opened read-only.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from volview.errors import (
    CorruptFileError,
    FileAccessError,
    UnsupportedFormatError,
    VolviewError,
    describe,
)
from volview.io.gzip_stream import is_gzip, open_gzip_stream
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import (
    ArrayProxy,
    MemmapProxy,
    RescaledProxy,
    VolumeProxy,
    file_size,
)

#: suffixes volview opens as images, longest first so that ``.nii.gz`` wins over ``.gz``
IMAGE_SUFFIXES = (
    ".nii.gz", ".img.gz", ".hdr.gz", ".nii", ".hdr", ".img", ".mgh", ".mgz", ".tiff", ".tif",
)  # fmt: skip
#: seconds per unit of the NIfTI ``xyzt_units`` time codes volview turns into seconds
#: (Hz, ppm and rad/s describe spectra, not time series)
TIME_UNITS = {8: ("sec", 1.0), 16: ("msec", 1e-3), 24: ("usec", 1e-6)}
NIFTI_TIME_MASK = 0x38
#: a file-dialog filter for the supported image types
IMAGE_FILTER = "Images (*.nii *.nii.gz *.hdr *.img *.img.gz *.mgh *.mgz *.tif *.tiff)"
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zst", ".mgz")
SUPPORTED_WORDS = (
    "NIfTI (.nii, .nii.gz), NIfTI/Analyze pairs (.hdr + .img), MGH (.mgh, .mgz) "
    "and TIFF stacks (.tif, .tiff)"
)
NIBABEL_LOAD_ERRORS = (
    ImageFileError,
    HeaderDataError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    MemoryError,
)


@dataclass(frozen=True, eq=False)
class ImageFile:
    """An opened image: what its header says, plus a proxy to its voxels."""

    path: Path
    format_name: str
    shape: tuple[int, int, int, int]
    affine: np.ndarray
    voxel_sizes: tuple[float, float, float]
    orientation_known: bool
    proxy: VolumeProxy
    cal_range: tuple[float, float] | None = None
    notes: tuple[str, ...] = field(default=())
    #: (slope, intercept) the proxy applies to the stored numbers
    scaling: tuple[float, float] = (1.0, 0.0)
    #: (seconds between volumes, the unit the header stated it in), or None when the
    #: header gives no usable time step (no time unit, a spectral unit, step <= 0)
    time_step: tuple[float, str] | None = None
    #: kind of the stored numbers (numpy dtype.kind: "i", "u", "f", "b")
    stored_kind: str = "f"
    #: False for data given in memory (``path`` is then only a name, not a file)
    on_disk: bool = True

    def close(self) -> None:
        self.proxy.close()


def image_suffix(path: str | os.PathLike) -> str | None:
    """The supported suffix that ``path`` ends with (lower-cased), or None."""
    name = Path(path).name.lower()
    return next((s for s in IMAGE_SUFFIXES if name.endswith(s)), None)


def is_image_path(path: str | os.PathLike) -> bool:
    return image_suffix(path) is not None


def check_readable(path: Path) -> None:
    """Raise FileAccessError unless ``path`` is an existing, non-empty, readable file."""
    if not path.exists():
        raise FileAccessError(describe(path, "file not found"))
    if path.is_dir():
        raise FileAccessError(describe(path, "is a folder, not an image file"))
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError as exc:
        raise FileAccessError(describe(path, "permission denied: cannot read the file")) from exc
    except OSError as exc:
        raise FileAccessError(describe(path, f"cannot read the file ({exc.strerror})")) from exc
    if file_size(path) == 0:
        raise FileAccessError(describe(path, "the file is empty"))


def open_image(path: str | os.PathLike) -> ImageFile:
    """Open an image lazily: header parsed, voxel data behind a proxy, nothing else read."""
    path = Path(path).expanduser()
    check_readable(path)
    if image_suffix(path) is None:
        raise UnsupportedFormatError(
            describe(path, f"not a supported image type; volview opens {SUPPORTED_WORDS}")
        )
    if image_suffix(path) in (".tif", ".tiff"):
        from volview.io.tiff import open_tiff  # tiff.py builds on this module

        return open_tiff(path)
    _check_pair_header(path)
    img = _load_with_nibabel(path)
    try:
        return _image_file_from(path, img)
    except VolviewError:
        raise
    except NIBABEL_LOAD_ERRORS as exc:
        raise CorruptFileError(describe(path, f"the header is invalid ({exc})")) from exc


def _check_pair_header(path: Path) -> None:
    """A ``.img`` is half of a pair: say that its ``.hdr`` is missing, not that it is invalid."""
    if image_suffix(path) not in (".img", ".img.gz"):
        return
    header = Path(nib.Nifti1Pair.filespec_to_file_map(path)["header"].filename)
    if not header.is_file():
        raise FileAccessError(describe(path, f"its header file {header.name} is missing"))


def _load_with_nibabel(path: Path):
    try:
        img = nib.load(path, keep_file_open=True)
    except FileNotFoundError as exc:
        missing = Path(exc.filename or "").name or "a companion file"
        raise FileAccessError(describe(path, f"its data file {missing} is missing")) from exc
    except NIBABEL_LOAD_ERRORS as exc:
        raise CorruptFileError(describe(path, f"not a valid image file ({_reason(exc)})")) from exc
    if isinstance(img, nib.Cifti2Image):
        raise UnsupportedFormatError(
            describe(path, "is a CIFTI-2 file (surface or connectivity data), not a volume")
        )
    return img


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Cannot work out file type" in text:
        return "its header is not a NIfTI, Analyze or MGH header"
    return text or type(exc).__name__


def _image_file_from(path: Path, img) -> ImageFile:
    shape4 = _shape4(path, tuple(int(n) for n in img.shape))
    _check_dtype(path, img.get_data_dtype())
    affine, voxel_sizes, notes = usable_geometry(img.affine, img.header.get_zooms())
    proxy = _make_proxy(path, img, shape4)
    return ImageFile(
        path=path,
        format_name=_format_name(img),
        shape=shape4,
        affine=affine,
        voxel_sizes=voxel_sizes,
        orientation_known=_orientation_known(img.header) and not notes,
        proxy=proxy,
        cal_range=_cal_range(img.header),
        notes=notes,
        scaling=_scaling(img.dataobj),
        time_step=time_step(img.header),
        stored_kind=img.get_data_dtype().kind,
    )


def with_header(image: ImageFile, header, scaling: tuple[float, float]) -> ImageFile:
    """``image`` as an edited nibabel ``header`` describes it (same voxels, same file).

    Geometry, calibration range and scaling follow the header; the proxy is shared
    (wrapped when the scaling differs), so closing either image closes the file.
    """
    proxy = image.proxy
    base, base_scaling = (
        (proxy.base, proxy.base_scaling)
        if isinstance(proxy, RescaledProxy)
        else (proxy, image.scaling)
    )
    if tuple(scaling) != tuple(base_scaling):
        proxy = RescaledProxy(base, base_scaling, scaling)
    else:
        proxy = base
    affine, voxel_sizes, notes = usable_geometry(header.get_best_affine(), header.get_zooms())
    return dataclasses.replace(
        image,
        affine=affine,
        voxel_sizes=voxel_sizes,
        orientation_known=_orientation_known(header) and not notes,
        proxy=proxy,
        cal_range=_cal_range(header),
        notes=notes,
        scaling=scaling,
        time_step=time_step(header),
    )


def _shape4(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) == 0 or any(n <= 0 for n in shape):
        raise CorruptFileError(describe(path, f"impossible image dimensions {shape}"))
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 4:
        raise UnsupportedFormatError(
            describe(path, f"has {len(shape)} dimensions {shape}; volview shows 3-D and 4-D images")
        )
    return (*shape, *(1,) * (4 - len(shape)))  # type: ignore[return-value]


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    if dtype.kind not in "iufb" or dtype.fields is not None:
        raise UnsupportedFormatError(
            describe(path, f"voxel data type {dtype} (complex or RGB) is not supported yet")
        )


def _format_name(img) -> str:
    names = {
        nib.Nifti2Image: "NIfTI-2",
        nib.Nifti2Pair: "NIfTI-2 pair",
        nib.Nifti1Image: "NIfTI-1",
        nib.Nifti1Pair: "NIfTI-1 pair",
        nib.MGHImage: "MGH",
    }
    return next((name for cls, name in names.items() if type(img) is cls), "Analyze 7.5")


def _orientation_known(header) -> bool:
    if isinstance(header, nib.freesurfer.mghformat.MGHHeader):
        return True
    if "qform_code" in header:
        return int(header["qform_code"]) > 0 or int(header["sform_code"]) > 0
    return False


def usable_geometry(
    affine, zooms
) -> tuple[np.ndarray, tuple[float, float, float], tuple[str, ...]]:
    """Affine, voxel sizes and notes; a plain scaling by ``zooms`` if the affine is unusable."""
    affine = np.asarray(affine, dtype=np.float64)
    usable = (
        affine.shape == (4, 4)
        and np.isfinite(affine).all()
        and abs(np.linalg.det(affine[:3, :3])) > 1e-12
    )
    if usable:
        sizes = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        return affine, tuple(float(s) for s in sizes), ()
    zooms = [float(z) for z in zooms[:3]] + [1.0] * 3
    sizes = tuple(z if np.isfinite(z) and z > 0 else 1.0 for z in zooms[:3])
    fallback = np.diag([*sizes, 1.0])
    note = "the header's voxel-to-world transform is invalid; showing voxel axes"
    return fallback, sizes, (note,)


def time_step(header) -> tuple[float, str] | None:
    """(seconds between volumes, unit named by the header) from pixdim[4] and xyzt_units.

    MGH headers store the repetition time ``tr`` in milliseconds. Analyze headers
    have no time unit: None.
    """
    if isinstance(header, nib.freesurfer.mghformat.MGHHeader):
        step, unit, factor = float(header["tr"]), "msec", 1e-3
    elif "xyzt_units" in header and "pixdim" in header:
        code = int(header["xyzt_units"]) & NIFTI_TIME_MASK
        if code not in TIME_UNITS:
            return None
        unit, factor = TIME_UNITS[code]
        step = float(header["pixdim"][4])
    else:
        return None
    if not (np.isfinite(step) and step > 0):
        return None
    return step * factor, unit


def _scaling(dataobj) -> tuple[float, float]:
    slope = float(getattr(dataobj, "slope", 1.0))
    inter = float(getattr(dataobj, "inter", 0.0))
    return slope, inter


def _cal_range(header) -> tuple[float, float] | None:
    if "cal_min" not in header:
        return None
    lo, hi = float(header["cal_min"]), float(header["cal_max"])
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        return lo, hi
    return None


def _make_proxy(path: Path, img, shape4) -> VolumeProxy:
    dataobj = img.dataobj
    if not nib.is_proxy(dataobj):
        return ArrayProxy(np.asanyarray(dataobj).reshape(shape4))
    data_path = Path(img.file_map["image"].filename)
    if not data_path.is_file():
        raise FileAccessError(describe(path, f"its voxel data file {data_path.name} is missing"))
    if data_path.name.lower().endswith(COMPRESSED_SUFFIXES):
        return _compressed_proxy(path, data_path, dataobj, shape4)
    return _memmap_proxy(path, data_path, dataobj, shape4)


def _compressed_proxy(path: Path, data_path: Path, dataobj, shape4) -> NibabelProxy:
    """gzip through a self-indexing ``GzipStream``; bz2 and zstd through nibabel."""
    stream = None
    if is_gzip(data_path):
        stream = open_gzip_stream(data_path)
        spec = (dataobj.shape, dataobj.dtype, dataobj.offset, dataobj.slope, dataobj.inter)
        order = getattr(dataobj, "order", "F")
        dataobj = nib.arrayproxy.ArrayProxy(stream, spec, mmap=False, order=order)
    access = "gzip-indexed" if stream is not None else "compressed (sequential)"
    return NibabelProxy(
        path, dataobj, shape4, access, data_path=data_path, stream_side_planes=True, stream=stream
    )


def _memmap_proxy(path: Path, data_path: Path, dataobj, shape4) -> MemmapProxy:
    dtype = np.dtype(dataobj.dtype)
    offset = int(dataobj.offset)
    needed = offset + int(np.prod(shape4, dtype=np.int64)) * dtype.itemsize
    have = file_size(data_path)
    if have < needed:
        raise CorruptFileError(
            describe(
                data_path,
                f"the file is truncated: the header describes {needed:,} bytes "
                f"(voxel data from byte {offset:,}) but the file has {have:,}",
            )
        )
    if getattr(dataobj, "order", "F") != "F":
        raise UnsupportedFormatError(describe(path, "row-major (C order) voxel data"))
    slope = float(getattr(dataobj, "slope", 1.0))
    inter = float(getattr(dataobj, "inter", 0.0))
    return MemmapProxy(data_path, shape4, dtype, offset, slope, inter)
