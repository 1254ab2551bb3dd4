"""TIFF stacks (microscopy, exported slices): one page per axial plane, read with tifffile.

Owns: ``open_tiff(path) -> ImageFile`` and ``TiffPageProxy``. An uncompressed stack
whose pages lie back to back in the file is memory-mapped (``MemmapProxy``: a C-order
``(t, z, y, x)`` block is an F-order ``(x, y, z, t)`` array); any other stack
(compressed, tiled, scattered pages, several channels) is decoded page by page, with
a small byte-bounded cache of decoded pages. Nothing here decodes a page until a
plane, value or time course asks for it.

Coordinate spaces: voxel ``ijk`` = (x column, y row, z page); the affine is
``diag(voxel size)`` (``ijk`` -> ``xyz_mm`` along the voxel axes): TIFF says nothing
about anatomical orientation. Voxel sizes come from ImageJ metadata (``spacing``,
``unit``) or the resolution tags, else 1 mm with a note.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from volview.errors import CorruptFileError, ImageReadError, UnsupportedFormatError, describe
from volview.io.images import ImageFile
from volview.io.proxy import (
    FULL,
    MemmapProxy,
    VolumeProxy,
    check_plane_args,
    check_voxel_args,
    file_size,
)

TIFF_SUFFIXES = (".tif", ".tiff")
PAGE_ACCESS = "TIFF, page by page"
#: bytes of decoded pages kept for the next planes (at least one page is always kept)
PAGE_CACHE_BYTES = 256 * 2**20
#: millimetres per unit named in ImageJ metadata
UNIT_MM = {
    "nm": 1e-6,
    "nanometer": 1e-6,
    "um": 1e-3,
    "µm": 1e-3,
    "\u03bcm": 1e-3,
    "\\u00b5m": 1e-3,
    "micron": 1e-3,
    "microns": 1e-3,
    "micrometer": 1e-3,
    "mm": 1.0,
    "millimeter": 1.0,
    "cm": 10.0,
    "m": 1000.0,
    "meter": 1000.0,
    "inch": 25.4,
}
#: millimetres per unit of the TIFF ResolutionUnit tag (2 inch, 3 centimetre)
RESOLUTION_UNIT_MM = {2: 25.4, 3: 10.0}
TIFF_ERRORS = (tifffile.TiffFileError, ValueError, OSError, EOFError, KeyError, IndexError)
READ_ERRORS = (*TIFF_ERRORS, zlib.error, RuntimeError, TypeError)


def is_tiff_path(path: str | os.PathLike) -> bool:
    return Path(path).name.lower().endswith(TIFF_SUFFIXES)


@dataclass(frozen=True)
class StackLayout:
    """Where the plane ``(t, z)`` of a series is: page ``ravel(index)`` over ``leading``."""

    leading: tuple[int, ...]  # sizes of the axes in front of a page's rows and columns
    t_axis: int | None  # position of the time axis among them
    z_axes: tuple[int, ...]  # positions of the axes flattened into z
    channels: int  # channels (C axis or samples) of which the first is shown
    sample_axis: int | None  # position of the samples axis inside a page, if any
    rows: int
    columns: int

    @property
    def shape4(self) -> tuple[int, int, int, int]:
        nz = int(np.prod([self.leading[a] for a in self.z_axes], dtype=np.int64))
        nt = 1 if self.t_axis is None else self.leading[self.t_axis]
        return (self.columns, self.rows, nz, nt)

    def page_index(self, z: int, t: int) -> int:
        index = [0] * len(self.leading)
        if self.t_axis is not None:
            index[self.t_axis] = t
        z_dims = [self.leading[a] for a in self.z_axes]
        for axis, value in zip(
            self.z_axes, np.unravel_index(z, z_dims) if z_dims else (), strict=True
        ):
            index[axis] = int(value)
        return int(np.ravel_multi_index(index, self.leading)) if self.leading else 0

    def memory_mappable(self) -> bool:
        """True when the pages form one C-order ``(t, z..., y, x)`` block of one channel."""
        ordered = self.t_axis is None or all(a > self.t_axis for a in self.z_axes)
        return self.channels == 1 and self.sample_axis is None and ordered


def stack_layout(path: Path, series) -> StackLayout:
    """The layout of a tifffile series: which leading axes are time, z and channels."""
    page = series.keyframe
    if page.shaped[1] != 1:
        raise UnsupportedFormatError(describe(path, "volumetric (SGI depth) TIFF pages"))
    n_page = len(page.shape)
    axes, shape = series.axes[:-n_page], tuple(int(n) for n in series.shape[:-n_page])
    page_axes = page.axes
    sample_axis = page_axes.index("S") if "S" in page_axes else None
    channels = page.shape[sample_axis] if sample_axis is not None else 1
    if "C" in axes:
        channels = max(channels, shape[axes.index("C")])
    t_axis = axes.index("T") if "T" in axes else None
    z_axes = tuple(i for i, a in enumerate(axes) if a not in "TC")
    rows, columns = page.shape[page_axes.index("Y")], page.shape[page_axes.index("X")]
    return StackLayout(shape, t_axis, z_axes, channels, sample_axis, rows, columns)


def open_tiff(path: str | os.PathLike) -> ImageFile:
    """Open a TIFF stack lazily: memory-mapped when it can be, page by page otherwise."""
    path = Path(path)
    try:
        tif = tifffile.TiffFile(path)
    except TIFF_ERRORS as exc:
        raise CorruptFileError(describe(path, f"not a readable TIFF file ({exc})")) from exc
    try:
        return _image_from(path, tif)
    except BaseException:
        tif.close()
        raise


def _image_from(path: Path, tif: tifffile.TiffFile) -> ImageFile:
    try:
        series = tif.series[0]
        layout = stack_layout(path, series)
        dtype = np.dtype(series.dtype)
    except (*TIFF_ERRORS, TypeError) as exc:
        raise CorruptFileError(describe(path, f"the TIFF structure is invalid ({exc})")) from exc
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise UnsupportedFormatError(describe(path, f"TIFF pixels of type {dtype}"))
    _check_imagej_count(path, tif, layout)
    notes = []
    if layout.channels > 1:
        notes.append(f"{layout.channels} channels: showing the first")
    sizes, size_note = voxel_sizes(tif)
    notes += [size_note] if size_note else []
    proxy = _proxy(path, tif, series, layout, dtype)
    return ImageFile(
        path=path,
        format_name="TIFF (ImageJ)" if tif.is_imagej else "TIFF",
        shape=layout.shape4,
        affine=np.diag([*sizes, 1.0]),
        voxel_sizes=sizes,
        orientation_known=False,
        proxy=proxy,
        notes=tuple(notes),
        stored_kind=dtype.kind,
    )


def _proxy(path: Path, tif, series, layout: StackLayout, dtype: np.dtype) -> VolumeProxy:
    offset = series.dataoffset
    if offset is None or not layout.memory_mappable():
        _check_page_extents(path, series)
        return TiffPageProxy(path, tif, series, layout)
    needed = offset + int(np.prod(layout.shape4, dtype=np.int64)) * dtype.itemsize
    if file_size(path) < needed:
        raise CorruptFileError(
            describe(
                path,
                f"the file is truncated: its pages need {needed:,} bytes "
                f"but the file has {file_size(path):,}",
            )
        )
    tif.close()
    return MemmapProxy(path, layout.shape4, dtype.newbyteorder(tif.byteorder), offset)


def _check_imagej_count(path: Path, tif, layout: StackLayout) -> None:
    """Refuse an ImageJ stack with fewer pages than its metadata lists (a cut file)."""
    listed = int((tif.imagej_metadata or {}).get("images", 1))
    found = int(np.prod(layout.leading, dtype=np.int64))
    if found < listed:
        raise CorruptFileError(
            describe(
                path,
                f"the file is truncated: its ImageJ metadata lists {listed:,} images "
                f"but only {found:,} can be read",
            )
        )


def _check_page_extents(path: Path, series) -> None:
    """Refuse a file whose pages point past its end (a truncated download or copy)."""
    have = file_size(path)
    for number, page in enumerate(series.pages):
        ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)]
        if ends and max(ends) > have:
            raise CorruptFileError(
                describe(
                    path,
                    f"the file is truncated: page {number + 1} needs {max(ends):,} bytes "
                    f"but the file has {have:,}",
                )
            )


def voxel_sizes(tif: tifffile.TiffFile) -> tuple[tuple[float, float, float], str | None]:
    """Voxel sizes in mm (x, y, z) and a note when any of them is a guess."""
    page = tif.pages.first
    meta = tif.imagej_metadata or {}
    if meta:
        unit = str(meta.get("unit", "")).strip().lower()
        to_mm = UNIT_MM.get(unit)
        if to_mm is None:
            named = f"unknown length unit {unit!r}" if unit else "no length unit"
            return (1.0, 1.0, 1.0), f"{named} in the ImageJ metadata: voxel size 1 mm"
        x, y = _pixel_sizes(page, to_mm)
        z = float(meta.get("spacing", 0.0)) * to_mm
        return (x, y, z if z > 0 else x), None if z > 0 else "slice spacing unknown: set to x"
    to_mm = RESOLUTION_UNIT_MM.get(int(page.tags.valueof("ResolutionUnit", 1)))
    if to_mm is None or "XResolution" not in page.tags:
        return (1.0, 1.0, 1.0), "no pixel size in the file: voxel size 1 mm"
    x, y = _pixel_sizes(page, to_mm)
    return (x, y, x), "slice spacing unknown: set to the pixel width"


def _pixel_sizes(page, to_mm: float) -> tuple[float, float]:
    """Pixel width and height in mm from the X/YResolution tags (pixels per unit)."""
    sizes = []
    for name in ("XResolution", "YResolution"):
        numerator, denominator = page.tags.valueof(name, (1, 1))
        size = denominator / numerator * to_mm if numerator > 0 and denominator > 0 else 0.0
        sizes.append(size if np.isfinite(size) and size > 0 else to_mm)
    return sizes[0], sizes[1]


class TiffPageProxy:
    """Planes of a TIFF stack decoded page by page (compressed, tiled or scattered pages).

    An axial plane (``axis == 2``) is one page. A plane along another axis decodes
    every page it crosses (only those a strided ``in_plane`` keeps) and keeps one row
    or column of each. Decoded pages stay in a least-recently-used cache bounded in
    bytes. Reads are serialised: tifffile shares one file handle.
    """

    access = PAGE_ACCESS
    random_access = False

    def __init__(self, path: Path, tif, series, layout: StackLayout) -> None:
        self.path = path
        self.shape = layout.shape4
        self.cache_bytes = PAGE_CACHE_BYTES
        self._tif = tif
        self._pages = list(series.pages)
        self._layout = layout
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, z: int, t: int = 0) -> np.ndarray:
        """The decoded page ``(z, t)`` as stored: ``(rows = j, columns = i)``."""
        number = self._layout.page_index(z, t)
        with self._lock:
            if number in self._cache:
                self._cache.move_to_end(number)
                return self._cache[number]
            data = self._decode(number)
            self._cache[number] = data
            while len(self._cache) > 1 and self._cached_bytes() > self.cache_bytes:
                self._cache.popitem(last=False)
            return data

    def _cached_bytes(self) -> int:
        return sum(a.nbytes for a in self._cache.values())

    def _decode(self, number: int) -> np.ndarray:
        try:
            data = self._pages[number].asarray()
        except READ_ERRORS as exc:
            raise ImageReadError(
                describe(self.path, f"could not decode page {number + 1} ({exc})")
            ) from exc
        if self._layout.sample_axis is not None:
            data = np.take(data, 0, axis=self._layout.sample_axis)
        return np.ascontiguousarray(data.reshape(self._layout.rows, self._layout.columns))

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        check_plane_args(self.shape, axis, index, t)
        first, second = in_plane
        if axis == 2:
            return np.array(self.page(index, t)[second, first].T, dtype=np.float32)
        ks = range(self.shape[2])[second]
        n_first = len(range(self.shape[1 - axis])[first])
        out = np.empty((n_first, len(ks)), dtype=np.float32)
        for column, k in enumerate(ks):
            data = self.page(k, t)
            out[:, column] = data[index, first] if axis == 1 else data[first, index]
        return out

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        check_voxel_args(self.shape, ijk, t)
        return float(self.page(ijk[2], t)[ijk[1], ijk[0]])

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        check_voxel_args(self.shape, ijk, 0)
        values = [self.page(ijk[2], t)[ijk[1], ijk[0]] for t in range(self.shape[3])]
        return np.array(values, dtype=np.float64)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
            self._tif.close()
