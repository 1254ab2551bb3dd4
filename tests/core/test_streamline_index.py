"""Streamline slab index: selection equals a brute-force reference, and the build's contract.

The reference transforms every point with the float64 inverse affine and tests every
segment; the index decides in float32, so the two may disagree only on segments within
``EPS`` voxel of a slab edge: the index's selection must contain the reference's for
the slab shrunk by ``EPS`` and lie within the reference's for the slab grown by ``EPS``.
"""

from __future__ import annotations

import itertools
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from volview.core import streamline_chunks, streamline_query
from volview.core.streamline_index import BuildCancelled, Segments, Slab, StreamlineIndex, subsample

HYPOTHESIS = settings(max_examples=150, deadline=None, database=None)
EPS = 1e-3  # voxels
FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def random_affine(rng, axis_aligned: bool) -> np.ndarray:
    """Voxel -> world: a rotation (or an axis permutation), flips, anisotropic voxels."""
    if axis_aligned:
        rotation = np.eye(3)[rng.permutation(3)]
    else:
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        rotation[:, 0] += rng.normal(0, 0.2, 3)  # a little shear
    scales = rng.uniform(0.4, 3.0, 3) * rng.choice([-1.0, 1.0], 3)
    affine = np.eye(4)
    affine[:3, :3] = rotation * scales
    affine[:3, 3] = rng.uniform(-60, 60, 3)
    return affine


def random_tractogram(rng, lengths: list[int], dtype) -> tuple[np.ndarray, np.ndarray]:
    """Random walks of 0.2-4 mm steps: (positions (N, 3) dtype, offsets (M + 1,) int64)."""
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    steps = rng.normal(size=(int(offsets[-1]), 3)) * rng.uniform(0.2, 4.0)
    starts = rng.uniform(-40, 40, (len(lengths), 3))
    positions = np.empty((int(offsets[-1]), 3))
    for s, (a, b) in enumerate(itertools.pairwise(offsets)):
        positions[a:b] = starts[s] + np.cumsum(steps[a:b], axis=0)
    return positions.astype(dtype), offsets


def reference_ijk(positions: np.ndarray, affine: np.ndarray) -> np.ndarray:
    inverse = np.linalg.inv(affine)
    return positions.astype(np.float64) @ inverse[:3, :3].T + inverse[:3, 3]


def reference_selection(ijk, offsets, slab: Slab, shown, grow: float) -> set[tuple[int, int]]:
    """(streamline, vertex) of every segment overlapping the slab grown by ``grow``."""
    low, high = slab.depth - slab.half_width - grow, slab.depth + slab.half_width + grow
    selected = set()
    for s in range(len(offsets) - 1):
        if shown is not None and not shown[s]:
            continue
        for v in range(offsets[s], offsets[s + 1] - 1):
            u0, u1 = ijk[v, slab.axis], ijk[v + 1, slab.axis]
            if min(u0, u1) <= high and max(u0, u1) >= low:
                selected.add((s, v))
    return selected


