"""Slice extraction: an immutable ``SliceRequest`` becomes a ``SliceResult``.

Owns: ``SliceRequest``, ``SliceResult``, ``extract_slice`` (a pure function of the
proxy and the request; ``wait=False`` returns None instead of waiting for a proxy
without random access that offers ``plane_nowait``), ``extract_partial`` (the part
of such a plane read so far) and the read planning (``overview_step``,
``detail_ranges``: which strided/cropped reads a view of a given size and zoom needs).

Coordinate spaces: requests name voxel ranges (``ijk`` slices along the plane's
column and row voxel axes); results are display-oriented ``pixels[row, col]`` with
their placement ``rect_mm = (x, y, width, height)`` in display millimetres
(see ``volview.core.geometry``). A strided read shows each sample as a block of
``step`` voxels (nearest neighbour), so a 2048^2 plane shown in 500 pixels reads
about 500^2 values, not 2048^2.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from volview.core.geometry import PlaneLayout
from volview.io.proxy import VolumeProxy

_request_ids = itertools.count(1)


@dataclass(frozen=True)
class SliceRequest:
    """One plane (or a strided/cropped part of it) to read."""

    layout: PlaneLayout
    depth_index: int
    t: int
    col_range: slice  # voxel indices along layout.col_axis (start, stop, step)
    row_range: slice  # voxel indices along layout.row_axis
    request_id: int = field(default_factory=lambda: next(_request_ids))

    @property
    def steps(self) -> tuple[int, int]:
        return self.col_range.step or 1, self.row_range.step or 1


@dataclass(frozen=True)
class SliceResult:
    request_id: int
    pixels: np.ndarray  # float32 [row, col], display-oriented
    rect_mm: tuple[float, float, float, float]  # x, y, width, height in display mm


def full_plane_request(layout: PlaneLayout, depth_index: int, t: int, step: int = 1):
    """A request for the whole plane, every ``step``-th voxel along both axes."""
    return SliceRequest(
        layout, depth_index, t, slice(0, layout.n_cols, step), slice(0, layout.n_rows, step)
    )


def extract_slice(
    proxy: VolumeProxy, request: SliceRequest, wait: bool = True
) -> SliceResult | None:
    """Read the requested plane region through the proxy and orient it for display.

    ``wait=False``: when the proxy lacks random access and has ``plane_nowait`` (a
    plane cache over a gzip stream), None while the plane is read in the background.
    """
    layout = request.layout
    args = (layout.depth_axis, request.depth_index, request.t, _in_plane(request))
    nowait = getattr(proxy, "plane_nowait", None)
    if wait or proxy.random_access or nowait is None:
        raw = proxy.plane(*args)
    elif (raw := nowait(*args)) is None:
        return None
    pixels = np.ascontiguousarray(layout.orient(raw))
    return SliceResult(request.request_id, pixels, _rect_mm(request, pixels.shape))


def extract_partial(proxy: VolumeProxy, request: SliceRequest) -> tuple[SliceResult, float] | None:
    """The part of the requested plane read so far, while a pass over a stream reads
    it in the background (a proxy with ``partial_plane``), and the fraction of the
    plane it covers; None if there is no such part.

    The part holds the plane's first axial indices (voxel axis 2) and the result, with
    the request's id, is placed where they lie: its ``rect_mm`` covers only them.
    """
    partial_plane = getattr(proxy, "partial_plane", None)
    if partial_plane is None:
        return None
    layout = request.layout
    raw = partial_plane(layout.depth_axis, request.depth_index, request.t, _in_plane(request))
    if raw is None:
        return None
    # a part starts where the request starts, so its placement follows from its shape
    pixels = np.ascontiguousarray(layout.orient(raw))
    fraction = pixels.size / max(1, _n_samples(request))
    return SliceResult(request.request_id, pixels, _rect_mm(request, pixels.shape)), fraction


def _in_plane(request: SliceRequest) -> tuple[slice, slice]:
    """The request's voxel ranges in the proxies' order (by voxel axis)."""
    layout = request.layout
    ranges = {layout.col_axis: request.col_range, layout.row_axis: request.row_range}
    return tuple(ranges[ax] for ax in sorted(ranges))


def _n_samples(request: SliceRequest) -> int:
    layout = request.layout
    cols = len(range(*request.col_range.indices(layout.n_cols)))
    rows = len(range(*request.row_range.indices(layout.n_rows)))
    return cols * rows


def _axis_extent(rng: slice, n_samples: int, n_total: int, flip: bool) -> tuple[int, int]:
    """Display start index and width (in voxels) covered by a strided voxel range."""
    start, _, step = rng.indices(n_total)  # also resolves open ends such as slice(None)
    width = n_samples * step
    if not flip:
        return start, width
    last = start + (n_samples - 1) * step
    return n_total - last - step, width


def _rect_mm(request: SliceRequest, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    layout = request.layout
    n_rows, n_cols = shape
    x0, w = _axis_extent(request.col_range, n_cols, layout.n_cols, layout.col_flip)
    y0, h = _axis_extent(request.row_range, n_rows, layout.n_rows, layout.row_flip)
    dx, dy = layout.col_spacing_mm, layout.row_spacing_mm
    return x0 * dx, y0 * dy, w * dx, h * dy


def stride_for(n_voxels: float, n_pixels: float) -> int:
    """Largest step that still gives at least one sample per screen pixel."""
    if n_pixels <= 0:
        return 1
    return max(1, math.floor(n_voxels / n_pixels))


def overview_step(layout: PlaneLayout, width_px: int, height_px: int) -> int:
    """One step for both axes so the whole plane fits the view's pixels."""
    w_mm, h_mm = layout.size_mm
    if width_px <= 0 or height_px <= 0:
        return 1
    # with a locked aspect the plane is fitted by its tighter dimension
    mm_per_px = max(w_mm / width_px, h_mm / height_px)
    return min(
        stride_for(mm_per_px, layout.col_spacing_mm), stride_for(mm_per_px, layout.row_spacing_mm)
    )


def detail_ranges(
    layout: PlaneLayout,
    view_rect_mm: tuple[float, float, float, float],
    width_px: int,
    height_px: int,
) -> tuple[slice, slice] | None:
    """Voxel ranges (col, row) that cover the visible part of a zoomed-in plane.

    Returns None when the visible region is the whole plane or empty.
    """
    x, y, w, h = view_rect_mm
    dx, dy = layout.col_spacing_mm, layout.row_spacing_mm
    c0, c1 = _clip_display(x / dx, (x + w) / dx, layout.n_cols)
    r0, r1 = _clip_display(y / dy, (y + h) / dy, layout.n_rows)
    if c1 <= c0 or r1 <= r0:
        return None
    if (c0, c1, r0, r1) == (0, layout.n_cols, 0, layout.n_rows):
        return None
    step = min(stride_for(c1 - c0, width_px), stride_for(r1 - r0, height_px))
    col = _display_to_voxel_range(c0, c1, layout.n_cols, layout.col_flip, step)
    row = _display_to_voxel_range(r0, r1, layout.n_rows, layout.row_flip, step)
    return col, row


def _clip_display(lo: float, hi: float, n: int) -> tuple[int, int]:
    return max(0, math.floor(lo)), min(n, math.ceil(hi))


def _display_to_voxel_range(d0: int, d1: int, n: int, flip: bool, step: int) -> slice:
    if flip:
        d0, d1 = n - d1, n - d0
    return slice(d0, d1, step)
