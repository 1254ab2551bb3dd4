"""ViewerState: setters validate and clamp, and emit once, only when the value changed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.factories import oriented_affine, random_data, write_nifti
from volview.core.geometry import Plane
from volview.core.layers import ImageLayer, LayerStyle
from volview.core.state import COLORMAPS, ViewerState
from volview.core.volume import Volume
from volview.io.images import open_image

SHAPE = (6, 7, 8)
DEPTH_WORLD_AXIS = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}


class Recorder:
    """Collects every emission of a psygnal signal."""

    def __init__(self, signal):
        self.calls: list[tuple] = []
        signal.connect(self._record)

    def _record(self, *args):
        self.calls.append(args)


@pytest.fixture
def make_volume(tmp_path):
    opened = []

    def make(perm=(0, 1, 2), signs=(1, 1, 1), name="vol.nii", radiological=True) -> Volume:
        data = random_data((*SHAPE, 2), "float32", seed=len(opened))
        affine = oriented_affine(perm, signs, (1.0, 2.0, 3.0), (5.0, -4.0, 3.0))
        image = open_image(write_nifti(tmp_path / name, data, affine))
        opened.append(image)
        return Volume.from_image(image, radiological=radiological)

    yield make
    for image in opened:
        image.close()


@pytest.fixture
def state(make_volume) -> ViewerState:
    state = ViewerState()
    state.set_volume(make_volume(), window=(0.0, 10.0))
    return state


def test_initial_state():
    state = ViewerState()
    assert state.volume is None
    assert state.cursor_ijk == (0, 0, 0)
    assert state.window == (0.0, 1.0)
    assert state.colormap == "gray"
    assert state.radiological
    assert state.cursor_xyz_mm == (0.0, 0.0, 0.0)
    assert state.cursor_value() is None


def test_setters_without_volume_do_nothing():
    state = ViewerState()
    cursor = Recorder(state.cursor_changed)
    state.set_cursor((1, 2, 3))
    state.set_cursor_world((1.0, 2.0, 3.0))
    state.step_slice(Plane.AXIAL, 1)
    assert cursor.calls == []
    assert state.cursor_ijk == (0, 0, 0)


def test_set_volume_centres_the_cursor_and_emits_once(make_volume):
    state = ViewerState()
    volumes = Recorder(state.volume_changed)
    windows = Recorder(state.window_changed)
    volume = make_volume()
    state.set_volume(volume, window=(-1.0, 3.0))
    assert volumes.calls == [(volume,)]
    assert windows.calls == []  # the volume signal carries the new window
    assert state.cursor_ijk == (3, 3, 4)
    assert state.window == (-1.0, 3.0)
    assert state.t == 0


def test_set_cursor_clamps_and_emits_once_on_change(state):
    cursor = Recorder(state.cursor_changed)
    state.set_cursor((-5, 100, 2.6))
    assert state.cursor_ijk == (0, 6, 3)
    assert cursor.calls == [((0, 6, 3),)]
    state.set_cursor((0, 6, 3))
    state.set_cursor((-1, 7.4, 3.2))  # clamps to the same voxel
    assert cursor.calls == [((0, 6, 3),)]
    state.set_cursor(np.array([1.0, 1.0, 1.0]))
    assert cursor.calls[-1] == ((1, 1, 1),)
    assert len(cursor.calls) == 2
    assert all(isinstance(v, int) for v in state.cursor_ijk)


def test_cursor_world_position_and_value(state):
    state.set_cursor((2, 3, 4))
    geometry = state.volume.geometry
    assert state.cursor_xyz_mm == pytest.approx(tuple(geometry.voxel_to_world((2, 3, 4))))
    state.set_cursor_world(geometry.voxel_to_world((1.2, 4.9, 6.6)))
    assert state.cursor_ijk == (1, 5, 7)
    assert state.cursor_value() == state.volume.value((1, 5, 7), 0)


@pytest.mark.parametrize(
    ("perm", "signs"),
    [
        ((0, 1, 2), (1, 1, 1)),
        ((0, 1, 2), (-1, 1, 1)),
        ((0, 1, 2), (-1, -1, -1)),
        ((2, 0, 1), (1, -1, -1)),
    ],
    ids=["RAS", "LAS", "LPI", "PIR"],
)
@pytest.mark.parametrize("plane", list(Plane), ids=lambda p: p.value)
def test_step_slice_moves_toward_positive_world(make_volume, plane, perm, signs):
    state = ViewerState()
    state.set_volume(make_volume(perm, signs))
    axis = DEPTH_WORLD_AXIS[plane]
    start = state.cursor_xyz_mm
    state.step_slice(plane, 1)
    forward = state.cursor_xyz_mm
    assert forward[axis] > start[axis]
    assert [forward[a] for a in range(3) if a != axis] == pytest.approx(
        [start[a] for a in range(3) if a != axis]
    )
    state.step_slice(plane, -2)
    assert state.cursor_xyz_mm[axis] < start[axis]


def test_step_slice_stops_at_the_edge(state):
    cursor = Recorder(state.cursor_changed)
    state.step_slice(Plane.AXIAL, 100)
    assert state.cursor_ijk[2] == SHAPE[2] - 1
    state.step_slice(Plane.AXIAL, 1)
    assert len(cursor.calls) == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_set_window_rejects_non_finite(state, bad):
    windows = Recorder(state.window_changed)
    with pytest.raises(ValueError, match="finite"):
        state.set_window(bad, 1.0)
    with pytest.raises(ValueError, match="finite"):
        state.set_window(0.0, bad)
    assert state.window == (0.0, 10.0)
    assert windows.calls == []


def test_set_window_orders_bounds_and_emits_once_on_change(state):
    windows = Recorder(state.window_changed)
    state.set_window(20.0, -5.0)
    assert state.window == (-5.0, 20.0)
    assert windows.calls == [(-5.0, 20.0)]
    state.set_window(-5.0, 20.0)
    state.set_window(20, -5)
    assert len(windows.calls) == 1
    state.set_window(np.float32(1.5), 2)
    assert windows.calls[-1] == (1.5, 2.0)
    assert all(type(v) is float for v in state.window)


def test_a_placeholder_window_is_settled_by_set_window_even_to_itself(state, make_volume):
    """A volume shown before its sample is read has a placeholder window; the first
    set_window settles it and is announced even when the values stay the same."""
    windows = Recorder(state.window_changed)
    assert state.window_settled
    state.set_volume(make_volume(name="later.nii"), window=(0.0, 1.0), window_settled=False)
    assert not state.window_settled and windows.calls == []
    state.set_window(0.0, 1.0)
    assert state.window_settled and windows.calls == [(0.0, 1.0)]
    state.set_window(0.0, 1.0)
    assert windows.calls == [(0.0, 1.0)]
    state.set_volume(make_volume(name="now.nii"), window=(2.0, 3.0))
    assert state.window_settled


def test_set_window_never_empty(state):
    state.set_window(3.0, 3.0)
    lo, hi = state.window
    assert lo == 3.0 and hi > lo
    state.set_window(0.0, 0.0)
    assert state.window[1] > state.window[0] == 0.0


def test_set_colormap(state):
    maps = Recorder(state.colormap_changed)
    for name in COLORMAPS:
        state.set_colormap(name)
    assert [c[0] for c in maps.calls] == [n for n in COLORMAPS if n != "gray"]
    state.set_colormap(COLORMAPS[-1])
    assert len(maps.calls) == len(COLORMAPS) - 1


def test_set_colormap_rejects_unknown_names(state):
    maps = Recorder(state.colormap_changed)
    with pytest.raises(ValueError) as info:
        state.set_colormap("rainbow")
    message = str(info.value)
    assert "rainbow" in message and "unknown colormap" in message
    assert all(name in message for name in COLORMAPS)
    assert state.colormap == "gray"
    assert maps.calls == []


def test_set_radiological_mirrors_and_keeps_the_cursor(state):
    volumes = Recorder(state.volume_changed)
    cursor = Recorder(state.cursor_changed)
    state.set_cursor((1, 2, 3))
    image = state.volume.image
    state.set_radiological(False)
    assert not state.radiological
    assert len(volumes.calls) == 1
    assert not state.volume.geometry.radiological
    assert state.volume.image is image
    assert state.cursor_ijk == (1, 2, 3)
    assert len(cursor.calls) == 1  # only the explicit move
    assert state.volume.geometry.layout(Plane.AXIAL).labels[:2] == ("L", "R")
    state.set_radiological(False)
    assert len(volumes.calls) == 1
    image.proxy.plane(2, 0)  # still open: switching convention does not close the file


def test_replacing_the_volume_closes_the_old_image(make_volume, monkeypatch):
    state = ViewerState()
    first = make_volume(name="first.nii")
    closed = []
    original_close = first.image.proxy.close
    monkeypatch.setattr(first.image.proxy, "close", lambda: closed.append(original_close()))
    state.set_volume(first)
    state.set_volume(first.with_convention(radiological=False))  # same image: stays open
    assert closed == []
    second = make_volume(name="second.nii")
    state.set_volume(second)
    assert len(closed) == 1
    assert state.volume is second
    assert state.t == 0


def test_active_overlay_owns_the_window_unless_it_shows_labels(state, make_volume):
    layer = ImageLayer(make_volume(name="overlay.nii"), LayerStyle(window=(1.0, 2.0)))
    with pytest.raises(ValueError, match=r"overlay\.nii is not an overlay"):
        state.set_active_overlay(layer)
    state.add_overlay(layer)
    seen = []
    state.active_layer_changed.connect(seen.append)
    state.set_active_overlay(layer)
    state.set_active_overlay(layer)  # no change, no signal
    assert seen == [layer]
    assert state.window_layer() is layer and state.active_window() == (1.0, 2.0)
    state.set_active_window(5.0, 3.0)
    assert layer.style.window == (3.0, 5.0) and state.window == (0.0, 10.0)
    layer.set_style(labels=True)
    assert state.window_layer() is None and state.active_window() == (0.0, 10.0)
    state.set_active_window(2.0, 4.0)
    assert state.window == (2.0, 4.0) and layer.style.window == (3.0, 5.0)
    state.remove_overlay(layer)
    assert state.active_overlay is None and seen == [layer, None]
