"""Image layers over the base image: an overlay's display settings and its planes.

Owns: ``LayerStyle`` (visibility, opacity, colormap, window, threshold, label mode),
``ImageLayer`` (one overlay image, its style, the range of the values it has shown so
far; ``changed`` fires when its drawing changes, or when it is read from another
image of the same voxels), ``overlay_plane`` (an overlay's
values on the pixels of one base-image ``SliceRequest``) and ``colourise`` (values ->
RGBA with a transparent background).

Coordinate spaces: requests name voxel ranges of the *base* image (``ijk_base``); an
overlay voxel is found by nearest neighbour through world millimetres,
``ijk_overlay = round(inv(A_overlay) @ A_base @ ijk_base)``. Only the overlay voxels
under the displayed pixels are read (one plane-sized block per overlay plane crossed:
one block when the grids are parallel, a few for an oblique pair).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from volview.core.colormap_names import COLORMAPS
from volview.core.memory_load import with_image
from volview.core.slicing import SliceRequest
from volview.core.volume import Volume, robust_range

THRESHOLD_MODES = ("none", "above", "below", "outside")
#: an integer image with at most this many distinct values in its sample is a label map
LABEL_MAX_VALUES = 256
#: NIfTI intent code of a label image (NIFTI_INTENT_LABEL)
INTENT_LABEL = 1002
#: an entry of the base-to-overlay voxel matrix this small (relative to its largest)
#: is a rounding residue: the two grids are parallel along it
PARALLEL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LayerStyle:
    visible: bool = True
    opacity: float = 1.0
    colormap: str = "hot"
    #: if set, negative values are drawn with this colormap, by their magnitude
    negative_colormap: str | None = None
    window: tuple[float, float] = (0.0, 1.0)
    threshold_mode: str = "none"  # show values above / below / outside +-value
    threshold: float = 0.0
    labels: bool = False  # colour by a stable random colour per integer value; 0 clear

    def __post_init__(self) -> None:
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be between 0 and 1, not {self.opacity}")
        for name in (self.colormap, self.negative_colormap or self.colormap):
            if name not in COLORMAPS:
                raise ValueError(f"unknown colormap {name!r}; choose one of {COLORMAPS}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold mode must be one of {THRESHOLD_MODES}")
        lo, hi = self.window
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"a window needs finite lo < hi, not {self.window}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"the threshold must be a finite number, not {self.threshold}")


class ImageLayer:
    """One overlay image drawn over the base image, resampled into its grid."""

    changed = Signal()

    def __init__(self, volume: Volume, style: LayerStyle) -> None:
        self.volume = volume
        self.style = style
        #: True while a copy of the voxels is being made (``use_image`` follows): the
        #: file is not read meanwhile, the planes are None and the readout waits
        self.waiting_for_copy = False

    @classmethod
    def open(cls, volume: Volume, intent_code: int = 0) -> ImageLayer:
        """A layer with defaults that suit the data (see ``default_style``)."""
        return cls(volume, default_style(volume, intent_code))

    @property
    def seen_range(self) -> tuple[float, float] | None:
        """(min, max) of the finite values this layer has shown so far; None before."""
        return self.volume.seen_range

    @property
    def name(self) -> str:
        return self.volume.name

    @property
    def image(self):
        return self.volume.image

    def use_image(self, image) -> None:
        """Read this layer from ``image`` from now on: its voxels read another way (a
        copy in RAM of a compressed file). Keeps what was seen; the caller closes the
        old image. Redraws once."""
        self.volume = with_image(self.volume, image)
        self.waiting_for_copy = False
        self.changed.emit()

    def set_waiting_for_copy(self, waiting: bool) -> None:
        """Say that a copy of the voxels is being made (or is no longer); redraws."""
        if waiting != self.waiting_for_copy:
            self.waiting_for_copy = waiting
            self.changed.emit()

    def set_style(self, **changes) -> None:
        """Change display settings (validated by LayerStyle); redraws once."""
        style = dataclasses.replace(self.style, **changes)
        if style != self.style:
            self.style = style
            self.changed.emit()

    def plane(self, base_affine: np.ndarray, request: SliceRequest) -> np.ndarray | None:
        """This layer's values on the pixels of ``request`` (NaN outside the overlay);
        None while it waits for a copy of its voxels."""
        if self.waiting_for_copy:
            return None
        t = min(request.t, self.volume.n_volumes - 1)
        values = overlay_plane(self.volume.image, base_affine, request, t)
        self.volume.seen.note(values)
        return values

    def value_at(self, base_affine: np.ndarray, ijk_base, t: int = 0) -> float | None:
        """The overlay value at base voxel ``ijk_base`` (None outside the overlay, or
        while it waits for a copy of its voxels)."""
        if self.waiting_for_copy:
            return None
        ijk = overlay_ijk(self.volume.image.affine, base_affine, np.asarray(ijk_base, float))
        if not all(0 <= v < n for v, n in zip(ijk, self.volume.shape, strict=True)):
            return None
        return self.volume.value(tuple(int(v) for v in ijk), min(t, self.volume.n_volumes - 1))

    def value_text(self, value: float | None) -> str:
        """A value of this layer for a readout: "outside", "label N" or the number
        ("reading…" while it waits for a copy of its voxels)."""
        if self.waiting_for_copy:
            return "reading\u2026"
        if value is None:
            return "outside"
        return f"label {value:.0f}" if self.style.labels else f"{value:.6g}"

    def close(self) -> None:
        self.volume.image.close()


def default_style(volume: Volume, intent_code: int = 0) -> LayerStyle:
    """How an overlay first looks, as in other viewers' overlays.

    Label maps get label colours. Other images get a window from cal_min/cal_max or
    a robust range of their strided sample, and values below the window are
    transparent, so the base image shows around them. Signed maps (statistics) are
    drawn as FSL does: positive red-yellow, negative blue, by magnitude, hidden
    below the window's low end.
    """
    sample = volume.intensity_sample
    if _looks_like_labels(volume, sample, intent_code):
        return LayerStyle(labels=True)
    window = volume.image.cal_range or robust_range(sample)
    finite = sample[np.isfinite(sample)]
    negative = finite[finite < 0]
    if window[0] < 0 and negative.size > 0.05 * max(np.count_nonzero(finite), 1):
        window = robust_range(np.abs(finite))
        return LayerStyle(
            colormap="red_yellow",
            negative_colormap="blue_lightblue",
            window=window,
            threshold_mode="outside",
            threshold=window[0],
        )
    return LayerStyle(window=window, threshold_mode="above", threshold=window[0])


def _looks_like_labels(volume: Volume, sample: np.ndarray, intent_code: int) -> bool:
    """A label intent, or unscaled integers >= 0 with few distinct values."""
    if intent_code == INTENT_LABEL:
        return True
    if volume.image.stored_kind not in "iub" or volume.image.scaling != (1.0, 0.0):
        return False
    values = np.unique(sample)
    whole = bool(np.all(values == np.rint(values)))
    return bool(whole and 1 < len(values) <= LABEL_MAX_VALUES and values.min() >= 0)


def overlay_ijk(overlay_affine: np.ndarray, base_affine: np.ndarray, ijk_base: np.ndarray):
    """Nearest overlay voxel indices (int64, (3, ...)) of base voxels ((3, ...) floats)."""
    to_overlay = np.linalg.inv(overlay_affine) @ base_affine
    flat = ijk_base.reshape(3, -1)
    ijk = to_overlay[:3, :3] @ flat + to_overlay[:3, 3:4]
    return np.floor(ijk + 0.5).astype(np.int64).reshape(ijk_base.shape)


def overlay_plane(image, base_affine: np.ndarray, request: SliceRequest, t: int) -> np.ndarray:
    """Values of ``image`` (an ImageFile) on the display pixels of a base-image request.

    Returns float32 ``[row, col]`` in display orientation, the shape of what
    ``extract_slice`` returns for the base image; NaN where the overlay has no voxel.
    Grids whose axes are parallel (the usual case) are resampled by rows and columns;
    an oblique pair pixel by pixel.
    """
    layout = request.layout
    cols = np.arange(*request.col_range.indices(layout.n_cols))
    rows = np.arange(*request.row_range.indices(layout.n_rows))
    to_overlay = np.linalg.inv(image.affine) @ base_affine
    axis_of = parallel_axes(to_overlay)
    if axis_of is not None:
        pixels = _parallel_plane(image, to_overlay, axis_of, request, rows, cols, t)
    else:
        pixels = _oblique_plane(image, base_affine, request, rows, cols, t)
    if layout.row_flip:
        pixels = pixels[::-1, :]
    if layout.col_flip:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels)


def parallel_axes(to_overlay: np.ndarray) -> tuple[int, int, int] | None:
    """For each base voxel axis, the overlay voxel axis that moves with it alone; None
    when an overlay index depends on more than one base index (oblique grids)."""
    matrix = np.abs(to_overlay[:3, :3])
    negligible = matrix <= PARALLEL_TOLERANCE * matrix.max()
    if not np.all(np.count_nonzero(~negligible, axis=0) == 1):
        return None
    axis_of = tuple(int(np.argmax(matrix[:, b])) for b in range(3))
    return axis_of if len(set(axis_of)) == 3 else None


def _parallel_plane(image, to_overlay, axis_of, request, rows, cols, t) -> np.ndarray:
    """``overlay_plane`` before flips, for parallel grids: one block read, indexed by
    the overlay rows and columns under the base rows and columns."""
    layout = request.layout
    out = np.full((len(rows), len(cols)), np.nan, np.float32)

    def nearest(base_axis: int, values: np.ndarray) -> tuple[int, np.ndarray]:
        o = axis_of[base_axis]
        scaled = to_overlay[o, base_axis] * values + to_overlay[o, 3]
        return o, np.floor(scaled + 0.5).astype(np.int64)

    o_depth, depth = nearest(layout.depth_axis, np.array([request.depth_index]))
    (o_row, r), (o_col, c) = nearest(layout.row_axis, rows), nearest(layout.col_axis, cols)
    shape = image.shape
    r_in, c_in = (r >= 0) & (r < shape[o_row]), (c >= 0) & (c < shape[o_col])
    if not (0 <= depth[0] < shape[o_depth] and r_in.any() and c_in.any()):
        return out
    r, c = r[r_in], c[c_in]
    ranges = {o_row: slice(r.min(), r.max() + 1), o_col: slice(c.min(), c.max() + 1)}
    block = image.proxy.plane(o_depth, int(depth[0]), t, tuple(ranges[o] for o in sorted(ranges)))
    if o_row > o_col:
        block = block.T  # the plane's axes come in ascending order: make it [row, col]
    out[np.ix_(r_in, c_in)] = block[np.ix_(r - r.min(), c - c.min())]
    return out


def _oblique_plane(image, base_affine, request, rows, cols, t) -> np.ndarray:
    """``overlay_plane`` before flips, for any pair of grids: pixel by pixel."""
    layout = request.layout
    grid = np.empty((3, len(rows), len(cols)))
    grid[layout.col_axis] = cols[None, :]
    grid[layout.row_axis] = rows[:, None]
    grid[layout.depth_axis] = request.depth_index
    ijk = overlay_ijk(image.affine, base_affine, grid).reshape(3, -1)
    shape = np.asarray(image.shape[:3])[:, None]
    inside = np.all((ijk >= 0) & (ijk < shape), axis=0)
    out = np.full(ijk.shape[1], np.nan, np.float32)
    if inside.any():
        _gather(image.proxy, ijk, inside, t, out)
    return out.reshape(len(rows), len(cols))


def _gather(proxy, ijk: np.ndarray, inside: np.ndarray, t: int, out: np.ndarray) -> None:
    """Fill ``out[inside]`` with the voxels ``ijk[:, inside]``, reading one block per
    plane of the overlay axis that varies least over them."""
    points = ijk[:, inside]
    targets = np.flatnonzero(inside)
    axis = int(np.argmin(points.max(axis=1) - points.min(axis=1)))
    a, b = (ax for ax in range(3) if ax != axis)
    for depth, picked in _groups(points[axis]):
        pa, pb = points[a][picked], points[b][picked]
        a0, b0 = int(pa.min()), int(pb.min())
        in_plane = (slice(a0, int(pa.max()) + 1), slice(b0, int(pb.max()) + 1))
        block = proxy.plane(axis, depth, t, in_plane)
        out[targets[picked]] = block[pa - a0, pb - b0]


def _groups(depth: np.ndarray):
    """(value, positions in ``depth`` holding it) for each distinct value of ``depth``."""
    if depth.min() == depth.max():
        yield int(depth[0]), slice(None)
        return
    order = np.argsort(depth, kind="stable")
    ordered = depth[order]
    edges = np.flatnonzero(np.diff(ordered)) + 1
    for start, stop in zip(np.r_[0, edges], np.r_[edges, len(order)], strict=True):
        yield int(ordered[start]), order[start:stop]


def label_colours(values: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 stable colours for integer labels (the same label, the same colour).

    Bytes of a multiplicative hash of the label, lifted so that none is too dark."""
    labels = np.nan_to_num(values, nan=0.0).astype(np.int64)
    mixed = (labels * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash
    channels = [(mixed >> shift) & 0xFF for shift in (0, 8, 16)]
    return np.stack([60 + c * 195 // 255 for c in channels], axis=-1).astype(np.uint8)


def colourise(values: np.ndarray, style: LayerStyle, luts) -> np.ndarray:
    """(rows, cols, 4) uint8 RGBA of overlay ``values``: transparent where there is no
    voxel (NaN), where the threshold hides the value, and for label 0.

    ``luts(name)`` gives a colormap's (256, 3+) uint8 lookup table."""
    finite = np.isfinite(values)
    safe = np.where(finite, values, 0.0)
    if style.labels:
        rgb = label_colours(np.rint(safe))
        shown = finite & (np.rint(safe) != 0)
    else:
        negative = style.negative_colormap is not None
        rgb = _lut_colours(np.abs(safe) if negative else safe, style.window, luts(style.colormap))
        if negative:
            below = safe < 0
            rgb[below] = _lut_colours(-safe[below], style.window, luts(style.negative_colormap))
        shown = finite & _passes_threshold(safe, style)
    rgba = np.empty((*values.shape, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = np.where(shown, round(255 * style.opacity), 0)
    return rgba


def _lut_colours(values: np.ndarray, window: tuple[float, float], lut: np.ndarray):
    lo, hi = window
    index = np.clip((values - lo) / (hi - lo) * (len(lut) - 1), 0, len(lut) - 1)
    return lut[index.astype(np.int64), :3]


def _passes_threshold(values: np.ndarray, style: LayerStyle) -> np.ndarray:
    mode, limit = style.threshold_mode, style.threshold
    if mode == "above":
        return values >= limit
    if mode == "below":
        return values <= limit
    if mode == "outside":
        return np.abs(values) >= abs(limit)
    return np.ones(values.shape, bool)
