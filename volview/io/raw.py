"""Raw volumes: headerless voxel data whose geometry the user states.

Owns: ``RawSpec`` (shape, data type, byte order, header offset, memory order, voxel
size), ``expected_size(spec)`` and ``open_raw(path, spec) -> ImageFile``. The file is
memory-mapped read-only through ``MemmapProxy``; a file whose size differs from the
size the geometry needs is refused, with a hint when another offset or shape would
match. Nothing here reads voxel data.

Coordinate spaces: ``spec.shape`` is ``(ni, nj, nk[, nt])`` in voxel indices ``ijk``;
order "F" stores ``i`` fastest (as NIfTI does), order "C" stores the last axis fastest
(``numpy.ndarray.tofile`` of an array of that shape). The affine is
``diag(voxel_size)``: voxel ``ijk`` -> world ``xyz_mm`` along the voxel axes, because
a raw file says nothing about orientation (``orientation_known`` is False).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from volview.errors import CorruptFileError, VolviewError, describe
from volview.io.images import ImageFile, check_readable
from volview.io.proxy import MemmapProxy, file_size

#: data types a raw volume may hold (numpy names, in the order a chooser lists them)
RAW_DTYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
)
BYTE_ORDERS = {"little": "<", "big": ">"}
ORDERS = ("F", "C")
ORIENTATION_NOTE = "raw data: orientation unknown, shown on its voxel axes"


class RawSpecError(VolviewError, ValueError):
    """A raw geometry that cannot describe any file (bad shape, type, offset, ...)."""


@dataclass(frozen=True)
class RawSpec:
    """How to read a headerless file: ``shape`` voxels of ``dtype`` after ``offset`` bytes."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    byte_order: str = "little"
    offset: int = 0
    order: str = "F"
    voxel_size: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _checked_shape(self.shape))
        object.__setattr__(self, "dtype", _checked_dtype(self.dtype))
        object.__setattr__(self, "voxel_size", _checked_voxel_size(self.voxel_size))
        if self.byte_order not in BYTE_ORDERS:
            raise RawSpecError(f"byte order must be 'little' or 'big', not {self.byte_order!r}")
        if self.order not in ORDERS:
            raise RawSpecError(
                f"memory order must be 'F' (first axis fastest) or 'C' (last axis fastest), "
                f"not {self.order!r}"
            )
        if isinstance(self.offset, bool) or not isinstance(self.offset, (int, np.integer)):
            raise RawSpecError(
                f"header offset must be a whole number of bytes, not {self.offset!r}"
            )
        if self.offset < 0:
            raise RawSpecError(f"header offset must be 0 or more bytes, not {self.offset}")
        object.__setattr__(self, "offset", int(self.offset))

    @property
    def numpy_dtype(self) -> np.dtype:
        """The stored numbers' dtype, with its byte order."""
        return np.dtype(self.dtype).newbyteorder(BYTE_ORDERS[self.byte_order])

    @property
    def shape4(self) -> tuple[int, int, int, int]:
        return (*self.shape, *(1,) * (4 - len(self.shape)))  # type: ignore[return-value]

    def data_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def _checked_shape(shape) -> tuple[int, ...]:
    try:
        values = tuple(shape)
    except TypeError:
        raise RawSpecError(f"shape must be 3 or 4 whole numbers, not {shape!r}") from None
    if len(values) not in (3, 4):
        raise RawSpecError(f"shape must have 3 or 4 sizes (NI NJ NK [NT]), not {len(values)}")
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in values):
        raise RawSpecError(f"shape sizes must be whole numbers, not {values!r}")
    if any(n < 1 for n in values):
        raise RawSpecError(f"every shape size must be at least 1, not {tuple(map(int, values))}")
    return tuple(int(n) for n in values)


def _checked_dtype(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in RAW_DTYPES:
        raise RawSpecError(f"data type must be one of {', '.join(RAW_DTYPES)}, not {dtype!r}")
    return name


def _checked_voxel_size(voxel_size) -> tuple[float, float, float]:
    try:
        sizes = tuple(float(v) for v in voxel_size)
    except (TypeError, ValueError):
        raise RawSpecError(f"voxel size must be 3 numbers in mm, not {voxel_size!r}") from None
    if len(sizes) != 3 or not all(np.isfinite(v) and v > 0 for v in sizes):
        raise RawSpecError(f"voxel size must be 3 positive numbers in mm, not {voxel_size!r}")
    return sizes  # type: ignore[return-value]


def expected_size(spec: RawSpec) -> int:
    """Bytes a file must have for ``spec``: the header offset plus the voxel data."""
    return spec.offset + spec.data_bytes()


def size_problem(path: str | os.PathLike, spec: RawSpec) -> str | None:
    """Why the file at ``path`` does not fit ``spec`` (both sizes and a hint), or None."""
    have, need = file_size(path), expected_size(spec)
    if have == need:
        return None
    dims = "x".join(str(n) for n in spec.shape)
    problem = (
        f"the file has {have:,} bytes but {dims} voxels of {spec.dtype} after a "
        f"{spec.offset:,}-byte header need {need:,} bytes"
    )
    hint = size_hint(have, spec)
    return f"{problem}; {hint}" if hint else problem


def size_hint(have: int, spec: RawSpec) -> str | None:
    """Geometries that would match a file of ``have`` bytes, when some obviously do.

    A header offset (when the remainder is smaller than the voxel data), a last axis
    of another length, or a data type of another width.
    """
    data, itemsize = spec.data_bytes(), np.dtype(spec.dtype).itemsize
    hints = []
    if 0 <= have - data < data and have - data != spec.offset:
        hints.append(f"a header offset of {have - data:,} bytes")
    body = have - spec.offset
    others = int(np.prod(spec.shape[:-1], dtype=np.int64)) * itemsize
    if body > 0 and body % others == 0:
        sizes = (*spec.shape[:-1], body // others)
        hints.append(f"shape {' x '.join(str(n) for n in sizes)}")
    voxels = data // itemsize
    if body > 0 and body % voxels == 0:
        fits = [d for d in RAW_DTYPES if np.dtype(d).itemsize == body // voxels]
        if fits:
            hints.append(f"a {body // voxels}-byte data type ({' or '.join(fits)})")
    return f"{' or '.join(hints)} would match" if hints else None


def open_raw(path: str | os.PathLike, spec: RawSpec) -> ImageFile:
    """Memory-map a headerless file read-only as ``spec`` says (nothing is read yet).

    Raises ``FileAccessError`` for a missing or unreadable file and
    ``CorruptFileError`` when its size does not match ``expected_size(spec)``.
    """
    path = Path(path).expanduser()
    check_readable(path)
    problem = size_problem(path, spec)
    if problem is not None:
        raise CorruptFileError(describe(path, problem))
    proxy = MemmapProxy(path, spec.shape4, spec.numpy_dtype, spec.offset, order=spec.order)
    return ImageFile(
        path=path,
        format_name="raw",
        shape=spec.shape4,
        affine=np.diag([*spec.voxel_size, 1.0]),
        voxel_sizes=spec.voxel_size,
        orientation_known=False,
        proxy=proxy,
        notes=(ORIENTATION_NOTE,),
        stored_kind=np.dtype(spec.dtype).kind,
    )
