"""Typed coordinates: what a user writes in the "Go to" box, and where it leads.

Owns: ``parse_triple`` (three numbers, separated by spaces, commas or semicolons,
optionally in brackets or followed by "mm") and ``target_ijk`` (the voxel a typed
voxel index ``ijk`` or world position ``xyz_mm`` goes to, refused outside the image).
"""

from __future__ import annotations

import math
import re

import numpy as np

from volview.core.volume import Volume

SPACES = ("voxel", "mm")
_SEPARATORS = re.compile(r"[\s,;]+")


def parse_triple(text: str) -> tuple[float, float, float]:
    """Three finite numbers from ``text`` such as "12 40 7", "[12, 40, 7]" or "-3.5,20,4 mm"."""
    cleaned = re.sub(r"mm\s*$", "", text.strip(), flags=re.IGNORECASE).strip().strip("[]()")
    parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if len(parts) != 3:
        raise ValueError(f"type three numbers (x y z or i j k), not {text!r}")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not three numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{text!r} is not three finite numbers")
    return values


def target_ijk(volume: Volume, values: tuple[float, float, float], space: str):
    """The voxel ``values`` names in ``space`` ("voxel": indices, "mm": world RAS+).

    Raises ValueError naming the image's extent when the point is outside it.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, not {space!r}")
    if space == "voxel":
        if not all(float(v).is_integer() for v in values):
            raise ValueError("voxel indices are whole numbers")
        ijk = np.array(values, dtype=np.int64)
    else:
        ijk = np.floor(np.asarray(volume.geometry.world_to_voxel(values), float) + 0.5)
        ijk = ijk.astype(np.int64)
    shape = volume.shape
    if np.any(ijk < 0) or np.any(ijk >= shape):
        where = f"voxel {tuple(int(v) for v in ijk)}" if space == "mm" else "it"
        raise ValueError(
            f"{where} is outside the image (voxels 0..{shape[0] - 1}, 0..{shape[1] - 1}, "
            f"0..{shape[2] - 1})"
        )
    return tuple(int(v) for v in ijk)
