"""Draw line segments into an RGBA image with numpy (the tractogram overlay's pixels).

Owns: ``Viewport`` (which rectangle of display millimetres maps onto how many
pixels) and ``rasterize`` — segments sampled at sub-pixel steps, written into an
image whose row 0 is the bottom of the rectangle (display rows grow up), so that
hundreds of thousands of segments draw in milliseconds without a Python loop per
segment. Later segments overwrite earlier ones where they cross.
Coordinate space: display millimetres of one plane (``x`` right, ``y`` up), as the
slice views place their images; pixel indices of the output image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: segments longer than this many pixels are drawn in a second, slower pass
SHORT_SEGMENT_PX = 8
#: clipped ends stay this far inside the image, so truncation never leaves it
EDGE = np.float32(1e-3)


@dataclass(frozen=True)
class Viewport:
    """``x0, y0, width, height`` in display mm shown on ``cols x rows`` pixels."""

    x0: float
    y0: float
    width: float
    height: float
    cols: int
    rows: int

    def to_pixels(self, xy_mm: np.ndarray) -> np.ndarray:
        """(n, 2) display mm -> (n, 2) float32 pixel coordinates (col, row)."""
        scale = np.array([self.cols / self.width, self.rows / self.height], dtype=np.float32)
        origin = np.array([self.x0, self.y0], dtype=np.float32)
        return (np.asarray(xy_mm, dtype=np.float32) - origin) * scale


def rasterize(
    start_mm: np.ndarray,
    end_mm: np.ndarray,
    rgba: np.ndarray,
    viewport: Viewport,
    width_px: int = 1,
) -> np.ndarray:
    """Draw segments ``start_mm[n] -> end_mm[n]`` in colours ``rgba[n]`` (uint8).

    Returns a ``(rows, cols, 4)`` uint8 image, transparent where nothing is drawn.
    ``width_px`` thickens every line by repeating it on neighbouring pixels.
    """
    return rasterize_pixels(
        viewport.to_pixels(start_mm), viewport.to_pixels(end_mm), rgba, viewport, width_px
    )


def rasterize_pixels(
    p0: np.ndarray, p1: np.ndarray, rgba: np.ndarray, viewport: Viewport, width_px: int = 1
) -> np.ndarray:
    """``rasterize`` for ends already in (float32) pixel coordinates ``(col, row)``."""
    image = np.zeros((viewport.rows, viewport.cols, 4), dtype=np.uint8)
    if len(p0) == 0:
        return image
    packed = np.ascontiguousarray(rgba, dtype=np.uint8).view(np.uint32).ravel()
    p0, p1, packed = _clip(p0, p1, packed, viewport)
    x0, y0 = np.ascontiguousarray(p0[:, 0]), np.ascontiguousarray(p0[:, 1])
    x1, y1 = np.ascontiguousarray(p1[:, 0]), np.ascontiguousarray(p1[:, 1])
    length = np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))
    short = length <= SHORT_SEGMENT_PX
    parts = [(x0, y0, x1, y1, packed, length)]
    if not short.all():
        parts = [tuple(a[short] for a in parts[0]), tuple(a[~short] for a in parts[0])]
    flat = image.view(np.uint32).reshape(-1)
    for offset in _brush(width_px):
        for part in parts:
            _draw(flat, viewport, part, offset)
    return image


def _brush(width_px: int) -> list[tuple[int, int]]:
    """Pixel offsets that give a line ``width_px`` pixels thick."""
    width_px = max(1, int(width_px))
    lo = -(width_px - 1) // 2
    steps = range(lo, lo + width_px)
    return [(dx, dy) for dx in steps for dy in steps]


def _clip(p0: np.ndarray, p1: np.ndarray, packed: np.ndarray, viewport: Viewport):
    """Cut segments to the image and drop those entirely outside (Liang-Barsky, vectorised).

    Skipped when every end is already inside, the usual case for a fitted view.
    """
    hi = np.array([viewport.cols, viewport.rows], dtype=np.float32) - EDGE
    lo = np.zeros(2, dtype=np.float32)
    if min(p0.min(), p1.min()) >= 0 and (p0 <= hi).all() and (p1 <= hi).all():
        return p0, p1, packed
    delta = p1 - p0
    t0 = np.zeros(len(p0), dtype=np.float32)
    t1 = np.ones(len(p0), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in (0, 1):
            d = delta[:, axis]
            ta = (lo[axis] - p0[:, axis]) / d
            tb = (hi[axis] - p0[:, axis]) / d
            parallel = d == 0
            enter = np.where(parallel, -np.inf, np.minimum(ta, tb))
            leave = np.where(parallel, np.inf, np.maximum(ta, tb))
            outside = parallel & ((p0[:, axis] < lo[axis]) | (p0[:, axis] > hi[axis]))
            t0 = np.maximum(t0, enter)
            t1 = np.where(outside, -1, np.minimum(t1, leave))
    keep = np.flatnonzero(t0 <= t1)
    delta = delta[keep]
    start = np.clip(p0[keep] + delta * t0[keep, None], lo, hi)
    end = np.clip(p0[keep] + delta * t1[keep, None], lo, hi)
    return start, end, packed[keep]


def _draw(flat: np.ndarray, viewport: Viewport, part, offset: tuple[int, int]) -> None:
    """Write one part's samples, one pixel apart (a little less) along the major axis.

    Short segments all get the same number of samples (the few extra ones land on
    pixels already drawn); long ones (zoomed in) get as many as each needs.
    """
    x0, y0, x1, y1, colours, length = part
    if len(x0) == 0:
        return
    # a step a little under one pixel: float32 rounding can never skip a pixel
    needed = np.ceil(length + np.float32(0.5)).astype(np.int64) + 1
    if length.max() <= SHORT_SEGMENT_PX:
        n = int(needed.max())
        for s in range(n):
            f = np.float32(s / max(n - 1, 1))
            _put(flat, viewport, x0 * (1 - f) + x1 * f, y0 * (1 - f) + y1 * f, colours, offset)
        return
    owner = np.repeat(np.arange(len(x0)), needed)
    first = np.repeat(np.cumsum(needed) - needed, needed)
    f = ((np.arange(owner.size) - first) / np.repeat(needed - 1, needed)).astype(np.float32)
    xs = x0[owner] * (1 - f) + x1[owner] * f
    ys = y0[owner] * (1 - f) + y1[owner] * f
    _put(flat, viewport, xs, ys, colours[owner], offset)


def _put(flat, viewport: Viewport, xs, ys, colours, offset: tuple[int, int]) -> None:
    """Colour the pixels under points (``xs``, ``ys``), shifted by a brush ``offset``."""
    col = xs.astype(np.int32)  # the ends were clipped inside: truncation is floor here
    row = ys.astype(np.int32)
    if offset != (0, 0):
        col += offset[0]
        row += offset[1]
        inside = (col >= 0) & (col < viewport.cols) & (row >= 0) & (row < viewport.rows)
        col, row, colours = col[inside], row[inside], colours[inside]
    flat[row * viewport.cols + col] = colours
