"""Generate ``demo_tracts.trx``: a small synthetic tractogram over the bundled demo brain.

Owns: the hand-placed geometry of three bundles (``CST_left``, ``CST_right``: the
corticospinal tracts; ``CC_body``: the body of the corpus callosum), their
deterministic sampling, and a minimal TRX writer in pure numpy + ``zipfile``/``json``.

Coordinate space: everything is MNI152 2009 RAS+ millimetres (x left -> right,
y posterior -> anterior, z inferior -> superior), the world space of the demo T1
(``demo_image()``), whose shape and affine become ``DIMENSIONS``/``VOXEL_TO_RASMM``.

Invariants: the output depends only on ``SEED`` and the constants below, and is
byte-identical from run to run: random draws are ``Generator.random`` (exact from the
bit stream), the geometry uses only + - * / and sqrt (correctly rounded everywhere,
no BLAS, no libm transcendentals), and the zip has fixed entry order, dates and
attributes. The TRX is a stored (uncompressed) zip, little-endian: float16 positions
(the TRX default; within 1/32 mm of the curves for |coordinate| < 128 mm, which keeps
a few thousand streamlines under 1.5 MB), uint32 offsets with the final sentinel,
float32 ``dps/length_mm`` and ``dpv/curvature`` (1/mm, both from the float64 curves),
``groups/<bundle>`` (uint32) and ``dpg/<bundle>/color.3.uint8``.

Regenerate (writes next to this file, prints counts and the in-brain fraction)::

    python -m volview.resources.demo.make_demo_tracts
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from volview.resources import DEMO_TRACTS, demo_image

SEED = 20090101
#: resampling step along every streamline (mm)
STEP_MM = 2.0
#: samples per spline segment before resampling
DENSE_SAMPLES = 24
#: streamlines per bundle, in file order
COUNTS = {"CST_left": 850, "CST_right": 850, "CC_body": 950}
#: conventional colours: corticospinal blue (superior-inferior), callosal red (left-right)
COLOURS = {"CST_left": (40, 90, 230), "CST_right": (90, 170, 255), "CC_body": (220, 40, 40)}
#: the demo T1 is brain-masked: 0 outside the brain, >= ~50 (CSF) inside
BRAIN_THRESHOLD = 40
#: T1 intensity above which a voxel is (mostly) white matter in the demo template
WHITE_MATTER_THRESHOLD = 150
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Corticospinal tract, right hemisphere (x is mirrored for the left): ventral pons,
# cerebral peduncle, posterior limb of the internal capsule, then a fan through the
# corona radiata to the precentral gyrus, from the vertex (leg) to lateral (face).
PONS = (9.0, -21.0, -36.0)
PEDUNCLE = (14.0, -18.0, -14.0)
INTERNAL_CAPSULE = (22.0, -12.0, 6.0)
MOTOR_STRIP = (
    (12.0, -27.0, 72.0),
    (24.0, -24.0, 68.0),
    (36.0, -19.0, 60.0),
    (45.0, -13.0, 50.0),
    (51.0, -8.0, 40.0),
)

# Corpus callosum body: midline height (z, mm) of its centre along y, from the template.
CC_Y = (-30.0, -20.0, 0.0, 10.0, 20.0)
CC_Z = (21.0, 25.0, 25.0, 22.0, 15.0)
CC_Y_RANGE = (-30.0, 18.0)


@dataclass(frozen=True)
class Arrays:
    """The arrays of the demo tractogram, in RAS+ mm, ready to be written."""

    positions: np.ndarray  # (V, 3) float64
    offsets: np.ndarray  # (S + 1,) int64
    length_mm: np.ndarray  # (S,) float64
    curvature: np.ndarray  # (V,) float64, 1/mm
    groups: dict[str, np.ndarray]  # name -> streamline indices


# --- curves ----------------------------------------------------------------------------


def catmull_rom(points: np.ndarray, samples: int = DENSE_SAMPLES) -> np.ndarray:
    """Dense centripetal Catmull-Rom curve through (n, 3) control points, ends included."""
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    gaps = padded[1:] - padded[:-1]
    knots = np.concatenate([[0.0], np.cumsum(np.sqrt(np.sqrt(_sq_norm(gaps))))])
    pieces = [
        _segment(padded[i : i + 4], knots[i : i + 4], samples) for i in range(len(points) - 1)
    ]
    return np.vstack([*pieces, points[-1:]])


def _segment(p: np.ndarray, t: np.ndarray, samples: int) -> np.ndarray:
    """Barry-Goldman evaluation between p[1] and p[2] (``samples`` points, end excluded)."""
    u = (t[1] + (t[2] - t[1]) * (np.arange(samples) / samples))[:, None]

    def lerp(a, b, ta, tb):
        return ((tb - u) * a + (u - ta) * b) / (tb - ta)

    a1 = lerp(p[0], p[1], t[0], t[1])
    a2 = lerp(p[1], p[2], t[1], t[2])
    a3 = lerp(p[2], p[3], t[2], t[3])
    return lerp(lerp(a1, a2, t[0], t[2]), lerp(a2, a3, t[1], t[3]), t[1], t[2])


def _sq_norm(vectors: np.ndarray) -> np.ndarray:
    """Squared lengths of (n, 3) vectors, summed in a fixed order."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    return x * x + y * y + z * z


