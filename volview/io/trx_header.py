"""The ``header.json`` of a TRX file, parsed and checked.

Owns: ``TrxHeader`` and ``parse_header(path, raw_bytes)``. Required keys are
``VOXEL_TO_RASMM`` (4 rows of 4 numbers; a flat list of 16 is accepted, as trx-python
does), ``DIMENSIONS`` (3 whole numbers), ``NB_VERTICES`` and ``NB_STREAMLINES`` (whole
numbers >= 0). Other keys are allowed and kept in ``extra``.

Coordinate space: ``voxel_to_rasmm`` maps voxel indices of the reference grid (voxel
centres) to RAS+ millimetres. It describes the grid the tractogram was made on; the
streamline positions themselves are already in RAS+ mm.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from volview.errors import CorruptFileError, describe

REQUIRED_KEYS = ("VOXEL_TO_RASMM", "DIMENSIONS", "NB_VERTICES", "NB_STREAMLINES")


@dataclass(frozen=True)
class TrxHeader:
    voxel_to_rasmm: np.ndarray
    dimensions: tuple[int, int, int]
    nb_vertices: int
    nb_streamlines: int
    extra: dict = field(default_factory=dict)


def parse_header(path: Path, raw: bytes) -> TrxHeader:
    """Parse and check header.json; raise CorruptFileError naming the bad key."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise CorruptFileError(describe(path, f"header.json is not valid JSON ({exc})")) from exc
    if not isinstance(doc, dict):
        raise CorruptFileError(
            describe(path, "header.json must hold a JSON object with " + ", ".join(REQUIRED_KEYS))
        )
    missing = [key for key in REQUIRED_KEYS if key not in doc]
    if missing:
        raise CorruptFileError(describe(path, f"header.json lacks {', '.join(missing)}"))
    nb_vertices = _count(path, doc, "NB_VERTICES")
    nb_streamlines = _count(path, doc, "NB_STREAMLINES")
    if nb_streamlines == 0 and nb_vertices > 0:
        raise CorruptFileError(
            describe(path, f"NB_STREAMLINES is 0 but NB_VERTICES is {nb_vertices:,}")
        )
    return TrxHeader(
        voxel_to_rasmm=_affine(path, doc["VOXEL_TO_RASMM"]),
        dimensions=_dimensions(path, doc["DIMENSIONS"]),
        nb_vertices=nb_vertices,
        nb_streamlines=nb_streamlines,
        extra={k: v for k, v in doc.items() if k not in REQUIRED_KEYS},
    )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(path: Path, doc: dict, key: str) -> int:
    value = doc[key]
    if not _is_whole(value) or value < 0:
        raise CorruptFileError(
            describe(path, f"{key} in header.json must be a whole number >= 0, not {value!r:.40}")
        )
    return value


def _affine(path: Path, value) -> np.ndarray:
    rows = value
    if isinstance(value, list) and len(value) == 16:
        rows = [value[i : i + 4] for i in range(0, 16, 4)]
    ok = (
        isinstance(rows, list)
        and len(rows) == 4
        and all(isinstance(r, list) and len(r) == 4 and all(map(_is_number, r)) for r in rows)
    )
    if not ok:
        raise CorruptFileError(
            describe(
                path,
                f"VOXEL_TO_RASMM in header.json must be 4 rows of 4 numbers, not {value!r:.60}",
            )
        )
    if not all(math.isfinite(x) for r in rows for x in r):
        raise CorruptFileError(
            describe(path, "VOXEL_TO_RASMM in header.json holds NaN or infinity")
        )
    affine = np.array(rows, dtype=np.float64)
    affine.flags.writeable = False
    return affine


def _dimensions(path: Path, value) -> tuple[int, int, int]:
    if not (
        isinstance(value, list) and len(value) == 3 and all(_is_whole(n) and n >= 0 for n in value)
    ):
        raise CorruptFileError(
            describe(path, f"DIMENSIONS in header.json must be 3 whole numbers, not {value!r:.60}")
        )
    return (value[0], value[1], value[2])
