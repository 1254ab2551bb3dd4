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
    image = np.zeros((viewport.rows, viewport.cols, 4), dtype=np.uint8)
    if len(start_mm) == 0:
        return image
    p0, p1, keep = _clip(viewport.to_pixels(start_mm), viewport.to_pixels(end_mm), viewport)
    packed = np.ascontiguousarray(rgba, dtype=np.uint8).view(np.uint32).ravel()[keep]
    flat = image.view(np.uint32).reshape(-1)
    for dx, dy in _brush(width_px):
        offset = np.array([dx, dy], dtype=np.float32)
        for points, colours in _samples(p0 + offset, p1 + offset, packed, viewport):
            _put(flat, points, colours, viewport)
    return image


def _clip(p0: np.ndarray, p1: np.ndarray, viewport: Viewport):
    """Cut segments to the image (plus a pixel of margin); drop those entirely outside.

    Liang-Barsky clipping for all segments at once. Returns the clipped ends and
    the indices of the segments kept.
    """
    lo = np.array([-1, -1], dtype=np.float32)
    hi = np.array([viewport.cols + 1, viewport.rows + 1], dtype=np.float32)
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
    start = p0[keep] + delta * t0[keep, None]
    end = p0[keep] + delta * t1[keep, None]
    return start, end, keep


def _brush(width_px: int) -> list[tuple[int, int]]:
    """Pixel offsets that give a line ``width_px`` pixels thick."""
    width_px = max(1, int(width_px))
    lo = -(width_px - 1) // 2
    steps = range(lo, lo + width_px)
    return [(dx, dy) for dx in steps for dy in steps]


def _samples(p0: np.ndarray, p1: np.ndarray, colours: np.ndarray, viewport: Viewport):
    """Yield ``(points, colours)``: points one pixel apart along each segment's major axis.

    One pixel steps along the major axis leave no gaps. Segments are grouped by
    their number of samples so that each group is one array operation; the rare
    long segments (zoomed in) share one pass.
    """
    length = np.abs(p1 - p0).max(axis=1)
    # a step a little under one pixel: float32 rounding can never skip a pixel
    needed = np.ceil(length + 0.5).astype(np.int64) + 1
    for k in range(1, SHORT_SEGMENT_PX + 2):
        group = np.flatnonzero(needed == k)
        if group.size:
            frac = np.arange(k, dtype=np.float32) / max(k - 1, 1)
            f = frac[None, :, None]  # (1 - f) * a + f * b hits both ends exactly
            points = p0[group, None, :] * (1 - f) + p1[group, None, :] * f
            yield points.reshape(-1, 2), np.repeat(colours[group], k)
    long = np.flatnonzero(needed > SHORT_SEGMENT_PX + 1)
    if long.size:
        counts = needed[long]
        owner = np.repeat(long, counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        frac = (np.arange(owner.size) - first) / np.repeat(counts - 1, counts)
        f = frac[:, None].astype(np.float32)
        yield p0[owner] * (1 - f) + p1[owner] * f, colours[owner]


def _put(flat: np.ndarray, points: np.ndarray, colours: np.ndarray, viewport: Viewport) -> None:
    col = points[:, 0].astype(np.int32)  # truncation: negative values are rejected below
    row = points[:, 1].astype(np.int32)
    inside = (points[:, 0] >= 0) & (col < viewport.cols) & (points[:, 1] >= 0)
    inside &= row < viewport.rows
    flat[(row * viewport.cols + col)[inside]] = colours[inside]