def selection(segments: Segments) -> set[tuple[int, int]]:
    pairs = list(zip(segments.streamline.tolist(), segments.vertex.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs), "a segment was returned twice"
    return set(pairs)


def check_segments(segments: Segments, ijk: np.ndarray, positions: np.ndarray) -> None:
    """Shapes, dtypes and values of each returned segment against the reference."""
    n = len(segments)
    assert segments.start_ijk.shape == segments.end_ijk.shape == (n, 3)
    assert segments.start_ijk.dtype == segments.direction.dtype == np.float32
    assert segments.streamline.dtype == segments.vertex.dtype == np.int64
    tolerance = 1e-4 * (1 + np.abs(ijk).max(initial=0))
    np.testing.assert_allclose(segments.start_ijk, ijk[segments.vertex], atol=tolerance)
    np.testing.assert_allclose(segments.end_ijk, ijk[segments.vertex + 1], atol=tolerance)
    delta = np.diff(positions.astype(np.float64), axis=0)[segments.vertex]
    length = np.linalg.norm(delta, axis=1, keepdims=True)
    expected = np.abs(delta) / np.where(length > 0, length, 1)
    np.testing.assert_allclose(segments.direction, expected, atol=1e-3)


def assert_matches_reference(index, positions, offsets, affine, slab, streamlines=None):
    shown = None
    if streamlines is not None:
        shown = np.zeros(len(offsets) - 1, bool)
        shown[streamlines] = True
    segments = index.query(slab, streamlines)
    got = selection(segments)
    ijk = reference_ijk(positions, affine)
    assert reference_selection(ijk, offsets, slab, shown, -EPS) <= got
    assert got <= reference_selection(ijk, offsets, slab, shown, EPS)
    check_segments(segments, ijk, positions)
    return segments


@st.composite
def tractograms(draw):
    """(positions, offsets, affine, rng): lengths stress chunk edges (16 segments)."""
    length = st.one_of(st.integers(0, 3), st.integers(14, 19), st.integers(30, 50))
    lengths = draw(st.lists(length, max_size=12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    positions, offsets = random_tractogram(rng, lengths, dtype)
    affine = random_affine(rng, axis_aligned=draw(st.booleans()))
    return positions, offsets, affine, rng


def slabs_near(rng, positions, affine, n: int) -> list[Slab]:
    """Slabs around random points (so that they select something), every axis."""
    ijk = reference_ijk(positions, affine)
    slabs = []
    for k in range(n):
        axis = k % 3
        centre = ijk[rng.integers(len(ijk)), axis] if len(ijk) else 0.0
        depth = float(centre + rng.uniform(-3, 3))
        slabs.append(Slab(axis, depth, float(rng.choice([0.0, 0.5, 1.0, rng.uniform(0, 4)]))))
    return slabs


@HYPOTHESIS
@given(tractograms(), st.sampled_from([4, 40, 1 << 21]), st.sampled_from([2, 1 << 13]))
def test_selection_equals_brute_force(tractogram, step_points, parallel_min_chunks):
    """Small build steps, and queries split in two threads however small they are."""
    positions, offsets, affine, rng = tractogram
    with patch.object(streamline_chunks, "BUILD_STEP_POINTS", step_points):
        index = StreamlineIndex.build(positions, offsets, affine, (30, 40, 50))
    with patch.object(streamline_query, "PARALLEL_MIN_CHUNKS", parallel_min_chunks):
        for slab in slabs_near(rng, positions, affine, 6):
            assert_matches_reference(index, positions, offsets, affine, slab)


@HYPOTHESIS
@given(tractograms(), st.sampled_from(["ids", "mask"]))
def test_selection_of_a_subset_equals_brute_force(tractogram, form):
    positions, offsets, affine, rng = tractogram
    index = StreamlineIndex.build(positions, offsets, affine, (30, 40, 50))
    n = len(offsets) - 1
    for _ in range(2):  # a second subset replaces the cached one
        ids = np.flatnonzero(rng.random(n) < rng.uniform(0, 1))
        mask = np.zeros(n, bool)
        mask[ids] = True
        for slab in slabs_near(rng, positions, affine, 3):
            chosen = ids if form == "ids" else mask
            assert_matches_reference(index, positions, offsets, affine, slab, chosen)


@HYPOTHESIS
@given(tractograms(), st.sampled_from([4, 40, 1 << 21]), st.sampled_from(["ids", "mask", None]))
def test_an_index_of_some_streamlines_returns_only_those(tractogram, step_points, form):
    """Indexing a subset (gathered rows, small steps) selects as the full index does,
    restricted to the subset, with global streamline ids and rows."""
    positions, offsets, affine, rng = tractogram
    n = len(offsets) - 1
    indexed = np.flatnonzero(rng.random(n) < rng.uniform(0, 1))
    with patch.object(streamline_chunks, "BUILD_STEP_POINTS", step_points):
        index = StreamlineIndex.build(
            positions, offsets, affine, (30, 40, 50), streamlines=indexed[::-1]
        )
    assert index.n_streamlines == n
    assert index.covers(indexed) and index.covers(indexed[::2])
    asked = np.flatnonzero(rng.random(n) < 0.7)
    shown = np.intersect1d(asked, indexed)
    assert index.covers(asked) == np.array_equal(shown, asked)
    mask = np.zeros(n, bool)
    mask[asked] = True
    query_with = {"ids": asked, "mask": mask, None: None}[form]
    for slab in slabs_near(rng, positions, affine, 4):
        got = selection(index.query(slab, query_with))
        expected = shown if form else indexed
        assert got == selection(
            assert_matches_reference(index, positions, offsets, affine, slab, expected)
        )


def test_streamline_ids_out_of_range_are_refused():
    positions = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"streamline ids must be in \[0, 2\)"):
        StreamlineIndex.build(positions, [0, 2, 4], np.eye(4), (4, 4, 4), streamlines=[0, 2])


def test_a_mask_changed_in_place_is_seen_by_the_next_query():
    positions = np.array([[0, 0, z] for z in range(4)] * 2, np.float32)
    index = StreamlineIndex.build(positions, [0, 4, 8], np.eye(4), (4, 4, 4))
    shown = np.array([True, False])
    assert set(index.query(Slab(2, 1.5), shown).streamline.tolist()) == {0}
    shown[:] = [False, True]
    assert set(index.query(Slab(2, 1.5), shown).streamline.tolist()) == {1}


def test_a_streamline_through_voxel_centres_gives_those_centres():
    affine = np.array([[-2.0, 0, 0, 90], [0, 3.0, 0, -120], [0, 0, 1.5, -60], [0, 0, 0, 1]])
    centres = np.array([[4, 7, k] for k in range(10)] + [[4 + d, 7, 9] for d in range(1, 5)])
    positions = (centres @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)
    index = StreamlineIndex.build(positions, [0, len(positions)], affine, (20, 20, 20))

    segments = index.query(Slab(axis=2, depth=5, half_width=1.0))

    order = np.argsort(segments.vertex)
    assert segments.vertex[order].tolist() == [3, 4, 5, 6]
    np.testing.assert_allclose(segments.start_ijk[order], centres[3:7], atol=1e-4)
    np.testing.assert_allclose(segments.end_ijk[order], centres[4:8], atol=1e-4)
    np.testing.assert_array_equal(segments.direction[order], [[0, 0, 1]] * 4)
    # vertices 10..13 are i = 5..8: segments 10 (5->6), 11 (6->7), 12 (7->8)
    assert index.query(Slab(axis=0, depth=7.5, half_width=0.25)).vertex.tolist() == [12]
    touching = index.query(Slab(axis=0, depth=7.5, half_width=0.5))  # [7, 8]: closed
    assert sorted(touching.vertex.tolist()) == [11, 12]


def test_empty_and_tiny_tractograms():
    affine = np.eye(4)
    empty = StreamlineIndex.build(np.empty((0, 3), np.float32), [0], affine, (4, 4, 4))
    assert len(empty.query(Slab(0, 1.0))) == 0
    points = np.array([[1, 1, 1], [2, 2, 2]], np.float32)
    singles = StreamlineIndex.build(points, [0, 1, 1, 2], affine, (4, 4, 4))
    assert len(singles.query(Slab(0, 1.5, 2.0))) == 0  # no streamline has two points
    pair = StreamlineIndex.build(points, [0, 0, 2], affine, (4, 4, 4))
    assert selection(pair.query(Slab(2, 1.5, 0.1))) == {(1, 0)}
    assert len(pair.query(Slab(2, 1.5, 0.1), np.array([0]))) == 0


def test_nan_points_never_select_their_segments():
    positions = np.array([[0, 0, z] for z in range(8)], np.float32)
    positions[3] = np.nan
    index = StreamlineIndex.build(positions, [0, 8], np.eye(4), (8, 8, 8))
    assert sorted(index.query(Slab(2, 3.0, 1.0)).vertex.tolist()) == [1, 4]


def test_points_far_outside_the_int16_range_are_still_found():
    z = np.array([20_000.0, 20_001.0, 20_002.0, -40_000.0, -40_001.0])
    positions = np.column_stack([np.zeros(5), np.zeros(5), z]).astype(np.float32)
    index = StreamlineIndex.build(positions, [0, 3, 5], np.eye(4), (8, 8, 8))
    assert sorted(index.query(Slab(2, 20_001.5, 0.1)).vertex.tolist()) == [1]
    assert sorted(index.query(Slab(2, -40_000.5, 0.1)).vertex.tolist()) == [3]


def test_unaligned_read_only_memmap_and_non_contiguous_positions(tmp_path):
    rng = np.random.default_rng(3)
    positions, offsets = random_tractogram(rng, [40, 0, 17, 33, 1, 60], np.float32)
    path = tmp_path / "positions.bin"
    path.write_bytes(b"x" * 273 + positions.tobytes())  # TRX members are not aligned
    mapped = np.memmap(path, np.float32, mode="r", offset=273, shape=positions.shape)
    padded = np.zeros((len(positions), 4), np.float32)
    padded[:, :3] = positions
    affine = random_affine(rng, axis_aligned=False)
    for source in (mapped, padded[:, :3]):
        index = StreamlineIndex.build(source, offsets, affine, (9, 9, 9))
        for slab in slabs_near(rng, positions, affine, 6):
            assert_matches_reference(index, positions, offsets, affine, slab)


def test_progress_reaches_the_total_and_never_goes_back():
    rng = np.random.default_rng(1)
    positions, offsets = random_tractogram(rng, [50] * 40, np.float32)
    calls = []
    with patch.object(streamline_chunks, "BUILD_STEP_POINTS", 100):
        StreamlineIndex.build(
            positions, offsets, np.eye(4), (9, 9, 9), progress=lambda d, t: calls.append((d, t))
        )
    n_chunks = 40 * 4  # 49 segments each: 16 + 16 + 16 + 1
    assert len(calls) > 5
    assert calls[-1] == (n_chunks, n_chunks)
    assert all(total == n_chunks for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done)


def test_cancel_raises_build_cancelled():
    rng = np.random.default_rng(1)
    positions, offsets = random_tractogram(rng, [50] * 40, np.float32)
    calls = []
    with (
        patch.object(streamline_chunks, "BUILD_STEP_POINTS", 100),
        pytest.raises(BuildCancelled),
    ):
        StreamlineIndex.build(
            positions,
            offsets,
            np.eye(4),
            (9, 9, 9),
            progress=lambda d, t: calls.append(d),
            cancelled=lambda: len(calls) >= 3,
        )
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("offsets", "problem"),
    [
        ([1, 4], "rise from 0"),
        ([0, 3], "rise from 0"),
        ([0, 3, 2, 4], "rise from 0"),
        ([[0, 4]], "1-D integer"),
        ([0.0, 4.0], "1-D integer"),
    ],
)
def test_inconsistent_offsets_are_refused(offsets, problem):
    positions = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=problem):
        StreamlineIndex.build(positions, np.asarray(offsets), np.eye(4), (4, 4, 4))


