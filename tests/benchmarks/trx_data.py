"""The benchmark TRX: a stored (uncompressed) zip of N smooth random streamlines.

Owns: ``benchmark_trx(report, n_streamlines) -> TrxWorkload``. The streamlines are
those of ``bench_streamlines.tractogram`` (about 100 float32 points each, world RAS+ mm
inside a 256^3 1 mm box centred on the origin), copied into
``$TMPDIR/volview-bench/bench_<1m|50k>.trx``:

- ``header.json``: DIMENSIONS [256, 256, 256], VOXEL_TO_RASMM identity with
  translation (-128, -128, -128) (the grid of ``data.py``'s ``t1_256.nii``),
  NB_STREAMLINES, NB_VERTICES;
- ``positions.3.float32``: NB_VERTICES rows, written through
  ``ZipFile.open(name, "w", force_zip64=True)`` a few million rows at a time, so
  the whole array is never in memory;
- ``offsets.uint64``: NB_STREAMLINES + 1 values (with the final sentinel).

The file is written once (to a ``.partial`` name, then renamed) and reused while its
stamp file (``bench_<label>.json``) names the current ``GENERATOR_VERSION``.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.benchmarks.bench_streamlines import cache_folder, tractogram
from tests.benchmarks.report import Report, fmt

#: bump when the file layout or content changes: cached files are then rewritten
GENERATOR_VERSION = 1
#: position rows copied into the zip per write (48 MB of float32 triples)
COPY_ROWS = 4_000_000
POSITIONS_NAME = "positions.3.float32"


@dataclass(frozen=True)
class TrxWorkload:
    path: Path
    n_streamlines: int
    n_vertices: int
    affine: np.ndarray  # voxel -> RAS+ mm of the reference grid
    shape: tuple[int, int, int]

    @property
    def positions_nbytes(self) -> int:
        return self.n_vertices * 3 * 4

    @property
    def label(self) -> str:
        return f"{self.n_streamlines:,} streamlines, {self.n_vertices / 1e6:.0f}M points"


def size_label(n_streamlines: int) -> str:
    """``1m`` for 1,000,000, ``50k`` for 50,000 (the file-name part)."""
    if n_streamlines % 1_000_000 == 0:
        return f"{n_streamlines // 1_000_000}m"
    if n_streamlines % 1000 == 0:
        return f"{n_streamlines // 1000}k"
    return str(n_streamlines)


def benchmark_trx(report: Report, n_streamlines: int) -> TrxWorkload:
    """The cached benchmark TRX for ``n_streamlines`` (written if missing or stale)."""
    label = size_label(n_streamlines)
    path = cache_folder() / f"bench_{label}.trx"
    stamp = path.with_suffix(".json")
    positions, offsets, affine, shape = tractogram(report, n_streamlines)
    expected = {
        "generator": GENERATOR_VERSION,
        "n_streamlines": n_streamlines,
        "n_vertices": len(positions),
        "source": Path(positions.filename).name,
    }
    if not path.exists() or _read_stamp(stamp) != expected:
        start = time.perf_counter()
        write_trx(path, positions, offsets, affine, shape)
        stamp.write_text(json.dumps(expected, indent=2) + "\n")
        report.note(
            f"(wrote {path}: {fmt(path.stat().st_size, 'MB')}, {time.perf_counter() - start:.0f} s)"
        )
    return TrxWorkload(path, n_streamlines, len(positions), affine, shape)


def _read_stamp(stamp: Path) -> dict | None:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


def write_trx(path: Path, positions, offsets, affine, shape) -> None:
    """A ZIP_STORED, zip64 TRX of ``positions`` (N x 3 float32) and ``offsets`` (M + 1)."""
    header = {
        "DIMENSIONS": [int(n) for n in shape],
        "VOXEL_TO_RASMM": np.asarray(affine, dtype=float).tolist(),
        "NB_STREAMLINES": len(offsets) - 1,
        "NB_VERTICES": len(positions),
    }
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("header.json", json.dumps(header, indent=2))
        with zf.open(POSITIONS_NAME, "w", force_zip64=True) as member:
            for first in range(0, len(positions), COPY_ROWS):
                rows = np.ascontiguousarray(positions[first : first + COPY_ROWS], "<f4")
                member.write(memoryview(rows).cast("B"))
        with zf.open("offsets.uint64", "w", force_zip64=True) as member:
            member.write(np.asarray(offsets, "<u8").tobytes())
    partial.rename(path)
