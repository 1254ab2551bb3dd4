"""TractLayer: one loaded tractogram as the views draw it.

Owns: the display settings of a tractogram (``TractStyle``: colour mode, solid
colour, scalar and its range, opacity, line width, slab half-width, streamline cap),
its visibility and which of its groups are shown, the spatial index once it is
built (in the voxel grid of the image it is drawn over), and the per-plane query:
``segments(axis, depth)`` -> the segments inside the slab, ``colours(segments)`` ->
their RGBA. ``changed`` fires when anything that alters the drawing changes.
Coordinate spaces: streamline points are world ``xyz_mm`` (RAS+); the index, slabs
and segments speak the displayed image's voxel space ``ijk``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from volview.core.streamline_colours import (
    colour_by_direction,
    colour_by_group,
    colour_by_streamline_value,
    colour_by_vertex_value,
    colour_solid,
    default_group_colours,
)
from volview.core.streamline_index import Segments, Slab, StreamlineIndex, subsample
from volview.io.images import ImageFile, usable_geometry
from volview.io.proxy import ArrayProxy
from volview.io.tractogram import Tractogram

COLOUR_MODES = ("direction", "solid", "group", "scalar")
DEFAULT_CAP = 200_000
#: values read from a per-vertex array to pick its default colour range
RANGE_SAMPLE = 100_000
#: affine entries (mm) and dimensions may differ this much before we call it a mismatch
GRID_TOLERANCE_MM = 1e-3
UNGROUPED = "(no group)"


@dataclass(frozen=True)
class TractStyle:
    colour_mode: str = "direction"
    solid_rgb: tuple[int, int, int] = (255, 220, 0)
    scalar: str = ""  # "dps:name" or "dpv:name"
    scalar_range: tuple[float, float] = (0.0, 1.0)
    colormap: str = "viridis"
    opacity: float = 1.0
    line_width: int = 1
    half_width: float = 1.0  # slab half-thickness in voxels
    cap: int | None = DEFAULT_CAP

    def __post_init__(self) -> None:
        if self.colour_mode not in COLOUR_MODES:
            raise ValueError(f"colour mode must be one of {COLOUR_MODES}, not {self.colour_mode!r}")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be between 0 and 1, not {self.opacity}")
        if not 1 <= self.line_width <= 9:
            raise ValueError(f"line width must be 1 to 9 pixels, not {self.line_width}")
        if not 0 < self.half_width <= 50:
            raise ValueError(f"slab half-width must be in (0, 50] voxels, not {self.half_width}")
        if self.cap is not None and self.cap < 1:
            raise ValueError(f"the streamline cap must be at least 1, not {self.cap}")
        lo, hi = self.scalar_range
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"scalar range needs finite lo < hi, not {self.scalar_range}")


class TractLayer:
    changed = Signal()

    def __init__(self, tractogram: Tractogram) -> None:
        self.tractogram = tractogram
        self.name = tractogram.path.name
        self.visible = True
        self._group_of: np.ndarray | None = None
        self.style = TractStyle(scalar=next(iter(self.scalar_names()), ""))
        if self.style.scalar:
            self.style = dataclasses.replace(
                self.style, scalar_range=self.default_range(self.style.scalar)
            )
        self.group_visible = {name: True for name in self.group_names()}
        self.index: StreamlineIndex | None = None
        self.grid_note = ""
        #: the image grid the index was built in (see Session.index_grid)
        self.grid = None
        self._selection_cache: tuple | None = None
        self._wanted_cache: tuple | None = None

    # -- settings --------------------------------------------------------------------
    def set_style(self, **changes) -> None:
        """Change display settings (validated by TractStyle); redraws once."""
        style = dataclasses.replace(self.style, **changes)
        if "scalar" in changes and "scalar_range" not in changes and style.scalar:
            style = dataclasses.replace(style, scalar_range=self.default_range(style.scalar))
        if style != self.style:
            self.style = style
            self.changed.emit()

    def set_visible(self, visible: bool) -> None:
        if visible != self.visible:
            self.visible = visible
            self.changed.emit()

    def set_group_visible(self, name: str, visible: bool) -> None:
        if name not in self.group_visible:
            raise KeyError(f"{self.name} has no group {name!r}")
        if self.group_visible[name] != visible:
            self.group_visible[name] = visible
            self.changed.emit()

    def index_wanted(self) -> np.ndarray | None:
        """Sorted ids of the streamlines the index must hold for the cap (None: all).

        Indexing only the cap's subsample makes the first overlay of a huge
        tractogram that much faster; a larger cap needs a new index.
        """
        cap, n = self.style.cap, self.tractogram.n_streamlines
        if cap is None or cap >= n:
            return None
        if self._wanted_cache is None or self._wanted_cache[0] != cap:
            self._wanted_cache = (cap, subsample(n, cap))
        return self._wanted_cache[1]

    def needs_index(self, grid) -> bool:
        """Whether the index is missing, built for another grid, or lacks streamlines
        the cap now shows."""
        if self.index is None or self.grid != grid:
            return True
        wanted = self.index_wanted()
        if wanted is None:
            return self.index.indexed is not None
        return not self.index.covers(wanted)

    def set_index(self, index: StreamlineIndex | None, grid_note: str = "", grid=None) -> None:
        self.index = index
        self.grid_note = grid_note
        self.grid = grid
        self.changed.emit()

    # -- what the file offers ----------------------------------------------------------
    def scalar_names(self) -> list[str]:
        """Scalars that can colour streamlines: ``dps:<name>`` and ``dpv:<name>`` (1 column)."""
        t = self.tractogram
        names = [f"dps:{k}" for k, v in t.dps.items() if v.ndim == 1 or v.shape[1] == 1]
        return names + [f"dpv:{k}" for k, v in t.dpv.items() if v.ndim == 1 or v.shape[1] == 1]

    def group_names(self) -> list[str]:
        names = list(self.tractogram.groups)
        if names and (self.group_of() < 0).any():
            names.append(UNGROUPED)
        return names

    def group_counts(self) -> dict[str, int]:
        counts = {name: len(ids) for name, ids in self.tractogram.groups.items()}
        if UNGROUPED in self.group_visible:
            counts[UNGROUPED] = int((self.group_of() < 0).sum())
        return counts

    def group_of(self) -> np.ndarray:
        """Group number of each streamline (-1: none; the last group wins on overlap)."""
        if self._group_of is None:
            group_of = np.full(self.tractogram.n_streamlines, -1, dtype=np.int32)
            for number, ids in enumerate(self.tractogram.groups.values()):
                group_of[np.asarray(ids, dtype=np.int64)] = number
            self._group_of = group_of
        return self._group_of

    def group_colours(self) -> np.ndarray:
        """(groups, 3) uint8: the file's dpg colour where it has one, else distinct colours."""
        names = list(self.tractogram.groups)
        colours = default_group_colours(max(len(names), 1))[: len(names)].copy()
        for number, name in enumerate(names):
            data = self.tractogram.dpg.get(name, {})
            value = data.get("color", data.get("colour"))
            if value is not None and np.asarray(value).size >= 3:
                rgb = np.asarray(value, dtype=np.float64).ravel()[:3]
                colours[number] = np.clip(rgb * (255 if rgb.max() <= 1 else 1), 0, 255)
        return colours

    def default_range(self, scalar: str) -> tuple[float, float]:
        """Colour range of a scalar: min-max of its values (a strided sample for dpv)."""
        values = self._scalar_values(scalar)
        step = max(1, len(values) // RANGE_SAMPLE)
        sample = np.asarray(values[::step], dtype=np.float64).ravel()
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return 0.0, 1.0
        lo, hi = float(sample.min()), float(sample.max())
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def _scalar_values(self, scalar: str) -> np.ndarray:
        kind, _, name = scalar.partition(":")
        source = self.tractogram.dps if kind == "dps" else self.tractogram.dpv
        if kind not in ("dps", "dpv") or name not in source:
            raise KeyError(f"{self.name} has no scalar {scalar!r}")
        return source[name]

    # -- drawing ---------------------------------------------------------------------
    def selection(self) -> np.ndarray:
        """Streamlines drawn: the cap's deterministic subsample, in shown groups only."""
        key = (self.style.cap, tuple(self.group_visible.items()))
        if self._selection_cache is None or self._selection_cache[0] != key:
            chosen = self.index_wanted()
            if chosen is None:
                chosen = np.arange(self.tractogram.n_streamlines, dtype=np.int64)
            if self.group_visible and not all(self.group_visible.values()):
                shown = [
                    n for n, name in enumerate(self.tractogram.groups) if self.group_visible[name]
                ]
                allowed = np.isin(self.group_of(), shown)
                if self.group_visible.get(UNGROUPED, False):
                    allowed |= self.group_of() < 0
                chosen = chosen[allowed[chosen]]
            self._selection_cache = (key, chosen)
        return self._selection_cache[1]

    def segments(self, axis: int, depth: float) -> Segments:
        """Segments inside the slab around plane ``axis == depth`` (empty until indexed)."""
        if self.index is None or not self.visible:
            return Segments.empty()
        # not cached: a million-streamline slab is ~14 MB, and a view redraws only
        # when its slice, zoom or pan changes
        slab = Slab(axis, float(depth), self.style.half_width)
        return self.index.query(slab, self.selection())

    def warm(self, index: StreamlineIndex) -> None:
        """Do the first draw's set-up ahead, e.g. on the worker thread that built ``index``.

        Picks the subsample and lets ``index`` filter itself for it on every axis, so
        that the first slice drawn afterwards costs only its own query.
        """
        selection = self.selection()
        for axis in range(3):
            index.query(Slab(axis, -1e9, 0.0), selection)  # far away: nothing is read

    def colours(self, segments: Segments, lut: np.ndarray) -> np.ndarray:
        """(n, 4) uint8 RGBA of ``segments`` by the colour mode; ``lut`` for scalars."""
        style, alpha = self.style, self.style.opacity
        if style.colour_mode == "solid":
            return colour_solid(segments, style.solid_rgb, alpha)
        if style.colour_mode == "group" and self.tractogram.groups:
            return colour_by_group(segments, self.group_of(), self.group_colours(), alpha)
        if style.colour_mode == "scalar" and style.scalar:
            values = self._scalar_values(style.scalar)
            lo, hi = style.scalar_range
            if style.scalar.startswith("dps:"):
                return colour_by_streamline_value(segments, values, lut, lo, hi, alpha)
            return colour_by_vertex_value(segments, values, lut, lo, hi, alpha)
        return colour_by_direction(segments, alpha)

    def close(self) -> None:
        self.index = None
        self.tractogram.close()


def grid_image(tractogram: Tractogram) -> ImageFile:
    """An empty image to draw a tractogram on when no image is open.

    The file's reference grid (VOXEL_TO_RASMM, DIMENSIONS) when it has one, else a
    1 mm grid around the streamlines' bounding box (TCK files keep no grid). The
    voxels are a broadcast zero: no memory is allocated for them.
    """
    affine, dims = tractogram.voxel_to_rasmm, tractogram.dimensions
    if affine is None or dims is None or min(dims) < 1:
        affine, dims = _bounding_grid(tractogram.positions)
    shape = (*(int(n) for n in dims), 1)
    zeros = np.broadcast_to(np.float32(0), shape)
    affine, sizes, problems = usable_geometry(affine, (1.0, 1.0, 1.0))
    return ImageFile(
        path=tractogram.path,
        format_name="empty grid",
        shape=shape,
        affine=affine,
        voxel_sizes=sizes,
        orientation_known=not problems,
        proxy=ArrayProxy(zeros),
        notes=("no image: showing the tractogram's reference grid", *problems),
    )


def _bounding_grid(positions: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """1 mm voxels covering the points (a strided sample of huge files), with a margin."""
    step = max(1, len(positions) // 1_000_000)
    sample = np.asarray(positions[::step], dtype=np.float64)
    if sample.size == 0:
        return np.eye(4), (1, 1, 1)
    lo = np.floor(sample.min(axis=0)) - 2
    hi = np.ceil(sample.max(axis=0)) + 2
    affine = np.eye(4)
    affine[:3, 3] = lo
    return affine, tuple(int(n) + 1 for n in hi - lo)


def grid_note(tractogram: Tractogram, affine: np.ndarray, shape: tuple[int, int, int]) -> str:
    """Words for the user when the file's reference grid is not the image's, else ""."""
    if tractogram.voxel_to_rasmm is None or tractogram.dimensions is None:
        return ""
    problems = []
    if not np.allclose(tractogram.voxel_to_rasmm, affine, atol=GRID_TOLERANCE_MM):
        problems.append("voxel-to-RAS transform")
    if tuple(tractogram.dimensions) != tuple(shape):
        problems.append(f"dimensions {tuple(tractogram.dimensions)} vs {tuple(shape)}")
    if not problems:
        return ""
    return (
        f"{tractogram.path.name} was made on a different grid ({', '.join(problems)}); "
        "streamlines are placed by their world coordinates"
    )