def test_bad_positions_affines_slabs_and_masks_are_refused():
    positions = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(N, 3\) float"):
        StreamlineIndex.build(np.zeros((4, 2)), [0, 4], np.eye(4), (4, 4, 4))
    with pytest.raises(ValueError, match="singular"):
        StreamlineIndex.build(positions, [0, 4], np.zeros((4, 4)), (4, 4, 4))
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        Slab(3, 1.0)
    with pytest.raises(ValueError, match="half_width"):
        Slab(0, 1.0, -1.0)
    index = StreamlineIndex.build(positions, [0, 2, 4], np.eye(4), (4, 4, 4))
    with pytest.raises(ValueError, match="needs 2 values"):
        index.query(Slab(0, 0.0), np.ones(3, bool))


def test_nbytes_counts_the_index_and_the_cached_subset():
    rng = np.random.default_rng(2)
    positions, offsets = random_tractogram(rng, [100] * 200, np.float32)
    index = StreamlineIndex.build(positions, offsets, np.eye(4), (9, 9, 9))
    base = index.nbytes
    assert 0 < base < positions.nbytes
    index.query(Slab(0, float(positions[0, 0])), np.arange(0, 200, 2))
    assert index.nbytes > base


def test_subsample_is_sorted_deterministic_and_nested():
    small, large = subsample(1000, 100, seed=3), subsample(1000, 300, seed=3)
    assert len(small) == 100 and len(large) == 300
    assert np.all(np.diff(small) > 0) and small.dtype == np.int64
    np.testing.assert_array_equal(small, subsample(1000, 100, seed=3))
    assert set(small) <= set(large)
    assert not np.array_equal(small, subsample(1000, 100, seed=4))
    assert small.min() >= 0 and small.max() < 1000


@pytest.mark.parametrize("cap", [None, 1000, 5000])
def test_subsample_without_a_binding_cap_is_everything(cap):
    np.testing.assert_array_equal(subsample(1000, cap), np.arange(1000))


def test_subsample_edges():
    assert len(subsample(0, 10)) == 0
    assert len(subsample(10, 0)) == 0
    with pytest.raises(ValueError, match="cap"):
        subsample(10, -1)