def resample(line: np.ndarray, step: float = STEP_MM) -> np.ndarray:
    """Points at equal arc-length spacing (about ``step`` mm) along a polyline, ends kept."""
    arc = np.concatenate([[0.0], np.cumsum(np.sqrt(_sq_norm(line[1:] - line[:-1])))])
    n_points = max(2, round(float(arc[-1]) / step) + 1)
    targets = np.arange(n_points) * (arc[-1] / (n_points - 1))
    targets[-1] = arc[-1]
    index = np.clip(np.searchsorted(arc, targets, side="right") - 1, 0, len(line) - 2)
    frac = (targets - arc[index]) / (arc[index + 1] - arc[index])
    return line[index] + frac[:, None] * (line[index + 1] - line[index])


def arc_length(line: np.ndarray) -> float:
    """Length of a polyline (mm), summed in order."""
    return float(np.cumsum(np.sqrt(_sq_norm(line[1:] - line[:-1])))[-1])


def curvature(line: np.ndarray) -> np.ndarray:
    """Discrete curvature (1/mm) at each vertex: turn of the unit tangent per mm."""
    edges = line[1:] - line[:-1]
    lengths = np.sqrt(_sq_norm(edges))
    tangents = edges / lengths[:, None]
    turn = np.sqrt(_sq_norm(tangents[1:] - tangents[:-1])) / (0.5 * (lengths[1:] + lengths[:-1]))
    return np.concatenate([turn[:1], turn, turn[-1:]])


# --- bundles ---------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, half_width) -> np.ndarray:
    """Three uniform draws in [-half_width, half_width] (per axis)."""
    return (rng.random(3) * 2.0 - 1.0) * np.asarray(half_width, dtype=np.float64)


def _along(knots, s: float) -> np.ndarray:
    """The point at fraction ``s`` (0..1) of a piecewise-linear path through ``knots``."""
    knots = np.asarray(knots, dtype=np.float64)
    position = s * (len(knots) - 1)
    i = min(int(position), len(knots) - 2)
    return knots[i] + (position - i) * (knots[i + 1] - knots[i])


def cst_controls(rng: np.random.Generator, side: float) -> np.ndarray:
    """Control points of one corticospinal streamline; ``side`` is -1 (left) or +1 (right)."""
    u = rng.random()
    s = u * (0.45 + 0.5 * u)  # along the motor strip, denser towards the vertex
    lane = rng.random(2) * 2.0 - 1.0  # the streamline's place in the bundle's cross-section
    somatotopy = np.array([0.0, (s - 0.4) * 6.0, 0.0])  # leg fibres posterior in the capsule
    pons = PONS + np.array([2.5 * lane[0], 2.5 * lane[1], 0.0]) + _uniform(rng, (1, 1, 3))
    peduncle = PEDUNCLE + np.array([2.0 * lane[0], 2.5 * lane[1], 0.0]) + _uniform(rng, 1.0)
    capsule = INTERNAL_CAPSULE + np.array([1.5 * lane[0], 2.0 * lane[1], 0.0]) + somatotopy
    capsule = capsule + _uniform(rng, 1.0)
    cortex = _along(MOTOR_STRIP, s) + _uniform(rng, (2.0, 3.0, 2.0))
    corona = 0.5 * (capsule + cortex) + _uniform(rng, 2.0)
    controls = np.array([pons, peduncle, capsule, corona, cortex])
    controls[:, 0] *= side
    return controls


def cc_controls(rng: np.random.Generator) -> np.ndarray:
    """Control points of one callosal streamline, left cortex -> midline -> right cortex."""
    y = CC_Y_RANGE[0] + (CC_Y_RANGE[1] - CC_Y_RANGE[0]) * rng.random()
    z = float(np.interp(y, CC_Y, CC_Z)) + 1.5 * (rng.random() * 2.0 - 1.0)
    middle = np.array([0.0, y, z]) + _uniform(rng, (1.0, 1.0, 0.0))
    sides = [_cc_half(rng, y, z, side) for side in (-1.0, 1.0)]
    return np.vstack([sides[0][::-1], middle, sides[1]])


def _cc_half(rng: np.random.Generator, y: float, z: float, side: float) -> np.ndarray:
    """Three control points arching up and out from the midline (nearest first)."""
    over_ventricle = np.array([13.0, y, z + 6.0]) + _uniform(rng, (1.0, 1.5, 1.0))
    semiovale = np.array([25.0, y, z + 15.0]) + _uniform(rng, (2.0, 3.0, 2.0))
    reach = rng.random()
    cortex = np.array([31.0 + 10.0 * reach, y, z + 30.0 - 4.0 * reach]) + _uniform(rng, (2, 6, 5))
    controls = np.array([over_ventricle, semiovale, cortex])
    controls[:, 0] *= side
    return controls


