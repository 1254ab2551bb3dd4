"""Helpers that write small test images into a temporary folder, and oracles to check them.

Every writer goes through nibabel (the reference implementation), so a test can compare
what volview reads with what nibabel's ``get_fdata`` says. Nothing here imports Qt.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from pathlib import Path

import nibabel as nib
import numpy as np

#: integer and float voxel types that NIfTI-1 stores
NIFTI_DTYPES = (
    "uint8",
    "int8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
)
#: byte offsets of NIfTI-1 header fields
DIM_OFFSET = 40
DATATYPE_OFFSET = 70
#: relative tolerance of values read as float32
FLOAT32_RTOL = 1e-6


def random_data(shape: tuple[int, ...], dtype: str | np.dtype, seed: int = 0) -> np.ndarray:
    """Random voxels spanning a good part of ``dtype``'s range (no NaN, no inf)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    lo = max(int(info.min), -(2**40))
    hi = min(int(info.max), 2**40)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def write_nifti(
    path: Path,
    data: np.ndarray,
    affine: np.ndarray | None = None,
    *,
    endianness: str = "<",
    slope_inter: tuple[float, float] | None = None,
    cal: tuple[float, float] | None = None,
    image_class=nib.Nifti1Image,
) -> Path:
    """Write ``data`` (stored as its own dtype and byte order) with nibabel; return the path.

    ``image_class`` may be any NIfTI class (``Nifti1Image``, ``Nifti2Image``,
    ``Nifti1Pair``); ``.gz`` in the name compresses.
    """
    affine = np.eye(4) if affine is None else affine
    header = image_class.header_class(endianness=endianness)
    header.set_data_dtype(np.dtype(data.dtype).newbyteorder(endianness))
    img = image_class(data, affine, header)
    if slope_inter is not None:
        img.header.set_slope_inter(*slope_inter)
    if cal is not None:
        img.header["cal_min"], img.header["cal_max"] = cal
    img.to_filename(path)
    return Path(path)


def write_image(path: Path, img) -> Path:
    """Save any nibabel image to ``path`` and return the path."""
    img.to_filename(path)
    return Path(path)


def write_sparse_nifti(path: Path, shape: tuple[int, ...], dtype: str = "uint16") -> Path:
    """A NIfTI-1 header for ``shape`` followed by a hole: the file is sparse, all zeros."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_sform(np.eye(4), code=1)
    header.set_qform(np.eye(4), code=1)
    header["vox_offset"] = 352
    with open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\0" * 4)  # no extensions
    os.truncate(path, 352 + int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    return Path(path)


def patch_header(path: Path, offset: int, fmt: str, *values) -> None:
    """Overwrite bytes of a header in place (to build corrupt files)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, *values))


def fingerprint(path: Path) -> tuple[str, int, int]:
    """(sha256, mtime_ns, size) of a file, to prove nothing wrote to it."""
    stat = os.stat(path)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest, stat.st_mtime_ns, stat.st_size


def fdata4(img) -> np.ndarray:
    """nibabel's scaled data of ``img`` reshaped to volview's 4-D ``(ni, nj, nk, nt)``."""
    data = np.asarray(img.get_fdata(), dtype=np.float64)
    shape = data.shape
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    return data.reshape(shape + (1,) * (4 - len(shape)))


def oracle_plane(data4: np.ndarray, axis: int, index: int, t: int) -> np.ndarray:
    """The plane ``axis == index`` of volume ``t``, remaining axes ascending."""
    return np.take(data4[..., t], index, axis=axis)


def plane_indices(n: int) -> list[int]:
    """First, middle and last index of an axis of length ``n`` (no duplicates)."""
    return sorted({0, n // 2, n - 1})


def assert_planes_match(proxy, data4: np.ndarray, in_plane=None) -> int:
    """Every first/middle/last plane of every axis and volume equals the oracle."""
    checked = 0
    atol = FLOAT32_RTOL * float(np.nanmax(np.abs(data4), initial=0.0))
    for axis in range(3):
        for index in plane_indices(data4.shape[axis]):
            for t in range(data4.shape[3]):
                expected = oracle_plane(data4, axis, index, t)
                if in_plane is None:
                    got = proxy.plane(axis, index, t)
                else:
                    got = proxy.plane(axis, index, t, in_plane)
                    expected = expected[in_plane]
                assert got.dtype == np.float32
                assert got.shape == expected.shape, (axis, index, t)
                np.testing.assert_allclose(
                    got, expected, rtol=FLOAT32_RTOL, atol=atol, err_msg=f"{axis=} {index=} {t=}"
                )
                checked += 1
    return checked


def orientations() -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """All 48 (axis permutation, signs) pairs: voxel axis v runs along world axis perm[v]."""
    perms = itertools.permutations(range(3))
    signs = list(itertools.product((1, -1), repeat=3))
    return [(p, s) for p in perms for s in signs]


def oriented_affine(
    perm: tuple[int, int, int],
    signs: tuple[int, int, int],
    zooms: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Axis-aligned affine whose voxel axis ``v`` points along ``signs[v]`` * world ``perm[v]``."""
    affine = np.zeros((4, 4))
    for v, (w, s) in enumerate(zip(perm, signs, strict=True)):
        affine[w, v] = s * zooms[v]
    affine[:3, 3] = origin
    affine[3, 3] = 1.0
    return affine


def orientation_letters(perm, signs) -> str:
    """The three-letter code (e.g. "LAS") of ``oriented_affine(perm, signs)``."""
    letters = (("L", "R"), ("P", "A"), ("I", "S"))
    return "".join(letters[w][s > 0] for w, s in zip(perm, signs, strict=True))


def rotation_z(degrees: float) -> np.ndarray:
    """An affine rotating voxel axes about world z by ``degrees``."""
    theta = np.radians(degrees)
    affine = np.eye(4)
    affine[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    return affine


def rss_anon_bytes() -> int:
    """Anonymous resident memory of this process (RssAnon in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("RssAnon not found in /proc/self/status")
