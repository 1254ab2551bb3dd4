"""Slice extraction: placement of strided/cropped reads, zoomed detail reads, clicks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.factories import orientation_letters, orientations, oriented_affine
from volview.core.geometry import Geometry, Plane
from volview.core.slicing import (
    SliceRequest,
    detail_ranges,
    extract_slice,
    full_plane_request,
    overview_step,
    stride_for,
)
from volview.io.proxy import ArrayProxy

SHAPE = (10, 13, 7)
ZOOMS = (1.0, 2.0, 0.5)
ALL_48 = orientations()
HYPOTHESIS = settings(max_examples=80, deadline=None, database=None)


def index_volume(shape) -> np.ndarray:
    """Each voxel holds its own index: value = i + 1000 j + 1000000 k (exact in float32)."""
    i, j, k = np.indices(shape)
    return (i + 1000 * j + 1_000_000 * k).astype(np.float32)


def voxel_of(value: float) -> tuple[int, int, int]:
    value = int(value)
    return value % 1000, value // 1000 % 1000, value // 1_000_000


def layout_for(perm, signs, plane, radiological=True, shape=SHAPE, zooms=ZOOMS):
    affine = oriented_affine(perm, signs, zooms)
    return Geometry.from_affine(affine, shape, radiological=radiological).layout(plane)


def check_placement(layout, request, shape) -> None:
    """Each pixel's block on screen is ``step`` voxels wide and holds the voxel it shows."""
    assert_placed(layout, request, extract_slice(ArrayProxy(index_volume(shape)), request))


def assert_placed(layout, request, result) -> None:
    """``result`` (values from ``index_volume``) shows exactly the voxels of ``request``,
    each in the block of ``step`` voxels where the display puts it."""
    x, y, width, height = result.rect_mm
    n_rows, n_cols = result.pixels.shape
    step_col, step_row = request.steps
    assert width == pytest.approx(n_cols * step_col * layout.col_spacing_mm)
    assert height == pytest.approx(n_rows * step_row * layout.row_spacing_mm)
    expected_cols = range(*request.col_range.indices(layout.n_cols))
    expected_rows = range(*request.row_range.indices(layout.n_rows))
    assert (n_rows, n_cols) == (len(expected_rows), len(expected_cols))
    for row in range(n_rows):
        for col in range(n_cols):
            ijk = voxel_of(result.pixels[row, col])
            assert ijk[layout.depth_axis] == request.depth_index
            v_col, v_row = ijk[layout.col_axis], ijk[layout.row_axis]
            assert v_col in expected_cols and v_row in expected_rows
            d_col, d_row = layout.voxel_to_display(v_col, v_row)
            # the block drawn for this pixel, in display voxel units
            block_col = (x / layout.col_spacing_mm + col * step_col) + np.array([0, step_col])
            block_row = (y / layout.row_spacing_mm + row * step_row) + np.array([0, step_row])
            assert block_col[0] - 1e-9 <= d_col and d_col + 1 <= block_col[1] + 1e-9
            assert block_row[0] - 1e-9 <= d_row and d_row + 1 <= block_row[1] + 1e-9


@pytest.mark.parametrize("plane", list(Plane), ids=lambda p: p.value)
@pytest.mark.parametrize(
    ("perm", "signs"),
    [((0, 1, 2), (1, 1, 1)), ((0, 1, 2), (-1, -1, -1)), ((2, 0, 1), (1, -1, 1))],
    ids=["RAS", "LPI", "PIR"],
)
@pytest.mark.parametrize(
    ("col_range", "row_range"),
    [
        (slice(0, None, 1), slice(0, None, 1)),
        (slice(1, None, 3), slice(0, 5, 2)),
        (slice(2, 6, 1), slice(1, None, 4)),
        (slice(None, None, 2), slice(None)),
    ],
    ids=["full", "stride3-crop", "crop-stride4", "open-ends"],
)
def test_rect_mm_places_strided_reads(perm, signs, plane, col_range, row_range):
    for radiological in (True, False):
        layout = layout_for(perm, signs, plane, radiological)
        request = SliceRequest(layout, 1, 0, col_range, row_range)
        check_placement(layout, request, SHAPE)


def test_rect_mm_by_hand_unflipped_and_flipped():
    """Ten voxels of 2 mm, every third from voxel 1: samples 1, 4, 7 in blocks of 3."""
    unflipped = layout_for((0, 1, 2), (-1, 1, 1), Plane.AXIAL, shape=(10, 4, 3), zooms=(2, 1, 1))
    flipped = layout_for((0, 1, 2), (1, 1, 1), Plane.AXIAL, shape=(10, 4, 3), zooms=(2, 1, 1))
    assert not unflipped.col_flip and flipped.col_flip
    proxy = ArrayProxy(index_volume((10, 4, 3)))
    plain = extract_slice(proxy, SliceRequest(unflipped, 0, 0, slice(1, 10, 3), slice(0, 4)))
    mirror = extract_slice(proxy, SliceRequest(flipped, 0, 0, slice(1, 10, 3), slice(0, 4)))
    assert plain.rect_mm == (2.0, 0.0, 18.0, 4.0)  # voxels 1..9 from x = 2 mm
    assert mirror.rect_mm == (0.0, 0.0, 18.0, 4.0)  # voxel 9 -> display 0
    assert [voxel_of(v)[0] for v in plain.pixels[0]] == [1, 4, 7]
    assert [voxel_of(v)[0] for v in mirror.pixels[0]] == [7, 4, 1]


