"""TractLayer and the session's tractogram route, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trx_factories import TrxData, sample_data, trx_entries, write_zip
from volview.core.state import ViewerState
from volview.core.tracts import UNGROUPED, TractLayer, TractStyle, grid_image, grid_note
from volview.io.tractogram import open_tractogram
from volview.session import Session


@pytest.fixture
def layer(tmp_path):
    data = sample_data(40, seed=3)
    data.groups = {"a": np.arange(0, 10, dtype=np.uint32), "b": np.arange(10, 25, dtype=np.uint32)}
    data.dpg = {"a": {"color": np.array([10, 20, 30], np.uint8)}}
    tractogram = open_tractogram(write_zip(tmp_path / "t.trx", trx_entries(data)))
    layer = TractLayer(tractogram)
    yield layer
    layer.close()


def test_groups_counts_and_ungrouped(layer):
    assert layer.group_names() == ["a", "b", UNGROUPED]
    assert layer.group_counts() == {"a": 10, "b": 15, UNGROUPED: 15}


def test_selection_follows_cap_and_groups(layer):
    assert np.array_equal(layer.selection(), np.arange(40))
    layer.set_group_visible("b", False)
    assert set(layer.selection()) == set(range(10)) | set(range(25, 40))
    layer.set_group_visible(UNGROUPED, False)
    assert np.array_equal(layer.selection(), np.arange(10))
    layer.set_style(cap=5)
    assert len(layer.selection()) <= 5 and set(layer.selection()) <= set(range(10))


def test_changed_fires_once_per_real_change(layer):
    fired = []
    layer.changed.connect(lambda: fired.append(1))
    layer.set_style(opacity=0.5)
    layer.set_style(opacity=0.5)
    layer.set_visible(True)
    layer.set_group_visible("a", False)
    assert len(fired) == 2


def test_group_colours_use_dpg_colour(layer):
    colours = layer.group_colours()
    assert tuple(colours[0]) == (10, 20, 30)
    assert tuple(colours[1]) != (10, 20, 30)


def test_scalar_names_and_default_range(layer):
    assert layer.scalar_names() == ["dps:weight", "dpv:fa"]
    lo, hi = layer.default_range("dps:weight")
    weights = layer.tractogram.dps["weight"]
    assert (lo, hi) == (pytest.approx(weights.min()), pytest.approx(weights.max()))
    layer.set_style(scalar="dpv:fa")
    assert layer.style.scalar_range == layer.default_range("dpv:fa")
    with pytest.raises(KeyError, match="no scalar"):
        layer.default_range("dps:nothing")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"colour_mode": "rainbow"}, "colour mode"),
        ({"opacity": 1.5}, "opacity"),
        ({"line_width": 0}, "line width"),
        ({"half_width": 0}, "half-width"),
        ({"cap": 0}, "cap"),
        ({"scalar_range": (2.0, 1.0)}, "scalar range"),
    ],
)
def test_invalid_style_is_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        TractStyle(**changes)


def test_grid_image_uses_header_grid_and_allocates_nothing(layer):
    image = grid_image(layer.tractogram)
    assert image.shape == (*layer.tractogram.dimensions, 1)
    np.testing.assert_allclose(image.affine, layer.tractogram.voxel_to_rasmm)
    assert image.proxy.plane(2, 0).shape == image.shape[:2]
    assert not image.proxy.plane(2, 0).any()


def test_grid_note_names_the_difference(layer):
    t = layer.tractogram
    assert grid_note(t, t.voxel_to_rasmm, t.dimensions) == ""
    note = grid_note(t, np.diag([2.0, 2, 2, 1]), (9, 9, 9))
    assert "different grid" in note and "dimensions" in note


def test_session_opens_a_tractogram_alone_and_indexes_it(tmp_path):
    line = np.array([[2, 2, 10], [18, 18, 10]], np.float32)  # in the slice k = 10
    data = TrxData([line], affine=np.eye(4), dimensions=(20, 20, 20))
    path = write_zip(tmp_path / "alone.trx", trx_entries(data))
    state = ViewerState()
    assert Session(state).open_paths([path]) == []
    assert state.volume.shape == (20, 20, 20)
    (layer,) = state.tracts
    assert layer.index is not None and layer.grid is not None
    assert state.cursor_ijk == (10, 10, 10)
    segments = layer.segments(2, 10.0)
    assert len(segments) == 1
    np.testing.assert_allclose(segments.start_ijk[0], (2, 2, 10))


def test_session_reports_a_bad_tractogram(tmp_path):
    bad = tmp_path / "bad.trx"
    bad.write_bytes(b"\0" * 100)
    state = ViewerState()
    (error,) = Session(state).open_paths([bad])
    assert "bad.trx" in str(error)
    assert state.tracts == [] and state.volume is None


def test_the_index_holds_the_cap_subsample_and_a_raised_cap_needs_more(tmp_path):
    data = sample_data(60, seed=4)
    path = write_zip(tmp_path / "cap.trx", trx_entries(data))
    state = ViewerState()
    session = Session(state)
    session.open_paths([path])
    (layer,) = state.tracts
    grid = session.index_grid()
    assert not layer.needs_index(grid)  # cap above the count: everything indexed
    assert layer.index.indexed is None
    layer.set_style(cap=20)
    assert not layer.needs_index(grid)  # a smaller cap is inside the full index
    layer.set_index(*session.build_index(layer, state.volume, layer.index_wanted()))
    assert np.array_equal(layer.index.indexed, layer.selection())
    assert len(layer.index.indexed) == 20
    layer.set_style(cap=10)  # nested subsample: still covered
    assert not layer.needs_index(grid)
    layer.set_style(cap=30)
    assert layer.needs_index(grid)
    drawn = set(layer.segments(2, 10.0).streamline.tolist())
    assert drawn <= set(layer.index.indexed.tolist())  # draws what it has meanwhile
    session.build_indexes()
    assert not layer.needs_index(grid) and len(layer.index.indexed) == 30
    layer.set_style(cap=None)
    assert layer.needs_index(grid)
    session.build_indexes()
    assert layer.index.indexed is None and not layer.needs_index(grid)
