"""rasterize: segments land on the pixels they cross, in their colours, without gaps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from volview.core.streamline_raster import Viewport, rasterize

RED = (255, 0, 0, 255)
GREEN = (0, 255, 0, 255)


def draw(segments, colours, viewport, width_px=1):
    start = np.array([s[0] for s in segments], dtype=np.float32)
    end = np.array([s[1] for s in segments], dtype=np.float32)
    return rasterize(start, end, np.array(colours, dtype=np.uint8), viewport, width_px)


def test_horizontal_line_fills_its_row_only():
    viewport = Viewport(0, 0, 10, 10, 10, 10)  # 1 mm per pixel
    image = draw([((1.5, 2.5), (7.5, 2.5))], [RED], viewport)
    drawn = np.argwhere(image[..., 3] > 0)
    assert sorted(map(tuple, drawn)) == [(2, c) for c in range(1, 8)]
    assert (image[2, 1:8] == RED).all()


def test_rows_grow_up_and_viewport_offset_and_scale_apply():
    viewport = Viewport(100, 200, 20, 10, 40, 20)  # 0.5 mm per pixel
    image = draw([((101.0, 209.9), (101.0, 209.9))], [GREEN], viewport)
    assert np.argwhere(image[..., 3] > 0).tolist() == [[19, 2]]


def test_points_outside_are_clipped_and_later_segments_win():
    viewport = Viewport(0, 0, 10, 10, 10, 10)
    image = draw([((-50, 5.5), (50, 5.5)), ((5.5, -50), (5.5, 50))], [RED, GREEN], viewport)
    assert (image[5, :5] == RED).all() and (image[5, 6:] == RED).all()
    assert (image[:, 5] == GREEN).all()


def test_width_thickens_lines():
    viewport = Viewport(0, 0, 20, 20, 20, 20)
    thin = draw([((2.5, 10.5), (17.5, 10.5))], [RED], viewport, width_px=1)
    thick = draw([((2.5, 10.5), (17.5, 10.5))], [RED], viewport, width_px=3)
    assert (thin[..., 3] > 0).sum() == 16
    assert set(np.argwhere(thick[..., 3] > 0)[:, 0]) == {9, 10, 11}


def test_empty_input_gives_a_transparent_image():
    image = rasterize(
        np.empty((0, 2)), np.empty((0, 2)), np.empty((0, 4), np.uint8), Viewport(0, 0, 1, 1, 4, 3)
    )
    assert image.shape == (3, 4, 4) and not image.any()


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(*(st.floats(0.5, 62.5) for _ in range(4))),
    st.floats(0.25, 4.0),
)
def test_lines_have_no_gaps(coords, mm_per_pixel):
    """Every pixel column (or row) between the ends of a line holds a drawn pixel."""
    x0, y0, x1, y1 = coords
    size = int(64 / mm_per_pixel)
    viewport = Viewport(0, 0, 64, 64, size, size)
    image = draw([((x0, y0), (x1, y1))], [RED], viewport)
    drawn = np.argwhere(image[..., 3] > 0)
    (c0, r0), (c1, r1) = viewport.to_pixels(np.array([[x0, y0], [x1, y1]])).astype(int)
    major = 1 if abs(c1 - c0) >= abs(r1 - r0) else 0
    lo, hi = sorted((c0, c1) if major == 1 else (r0, r1))
    covered = set(drawn[:, major].tolist())
    assert set(range(lo, hi + 1)) <= covered
    assert {(r0, c0), (r1, c1)} <= set(map(tuple, drawn.tolist()))