def make_streamlines(seed: int = SEED) -> dict[str, list[np.ndarray]]:
    """Every bundle's streamlines (float64, RAS+ mm), drawn in a fixed order."""
    rng = np.random.default_rng(seed)
    makers = {
        "CST_left": lambda: cst_controls(rng, -1.0),
        "CST_right": lambda: cst_controls(rng, 1.0),
        "CC_body": lambda: cc_controls(rng),
    }
    return {
        name: [resample(catmull_rom(makers[name]())) for _ in range(count)]
        for name, count in COUNTS.items()
    }


def make_arrays(seed: int = SEED) -> Arrays:
    """Concatenate the bundles into TRX-shaped arrays."""
    bundles = make_streamlines(seed)
    lines = [line for bundle in bundles.values() for line in bundle]
    offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64)
    groups, start = {}, 0
    for name, bundle in bundles.items():
        groups[name] = np.arange(start, start + len(bundle), dtype=np.int64)
        start += len(bundle)
    return Arrays(
        positions=np.vstack(lines),
        offsets=offsets,
        length_mm=np.array([arc_length(line) for line in lines]),
        curvature=np.concatenate([curvature(line) for line in lines]),
        groups=groups,
    )


# --- writing ---------------------------------------------------------------------------


def positions_float16(positions: np.ndarray) -> np.ndarray:
    """Positions as stored: float64 -> float32 -> float16, each step round-to-nearest-even.

    Going through float32 makes the result the same whether numpy casts in software or
    with the CPU's half-precision instructions (which start from float32).
    """
    return positions.astype("<f4").astype("<f2")


def trx_entries(arrays: Arrays, shape: tuple[int, ...], affine: np.ndarray) -> dict[str, bytes]:
    """The TRX entries, ``name -> bytes``, in the order they are written."""
    header = {
        "DIMENSIONS": [int(n) for n in shape[:3]],
        "VOXEL_TO_RASMM": np.asarray(affine, dtype=np.float64).tolist(),
        "NB_VERTICES": len(arrays.positions),
        "NB_STREAMLINES": len(arrays.offsets) - 1,
    }
    entries = {
        "header.json": json.dumps(header, indent=2).encode("utf-8") + b"\n",
        "positions.3.float16": positions_float16(arrays.positions).tobytes(),
        "offsets.uint32": arrays.offsets.astype("<u4").tobytes(),
        "dps/length_mm.float32": arrays.length_mm.astype("<f4").tobytes(),
        "dpv/curvature.float32": arrays.curvature.astype("<f4").tobytes(),
    }
    for name, indices in arrays.groups.items():
        entries[f"groups/{name}.uint32"] = indices.astype("<u4").tobytes()
        entries[f"dpg/{name}/color.3.uint8"] = np.array(COLOURS[name], "u1").tobytes()
    return entries


def write_zip(path: Path, entries: dict[str, bytes]) -> None:
    """Write a stored (uncompressed) zip with fixed metadata, atomically (temp + rename)."""
    temp = path.with_name(path.name + ".tmp")
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 3  # Unix, whatever platform writes it
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_demo_tracts(path: str | os.PathLike, seed: int = SEED) -> Arrays:
    """Generate the demo tractogram and write it to ``path``; return its arrays."""
    reference = nib.load(demo_image())
    arrays = make_arrays(seed)
    write_zip(Path(path), trx_entries(arrays, reference.shape, reference.affine))
    return arrays


# --- checking --------------------------------------------------------------------------


def load_t1() -> tuple[np.ndarray, np.ndarray]:
    """The WHOLE demo T1 (197 x 233 x 189 uint8, about 9 MB) and its affine."""
    image = nib.load(demo_image())
    return np.asarray(image.dataobj), image.affine


def t1_at(positions: np.ndarray, t1: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """T1 intensity at the voxel nearest to each RAS+ mm point (0 outside the grid)."""
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(affine), positions)).astype(np.intp)
    inside = np.all((ijk >= 0) & (ijk < np.array(t1.shape[:3])), axis=1)
    values = np.zeros(len(positions), dtype=t1.dtype)
    values[inside] = t1[tuple(ijk[inside].T)]
    return values


def report(path: Path, arrays: Arrays) -> str:
    """Counts, size and how many vertices fall in the brain / in white matter."""
    t1, affine = load_t1()
    values = t1_at(positions_float16(arrays.positions).astype(np.float64), t1, affine)
    lines = [
        f"{path}: {path.stat().st_size:,} bytes",
        f"streamlines: {len(arrays.offsets) - 1:,}   vertices: {len(arrays.positions):,}",
        *(f"  {name}: {len(ids):,} streamlines" for name, ids in arrays.groups.items()),
        f"vertices in the brain (T1 > {BRAIN_THRESHOLD}): {np.mean(values > BRAIN_THRESHOLD):.2%}",
        f"vertices in white matter (T1 > {WHITE_MATTER_THRESHOLD}): "
        f"{np.mean(values > WHITE_MATTER_THRESHOLD):.2%}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the demo tractogram (by default over the shipped one) and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).with_name(DEMO_TRACTS)
    parser.add_argument("--output", type=Path, default=default, help=f"default: {default}")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    arrays = write_demo_tracts(args.output, args.seed)
    print(report(args.output, arrays))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
