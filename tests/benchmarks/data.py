"""Benchmark workloads, written into a temporary folder on first use.

Owns: ``Workloads`` (lazily creates each file once per run) and the writers:

- ``huge_16g.nii``: 2048^3 uint16, 16 GiB apparent size, sparse. A NIfTI-1 header
  written by nibabel, the file truncated to full size with ``os.truncate``, then six
  slabs of 8 axial slices of random values (about 400 MiB allocated, like the peers'
  file), one of them at the centre so that the first paint shows data;
- ``big_512.nii``: 512^3 float32 (512 MiB), a smooth blob plus noise;
- ``t1_256.nii``: 256^3 int16 (32 MiB), the same kind of field.

The names follow shared/reference/peers-results.md. Files are written slab by slab
through ``np.memmap`` (Fortran order, axial slabs are contiguous) so that no step
holds more than one slab in memory.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

VOX_OFFSET = 352  # 348-byte NIfTI-1 header + 4-byte extension flag
SLAB_BYTES = 64 * 2**20
#: fractions of the k axis where huge_16g.nii has data (4/8 = the centre plane)
HUGE_SLAB_FRACTIONS = (1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8)
HUGE_SLAB_SLICES = 8


@dataclass(frozen=True)
class Workload:
    key: str
    path: Path
    shape: tuple[int, int, int]
    dtype: np.dtype
    label: str  # e.g. "2048^3 uint16"
    size_note: str  # e.g. "16 GiB sparse"

    @property
    def long_label(self) -> str:
        return f"{self.label} ({self.size_note})"

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def write_header(path: Path, shape: tuple[int, int, int], dtype, voxel_mm: float = 1.0) -> None:
    """Write a NIfTI-1 header (1 mm voxels, world origin at the centre) and size the file.

    The data part is a hole: ``os.truncate`` extends the file without writing it.
    """
    dtype = np.dtype(dtype)
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_zooms((voxel_mm,) * 3)
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = -np.array(shape, dtype=float) / 2 * voxel_mm
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_data_offset(VOX_OFFSET)
    with open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\0" * (VOX_OFFSET - f.tell()))
    os.truncate(path, VOX_OFFSET + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)


def _data_map(path: Path, shape, dtype) -> np.memmap:
    return np.memmap(path, dtype=dtype, mode="r+", offset=VOX_OFFSET, shape=shape, order="F")


def _blob(shape: tuple[int, int, int], k0: int, k1: int) -> np.ndarray:
    """A smooth bright ellipsoid (values 0..1000) on axial slices k0..k1-1, float32."""
    axes = [(np.arange(0, n, dtype=np.float32) - n / 2) / (0.4 * n) for n in shape[:2]] + [
        (np.arange(k0, k1, dtype=np.float32) - shape[2] / 2) / (0.4 * shape[2])
    ]
    r2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    return np.clip(1.0 - r2, 0.0, None) * np.float32(1000.0)


def write_dense(path: Path, shape: tuple[int, int, int], dtype, seed: int) -> None:
    """A full (non-sparse) file: a blob plus noise, so planes differ and windows make sense."""
    dtype = np.dtype(dtype)
    write_header(path, shape, dtype)
    rng = np.random.default_rng(seed)
    data = _data_map(path, shape, dtype)
    slab = max(1, SLAB_BYTES // (shape[0] * shape[1] * dtype.itemsize))
    for k0 in range(0, shape[2], slab):
        k1 = min(shape[2], k0 + slab)
        values = _blob(shape, k0, k1)
        values += rng.standard_normal(values.shape, dtype=np.float32) * np.float32(50.0)
        data[:, :, k0:k1] = values.astype(dtype) if dtype.kind == "f" else np.rint(values)
    data.flush()
    del data


def huge_slab_starts(nk: int) -> list[int]:
    return [
        min(nk - HUGE_SLAB_SLICES, round(nk * f) - HUGE_SLAB_SLICES // 2)
        for f in HUGE_SLAB_FRACTIONS
    ]


def write_sparse(path: Path, shape: tuple[int, int, int], dtype, seed: int) -> None:
    """A sparse file: all holes except a few slabs of random values (see module doc)."""
    dtype = np.dtype(dtype)
    write_header(path, shape, dtype)
    rng = np.random.default_rng(seed)
    plane_bytes = shape[0] * shape[1] * dtype.itemsize
    with open(path, "r+b") as f:
        for k0 in huge_slab_starts(shape[2]):
            values = rng.integers(0, 4096, size=(HUGE_SLAB_SLICES, shape[1], shape[0]))
            f.seek(VOX_OFFSET + k0 * plane_bytes)
            f.write(values.astype(dtype).tobytes())  # C order of (k, j, i) = NIfTI order


def warm_page_cache(path: Path) -> float:
    """Read the whole file once (so the measured runs see a warm page cache); seconds."""
    start = time.perf_counter()
    buffer = bytearray(16 * 2**20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buffer):
            pass
    return time.perf_counter() - start


def allocated_bytes(path: Path) -> int:
    return os.stat(path).st_blocks * 512


#: key -> (file name, shape, dtype, size note)
SPECS = {
    "huge": ("huge_16g.nii", (2048, 2048, 2048), "uint16", "16 GiB sparse"),
    # the same again, for a figure that needs pages that no earlier figure has cached
    "huge_fresh": ("huge_16g_fresh.nii", (2048, 2048, 2048), "uint16", "16 GiB sparse, fresh"),
    "big": ("big_512.nii", (512, 512, 512), "float32", "512 MiB"),
    "t1": ("t1_256.nii", (256, 256, 256), "int16", "32 MiB"),
}


class Workloads:
    """The benchmark files of one run, created on first use inside ``folder``."""

    def __init__(self, folder: Path, log=print) -> None:
        self.folder = Path(folder)
        self._made: dict[str, Workload] = {}
        self._log = log

    def get(self, key: str) -> Workload:
        if key not in self._made:
            name, shape, dtype, size_note = SPECS[key]
            label = f"{shape[0]}^3 {dtype}"
            path = self.folder / name
            start = time.perf_counter()
            writer = write_sparse if key.startswith("huge") else write_dense
            writer(path, shape, dtype, seed=list(SPECS).index(key) + 7)
            workload = Workload(key, path, shape, np.dtype(dtype), label, size_note)
            self._log(
                f"(wrote {name}: {workload.nbytes / 2**20:,.0f} MiB apparent, "
                f"{allocated_bytes(path) / 2**20:,.0f} MiB allocated, "
                f"{time.perf_counter() - start:.1f} s)"
            )
            self._made[key] = workload
        return self._made[key]