@HYPOTHESIS
@given(
    orientation=st.sampled_from(ALL_48),
    plane=st.sampled_from(list(Plane)),
    radiological=st.booleans(),
    shape=st.tuples(*[st.integers(1, 9)] * 3),
    cols=st.tuples(st.integers(0, 8), st.integers(1, 9), st.integers(1, 4)),
    rows=st.tuples(st.integers(0, 8), st.integers(1, 9), st.integers(1, 4)),
)
def test_rect_mm_places_any_strided_read(orientation, plane, radiological, shape, cols, rows):
    layout = layout_for(*orientation, plane, radiological, shape=shape)
    col_range = slice(min(cols[0], layout.n_cols - 1), cols[1], cols[2])
    row_range = slice(min(rows[0], layout.n_rows - 1), rows[1], rows[2])
    assume(len(range(*col_range.indices(layout.n_cols))) > 0)
    assume(len(range(*row_range.indices(layout.n_rows))) > 0)
    request = SliceRequest(layout, shape[layout.depth_axis] // 2, 0, col_range, row_range)
    check_placement(layout, request, shape)


def test_full_plane_request_and_ids():
    layout = layout_for((0, 1, 2), (1, 1, 1), Plane.CORONAL)
    first = full_plane_request(layout, 3, 0)
    second = full_plane_request(layout, 3, 0, step=2)
    assert (first.col_range, first.row_range) == (slice(0, 10, 1), slice(0, 7, 1))
    assert second.steps == (2, 2)
    assert second.request_id > first.request_id
    result = extract_slice(ArrayProxy(index_volume(SHAPE)), second)
    assert result.request_id == second.request_id
    assert result.pixels.shape == (4, 5)
    assert result.pixels.flags.c_contiguous


def test_stride_for():
    assert stride_for(2048, 500) == 4
    assert stride_for(100, 500) == 1
    assert stride_for(100, 0) == 1
    assert stride_for(100, 100) == 1
    assert stride_for(199, 100) == 1
    assert stride_for(200, 100) == 2


def test_overview_step_examples():
    big = layout_for((0, 1, 2), (1, 1, 1), Plane.AXIAL, shape=(2048, 2048, 4), zooms=(1, 1, 1))
    assert overview_step(big, 500, 500) == 4  # reads about 500^2 values, not 2048^2
    assert overview_step(big, 500, 2000) == 4  # the tighter dimension decides
    assert overview_step(big, 3000, 3000) == 1
    assert overview_step(big, 0, 500) == 1
    small = layout_for((0, 1, 2), (1, 1, 1), Plane.AXIAL, shape=(64, 64, 4))
    assert overview_step(small, 500, 500) == 1


@HYPOTHESIS
@given(
    n_cols=st.integers(1, 3000),
    n_rows=st.integers(1, 3000),
    zooms=st.tuples(st.sampled_from([0.3, 0.5, 1.0, 2.0, 3.3]), st.sampled_from([0.5, 1.0, 4.0])),
    width_px=st.integers(1, 2500),
    height_px=st.integers(1, 2500),
)
def test_overview_step_keeps_a_sample_per_pixel(n_cols, n_rows, zooms, width_px, height_px):
    layout = layout_for(
        (0, 1, 2), (1, 1, 1), Plane.AXIAL, shape=(n_cols, n_rows, 1), zooms=(*zooms, 1.0)
    )
    step = overview_step(layout, width_px, height_px)
    w_mm, h_mm = layout.size_mm
    mm_per_px = max(w_mm / width_px, h_mm / height_px)
    # the fitted plane covers w_mm / mm_per_px by h_mm / mm_per_px screen pixels
    assert math.ceil(n_cols / step) >= min(n_cols, w_mm / mm_per_px - 1e-6)
    assert math.ceil(n_rows / step) >= min(n_rows, h_mm / mm_per_px - 1e-6)
    if step > 1:  # and it is the largest such step (up to rounding of mm / mm)
        bigger, slack = step + 1, 1 + 1e-9
        assert (n_cols / bigger < w_mm / mm_per_px * slack) or (
            n_rows / bigger < h_mm / mm_per_px * slack
        )


def test_detail_ranges_none_for_whole_or_empty_view():
    layout = layout_for((0, 1, 2), (1, 1, 1), Plane.AXIAL)
    w_mm, h_mm = layout.size_mm
    assert detail_ranges(layout, (0, 0, w_mm, h_mm), 400, 400) is None
    assert detail_ranges(layout, (-50, -50, w_mm + 100, h_mm + 100), 400, 400) is None
    assert detail_ranges(layout, (w_mm + 1, 0, 10, 10), 400, 400) is None
    assert detail_ranges(layout, (0, -20, 5, 10), 400, 400) is None


def test_detail_ranges_by_hand():
    """Ten 1 mm columns; the view shows display columns 2..5 (x from 2.5 to 5.5 mm)."""
    unflipped = layout_for((0, 1, 2), (-1, 1, 1), Plane.AXIAL, shape=(10, 10, 2), zooms=(1, 1, 1))
    flipped = layout_for((0, 1, 2), (1, 1, 1), Plane.AXIAL, shape=(10, 10, 2), zooms=(1, 1, 1))
    cols, rows = detail_ranges(unflipped, (2.5, 0.0, 3.0, 10.0), 100, 100)
    assert cols == slice(2, 6, 1) and rows == slice(0, 10, 1)
    cols, _ = detail_ranges(flipped, (2.5, 0.0, 3.0, 10.0), 100, 100)
    assert cols == slice(4, 8, 1)  # display 2..5 is voxel 7..4
    cols, rows = detail_ranges(unflipped, (2.5, 0.0, 3.0, 10.0), 2, 2)
    assert cols.step == rows.step == 2


@HYPOTHESIS
@given(
    orientation=st.sampled_from(ALL_48),
    plane=st.sampled_from(list(Plane)),
    radiological=st.booleans(),
    shape=st.tuples(*[st.integers(2, 40)] * 3),
    view=st.tuples(st.floats(-10, 40), st.floats(-10, 40), st.floats(0.1, 50), st.floats(0.1, 50)),
    px=st.tuples(st.integers(1, 60), st.integers(1, 60)),
)
def test_detail_read_covers_the_visible_part(orientation, plane, radiological, shape, view, px):
    layout = layout_for(*orientation, plane, radiological, shape=shape)
    ranges = detail_ranges(layout, view, *px)
    x, y, w, h = view
    dx, dy = layout.col_spacing_mm, layout.row_spacing_mm
    w_mm, h_mm = layout.size_mm
    empty = x + w <= 0 or x >= w_mm or y + h <= 0 or y >= h_mm
    every_voxel_visible = x < dx and y < dy and x + w > w_mm - dx and y + h > h_mm - dy
    if ranges is None:  # nothing to read, or the overview already has every voxel
        assert empty or every_voxel_visible
        return
    assert not empty
    visible = (max(x, 0), max(y, 0), min(x + w, w_mm), min(y + h, h_mm))
    col_range, row_range = ranges
    request = SliceRequest(layout, 0, 0, col_range, row_range)
    result = extract_slice(ArrayProxy(np.zeros(shape, np.float32)), request)
    rx, ry, rw, rh = result.rect_mm
    eps = 1e-9
    assert rx <= visible[0] + eps and ry <= visible[1] + eps
    assert rx + rw >= visible[2] - eps and ry + rh >= visible[3] - eps
    # at least one sample per screen pixel, unless there are fewer visible voxels
    n_rows, n_cols = result.pixels.shape
    # voxels at least partly visible
    visible_cols = math.ceil(visible[2] / dx) - math.floor(visible[0] / dx)
    visible_rows = math.ceil(visible[3] / dy) - math.floor(visible[1] / dy)
    assert n_cols >= min(px[0], visible_cols)
    assert n_rows >= min(px[1], visible_rows)
    assert n_cols <= visible_cols and n_rows <= visible_rows


@pytest.mark.parametrize(
    ("perm", "signs"), ALL_48[::5], ids=[orientation_letters(p, s) for p, s in ALL_48[::5]]
)
@pytest.mark.parametrize("radiological", [True, False])
def test_click_round_trips(perm, signs, radiological):
    """A click on display pixel (col, row) names the voxel drawn there, and maps back."""
    data = index_volume(SHAPE)
    geometry = Geometry.from_affine(
        oriented_affine(perm, signs, ZOOMS), SHAPE, radiological=radiological
    )
    for plane in Plane:
        layout = geometry.layout(plane)
        depth = SHAPE[layout.depth_axis] - 2
        pixels = extract_slice(ArrayProxy(data), full_plane_request(layout, depth, 0)).pixels
        for row in range(layout.n_rows):
            for col in range(layout.n_cols):
                # a click anywhere inside the pixel, in display millimetres
                x_mm = (col + 0.7) * layout.col_spacing_mm
                y_mm = (row + 0.2) * layout.row_spacing_mm
                d_col = math.floor(x_mm / layout.col_spacing_mm)
                d_row = math.floor(y_mm / layout.row_spacing_mm)
                v_col, v_row = layout.display_to_voxel(d_col, d_row)
                assert layout.voxel_to_display(v_col, v_row) == (col, row)
                ijk = [0, 0, 0]
                ijk[layout.depth_axis], ijk[layout.col_axis], ijk[layout.row_axis] = (
                    depth,
                    v_col,
                    v_row,
                )
                assert voxel_of(pixels[row, col]) == tuple(ijk)
