"""Segment colours: direction RGB, solid, scalar lookup (per streamline and per vertex), groups."""

from __future__ import annotations

import numpy as np
import pytest

from volview.core.streamline_colours import (
    colour_by_direction,
    colour_by_group,
    colour_by_streamline_value,
    colour_by_vertex_value,
    colour_solid,
    default_group_colours,
)
from volview.core.streamline_index import Segments, Slab, StreamlineIndex

#: entry k of the test lookup table is (k, 255 - k, 7, 200)
LUT = np.column_stack(
    [np.arange(256), 255 - np.arange(256), np.full(256, 7), np.full(256, 200)]
).astype(np.uint8)


def segments_of(directions, streamline=None, vertex=None) -> Segments:
    directions = np.asarray(directions, np.float32)
    n = len(directions)
    zeros = np.zeros((n, 3), np.float32)
    return Segments(
        start_ijk=zeros,
        end_ijk=zeros,
        streamline=np.asarray(streamline if streamline is not None else np.zeros(n), np.int64),
        vertex=np.asarray(vertex if vertex is not None else np.arange(n), np.int64),
        direction=directions,
    )


def test_axis_aligned_segments_are_pure_red_green_blue():
    # a streamline along world x, then y, then z (through a rotated, flipped voxel grid)
    world = np.array([[0, 0, 0], [3, 0, 0], [3, -2, 0], [3, -2, 5]], np.float32)
    affine = np.array([[0, 0, -2.0, 10], [1.5, 0, 0, -5], [0, 1, 0, 3], [0, 0, 0, 1]])
    index = StreamlineIndex.build(world, [0, 4], affine, (10, 10, 10))
    every = Slab(0, 0.0, 100.0)
    rgba = colour_by_direction(index.query(every), alpha=0.5)
    by_vertex = dict(zip(index.query(every).vertex.tolist(), rgba.tolist(), strict=True))
    assert by_vertex == {0: [255, 0, 0, 128], 1: [0, 255, 0, 128], 2: [0, 0, 255, 128]}


def test_diagonal_and_zero_length_directions():
    diagonal = np.float32(1 / np.sqrt(3))
    rgba = colour_by_direction(segments_of([[diagonal] * 3, [0, 0, 0]]), alpha=1.0)
    assert rgba.dtype == np.uint8 and rgba.shape == (2, 4)
    assert rgba.tolist() == [[147, 147, 147, 255], [0, 0, 0, 255]]


def test_solid_colour_and_alpha_bounds():
    rgba = colour_solid(segments_of(np.zeros((3, 3))), (10, 20, 30), alpha=2.0)
    assert rgba.tolist() == [[10, 20, 30, 255]] * 3
    assert colour_solid(segments_of(np.zeros((1, 3))), (1, 2, 3), alpha=-1)[0, 3] == 0
    assert colour_solid(segments_of(np.zeros((0, 3))), (1, 2, 3), 1.0).shape == (0, 4)


def test_streamline_values_hit_the_lut_ends_at_vmin_and_vmax_and_clip():
    values = np.array([-5.0, 0.0, 5.0, 10.0, 99.0, np.nan])
    seg = segments_of(np.zeros((6, 3)), streamline=np.arange(6))
    rgba = colour_by_streamline_value(seg, values, LUT, vmin=0.0, vmax=10.0, alpha=1.0)
    assert rgba[:, 0].tolist()[:5] == [0, 0, 128, 255, 255]
    assert rgba[:, 1].tolist()[:5] == [255, 255, 127, 0, 0]
    assert rgba[:5, 3].tolist() == [200] * 5  # the LUT's alpha times alpha
    assert rgba[5, 3] == 0  # NaN: transparent


def test_alpha_scales_the_lut_alpha_and_a_flat_range_is_a_step():
    seg = segments_of(np.zeros((3, 3)), streamline=[0, 1, 2])
    rgba = colour_by_streamline_value(seg, np.array([1.0, 2.0, 3.0]), LUT, 2.0, 2.0, alpha=0.5)
    assert rgba[:, 0].tolist() == [0, 255, 255]
    assert rgba[:, 3].tolist() == [100] * 3


def test_vertex_values_are_read_at_each_segments_first_point(tmp_path):
    values = np.arange(100, dtype=np.float32) / 10  # 0.0 .. 9.9
    path = tmp_path / "fa.float32"
    values.tofile(path)
    mapped = np.memmap(path, np.float32, mode="r", shape=(100, 1))  # a dpv column
    seg = segments_of(np.zeros((3, 3)), vertex=[0, 50, 99])
    rgba = colour_by_vertex_value(seg, mapped, LUT, vmin=0.0, vmax=9.9, alpha=1.0)
    assert rgba[:, 0].tolist() == [0, 129, 255]


def test_a_lut_of_the_wrong_shape_is_refused():
    seg = segments_of(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"\(256, 4\)"):
        colour_by_streamline_value(seg, np.zeros(1), LUT[:, :3], 0, 1, 1.0)


def test_group_colours_and_no_group():
    group_rgb = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    group_of = np.array([1, -1, 0, 1])
    seg = segments_of(np.zeros((4, 3)), streamline=[0, 1, 2, 3])
    rgba = colour_by_group(seg, group_of, group_rgb, alpha=1.0, no_group_rgb=(1, 2, 3))
    assert rgba.tolist() == [[0, 0, 255, 255], [1, 2, 3, 255], [255, 0, 0, 255], [0, 0, 255, 255]]


def test_default_group_colours_are_distinct_and_stable():
    many = default_group_colours(40)
    assert many.shape == (40, 3) and many.dtype == np.uint8
    assert len({tuple(c) for c in many.tolist()}) == 40
    np.testing.assert_array_equal(default_group_colours(5), many[:5])
    assert default_group_colours(0).shape == (0, 3)
