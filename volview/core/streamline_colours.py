"""Colours of streamline segments: one RGBA per segment of a slab query.

Owns: ``colour_by_direction``, ``colour_solid``, ``colour_by_streamline_value``,
``colour_by_vertex_value``, ``colour_by_group`` and ``default_group_colours``.

Every function returns an (n, 4) uint8 RGBA array for the n segments of a
``Segments`` (see ``streamline_index``); ``alpha`` is an opacity in [0, 1]. Direction
colours use world (RAS) axes: |dx| -> red, |dy| -> green, |dz| -> blue, whatever the
image's voxel axes are. Scalars map linearly onto a 256-entry lookup table: ``vmin``
and below take entry 0, ``vmax`` and above entry 255; NaN values are transparent
(``vmin == vmax`` is a step: below ``vmin`` entry 0, else entry 255).
"""

from __future__ import annotations

import colorsys

import numpy as np

from volview.core.streamline_index import Segments

#: colour of segments of streamlines in no group
NO_GROUP_RGB = (160, 160, 160)
#: the first group colours: a qualitative palette (Tableau 10), then golden-ratio hues
PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
GOLDEN_RATIO = 0.618033988749895


def _alpha_byte(alpha: float) -> int:
    return round(255 * min(max(float(alpha), 0.0), 1.0))


def _rgba(rgb: np.ndarray, alpha: float) -> np.ndarray:
    """(n, 4) uint8 from (n, 3) uint8 colours and one opacity."""
    rgba = np.empty((len(rgb), 4), np.uint8)
    rgba[:, :3] = rgb
    rgba[:, 3] = _alpha_byte(alpha)
    return rgba


def colour_by_direction(seg: Segments, alpha: float) -> np.ndarray:
    """RGB = |unit world direction| * 255 (x red, y green, z blue)."""
    rgb = np.rint(seg.direction * np.float32(255))
    return _rgba(np.clip(rgb, 0, 255).astype(np.uint8), alpha)


def colour_solid(seg: Segments, rgb: tuple[int, int, int], alpha: float) -> np.ndarray:
    """The same colour for every segment."""
    return _rgba(np.broadcast_to(np.asarray(rgb, np.uint8), (len(seg), 3)), alpha)


def colour_by_streamline_value(
    seg: Segments,
    values_per_streamline: np.ndarray,
    lut: np.ndarray,
    vmin: float,
    vmax: float,
    alpha: float,
) -> np.ndarray:
    """Colour each segment by its streamline's value (a dps scalar), through ``lut``."""
    return _lookup(np.asarray(values_per_streamline)[seg.streamline], lut, vmin, vmax, alpha)


def colour_by_vertex_value(
    seg: Segments,
    values_per_vertex: np.ndarray,
    lut: np.ndarray,
    vmin: float,
    vmax: float,
    alpha: float,
) -> np.ndarray:
    """Colour each segment by the value (a dpv scalar) at its first point, through ``lut``.

    ``values_per_vertex`` may be an (N,) or (N, 1) memmap: only the rows of the
    segments' first points are read.
    """
    values = values_per_vertex
    if values.ndim == 2:
        values = values[:, 0]
    return _lookup(values[seg.vertex], lut, vmin, vmax, alpha)


def colour_by_group(
    seg: Segments,
    group_of_streamline: np.ndarray,
    group_rgb: np.ndarray,
    alpha: float,
    *,
    no_group_rgb: tuple[int, int, int] = NO_GROUP_RGB,
) -> np.ndarray:
    """Colour each segment by its streamline's group (``group_of_streamline``: (M,) int,
    -1 for none) with ``group_rgb`` ((G, 3) uint8); streamlines in no group get
    ``no_group_rgb``."""
    group = np.asarray(group_of_streamline)[seg.streamline]
    table = np.concatenate(
        [np.asarray(group_rgb, np.uint8).reshape(-1, 3), np.asarray([no_group_rgb], np.uint8)]
    )
    return _rgba(table[np.where(group < 0, len(table) - 1, group)], alpha)


def default_group_colours(n: int) -> np.ndarray:
    """(n, 3) uint8 distinct colours; colour i does not depend on n."""
    colours = list(PALETTE[:n])
    for i in range(len(PALETTE), n):
        hue = (i * GOLDEN_RATIO) % 1.0
        value = 0.95 if i % 2 else 0.75
        colours.append(tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.7, value)))
    return np.asarray(colours, np.uint8).reshape(n, 3)


def _lookup(values, lut: np.ndarray, vmin: float, vmax: float, alpha: float) -> np.ndarray:
    """(n, 4) uint8: ``lut`` entries of values scaled from [vmin, vmax] to [0, 255]."""
    lut = np.asarray(lut, np.uint8)
    if lut.shape != (256, 4):
        raise ValueError(f"a colour lookup table must be (256, 4) uint8, not {lut.shape}")
    values = np.asarray(values, np.float64)
    span = float(vmax) - float(vmin)
    if span > 0:
        position = (values - float(vmin)) * (255 / span)
    else:  # a step at vmin
        position = np.where(values < float(vmin), 0.0, 255.0)
    visible = ~np.isnan(values)
    index = np.clip(np.rint(np.nan_to_num(position)), 0, 255).astype(np.intp)
    rgba = lut[index]
    opacity = np.where(visible, rgba[:, 3] * float(min(max(alpha, 0.0), 1.0)), 0)
    rgba[:, 3] = np.rint(opacity).astype(np.uint8)
    return rgba
