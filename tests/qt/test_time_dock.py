"""The volume controls and the time-course dock of a 4-D image, driven like a user.

Slider, spin box, ``+``/``-`` keys, Shift+wheel, the movie (waited on through
``state.time_changed``, never slept), the plot of the cursor voxel against nibabel's
``get_fdata()[i, j, k, :]`` and clicks on it; a 3-D image hides all of it.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from tests.qt.conftest import affine_for, open_and_wait
from volview.core.geometry import Plane
from volview.errors import ImageReadError
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
N_VOLUMES = 12
TR_MS = 1500.0


def write_4d(path, n_volumes: int = N_VOLUMES, tr_ms: float | None = TR_MS) -> str:
    """A scaled int16 4-D image whose voxels all differ from volume to volume."""
    data = np.random.default_rng(11).integers(-3000, 3000, (7, 6, 5, n_volumes))
    img = nib.Nifti1Image(data.astype(np.int16), affine_for("RAS"))
    img.header.set_slope_inter(0.5, 10.0)
    if tr_ms is not None:
        img.header.set_xyzt_units("mm", "msec")
        img.header["pixdim"][4] = tr_ms
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    img.to_filename(str(path))
    return str(path)


@pytest.fixture
def series_path(tmp_path):
    return write_4d(tmp_path / "bold.nii")


@pytest.fixture
def loaded(qtbot, window, series_path):
    open_and_wait(qtbot, window, series_path)
    return window


def controller(window):
    return window.time_series


def oracle(path, ijk) -> np.ndarray:
    return nib.load(path).get_fdata()[ijk[0], ijk[1], ijk[2], :]


def plotted(window) -> tuple[np.ndarray, np.ndarray]:
    x, y = controller(window).plot.curve.getData()
    return np.asarray(x), np.asarray(y)


def wait_for_course(qtbot, window) -> None:
    """Wait until the dock shows the cursor voxel's time course (read in the
    background for a compressed file)."""
    i, j, k = window.state.cursor_ijk
    title = f"Time course \u2014 voxel [{i}, {j}, {k}]"
    qtbot.waitUntil(lambda: controller(window).dock.windowTitle() == title)


def shift_wheel(view, notches: int) -> None:
    """Shift+wheel over the middle of a slice view."""
    pos = QtCore.QPointF(view.viewport().rect().center())
    event = QtGui.QWheelEvent(
        pos,
        QtCore.QPointF(view.viewport().mapToGlobal(pos.toPoint())),
        QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 120 * notches),
        Qt.NoButton,
        Qt.ShiftModifier,
        Qt.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(view.viewport(), event)


def plot_point(plot, x: float) -> QtCore.QPoint:
    """Widget pixel of plot coordinate ``x`` at mid-height of the plot area."""
    viewbox = plot.getPlotItem().getViewBox()
    (_x0, _x1), (y0, y1) = viewbox.viewRange()
    scene = viewbox.mapViewToScene(QtCore.QPointF(x, (y0 + y1) / 2))
    return plot.mapFromScene(scene)


# -- controls -----------------------------------------------------------------------------
def test_4d_image_shows_the_volume_controls(qtbot, loaded):
    time = controller(loaded)
    assert time.toolbar.isVisible()
    assert time.dock.isVisible()
    assert (time.slider.minimum(), time.slider.maximum()) == (0, N_VOLUMES - 1)
    assert (time.spin.minimum(), time.spin.maximum()) == (1, N_VOLUMES)
    assert all(action.isEnabled() for action in time.view_actions)
    controls = (time.slider, time.spin, time.fps_spin, time.plot, *time.view_actions)
    assert all(control.toolTip() for control in controls)


def test_3d_image_hides_and_disables_everything(qtbot, window, series_path, ramp_image):
    open_and_wait(qtbot, window, series_path)
    time = controller(window)
    time.play_action.setChecked(True)
    open_and_wait(qtbot, window, ramp_image)
    assert not time.toolbar.isVisible()
    assert not time.dock.isVisible()
    assert not time.movie.isActive()
    assert not any(action.isEnabled() for action in time.view_actions)
    assert time.plot.curve.getData() == (None, None)  # no curve left from the 4-D image


def test_slider_and_spin_box_select_the_volume(qtbot, loaded):
    time, state = controller(loaded), loaded.state
    with qtbot.waitSignal(state.time_changed, check_params_cb=lambda t: t == 4):
        time.slider.setValue(4)
    assert time.spin.value() == 5  # 1-based display
    time.spin.setValue(N_VOLUMES)
    assert state.t == N_VOLUMES - 1
    assert time.slider.value() == N_VOLUMES - 1
    state.set_time(2)
    assert (time.slider.value(), time.spin.value()) == (2, 3)
    assert "volume 3 / 12 (3 s)" in time.slider.toolTip()


def test_plus_and_minus_keys_step_the_volume(qtbot, loaded):
    state = loaded.state
    axial = loaded.ortho_view.views[Plane.AXIAL]
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key_Plus)
    qtbot.keyClick(axial, Qt.Key_Equal)
    assert state.t == 2
    qtbot.keyClick(axial, Qt.Key_Minus)
    assert state.t == 1
    for _ in range(3):
        qtbot.keyClick(axial, Qt.Key_Minus)
    assert state.t == 0  # clamped at the first volume


def test_minus_typed_in_the_header_table_is_not_a_volume_step(qtbot, loaded):
    state = loaded.state
    state.set_time(3)
    loaded.header.dock.show()
    table = loaded.header.panel.table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key_Minus)
    assert state.t == 3


def test_shift_wheel_steps_the_volume_of_a_4d_image(qtbot, loaded):
    state = loaded.state
    axial = loaded.ortho_view.views[Plane.AXIAL]
    cursor = state.cursor_ijk
    shift_wheel(axial, +2)
    assert state.t == 2
    shift_wheel(axial, -1)
    assert state.t == 1
    assert state.cursor_ijk == cursor


def test_shift_wheel_still_steps_ten_slices_of_a_3d_image(qtbot, window, ramp_image):
    open_and_wait(qtbot, window, ramp_image)
    axial = window.ortho_view.views[Plane.AXIAL]
    i, j, _k = window.state.cursor_ijk
    window.state.set_cursor((i, j, 11))
    shift_wheel(axial, -1)
    assert window.state.cursor_ijk[2] == 1
    assert window.state.t == 0


# -- movie --------------------------------------------------------------------------------
def test_movie_advances_on_a_timer_and_wraps_around(qtbot, loaded):
    time, state = controller(loaded), loaded.state
    time.fps_spin.setValue(50)
    assert time.movie.interval() == 20
    state.set_time(N_VOLUMES - 2)
    seen = []
    state.time_changed.connect(seen.append)
    time.play_action.trigger()
    assert time.play_action.isChecked()
    for _ in range(3):
        with qtbot.waitSignal(state.time_changed, timeout=2000):
            pass
    assert seen[:3] == [N_VOLUMES - 1, 0, 1]
    time.play_action.trigger()
    assert not time.movie.isActive()
    assert time.play_action.text() == "Play &movie"


def test_frame_rate_is_clamped(qtbot, loaded):
    time = controller(loaded)
    time.set_fps(1000)
    assert time.fps_spin.value() == 60
    assert time.movie.interval() == round(1000 / 60)
    time.set_fps(0)
    assert time.movie.interval() == 2000


# -- time-course plot ---------------------------------------------------------------------
def test_plot_shows_the_cursor_voxel_through_all_volumes(qtbot, loaded, series_path):
    state = loaded.state
    x, y = plotted(loaded)
    np.testing.assert_allclose(x, np.arange(N_VOLUMES) * TR_MS / 1000)
    np.testing.assert_array_equal(y, oracle(series_path, state.cursor_ijk))
    axis = controller(loaded).plot.getPlotItem().getAxis("bottom")
    assert axis.labelText == "time (s)"
    state.set_cursor((1, 2, 3))
    np.testing.assert_array_equal(plotted(loaded)[1], oracle(series_path, (1, 2, 3)))
    assert controller(loaded).dock.windowTitle() == "Time course \u2014 voxel [1, 2, 3]"


def test_marker_follows_the_volume(qtbot, loaded):
    time = controller(loaded)
    loaded.state.set_time(5)
    assert time.plot.marker.value() == pytest.approx(5 * TR_MS / 1000)


def test_without_a_time_step_the_axis_counts_volumes(qtbot, window, tmp_path):
    path = write_4d(tmp_path / "no_tr.nii", n_volumes=4, tr_ms=None)
    open_and_wait(qtbot, window, path)
    x, y = plotted(window)
    np.testing.assert_array_equal(x, [1, 2, 3, 4])
    np.testing.assert_array_equal(y, oracle(path, window.state.cursor_ijk))
    assert controller(window).plot.getPlotItem().getAxis("bottom").labelText == "volume"
    window.state.set_time(2)
    assert controller(window).plot.marker.value() == 3


def test_clicking_the_plot_selects_the_nearest_volume(qtbot, loaded):
    plot, state = controller(loaded).plot, loaded.state
    qtbot.waitUntil(lambda: plot.width() > 50 and plot.height() > 50)
    with qtbot.waitSignal(state.time_changed, check_params_cb=lambda t: t == 7):
        qtbot.mouseClick(plot.viewport(), Qt.LeftButton, pos=plot_point(plot, 7 * 1.5 + 0.4))
    assert plot.marker.value() == pytest.approx(7 * 1.5)
    assert plot.select_at(-100.0) == 0
    assert state.t == 0


def test_time_course_errors_go_to_the_status_bar(qtbot, loaded, monkeypatch):
    def broken(ijk):
        raise ImageReadError("bold.nii: could not read the voxel data")

    monkeypatch.setattr(loaded.state.volume.image.proxy, "series", broken)
    loaded.state.set_cursor((0, 0, 0))
    assert "could not read the voxel data" in loaded.statusBar().currentMessage()
    assert (
        controller(loaded).dock.windowTitle() == "Time course \u2014 voxel [0, 0, 0] (unreadable)"
    )
    assert controller(loaded).plot.curve.getData() == (None, None)


def test_hidden_dock_reads_nothing_and_catches_up_when_shown(qtbot, loaded, series_path):
    time, state = controller(loaded), loaded.state
    calls = []
    proxy = state.volume.image.proxy
    read = proxy.series
    proxy.series = lambda ijk: calls.append(ijk) or read(ijk)
    time.toggle_action.trigger()  # hide
    assert not time.dock.isVisible()
    state.set_cursor((2, 2, 2))
    assert calls == []
    qtbot.keyClick(loaded, Qt.Key_V, Qt.ControlModifier | Qt.ShiftModifier)  # show again
    qtbot.waitUntil(time.dock.isVisible)
    assert calls == [(2, 2, 2)]
    np.testing.assert_array_equal(plotted(loaded)[1], oracle(series_path, (2, 2, 2)))


def test_a_dock_the_user_closed_stays_closed_for_the_next_image(
    qtbot, window, series_path, tmp_path
):
    open_and_wait(qtbot, window, series_path)
    time = controller(window)
    time.dock.close()
    open_and_wait(qtbot, window, write_4d(tmp_path / "other.nii"))
    assert not time.dock.isVisible()
    assert time.toolbar.isVisible()


def test_compressed_time_course_is_read_once_the_cursor_rests(qtbot, window, tmp_path):
    path = write_4d(tmp_path / "bold.nii.gz")
    open_and_wait(qtbot, window, path)
    dock = controller(window).dock
    wait_for_course(qtbot, window)
    np.testing.assert_array_equal(plotted(window)[1], oracle(path, window.state.cursor_ijk))
    proxy = window.state.volume.image.proxy
    read = proxy.series
    calls = []
    proxy.series = lambda ijk: calls.append(ijk) or read(ijk)
    for ijk in [(1, 1, 1), (2, 2, 2), (3, 3, 3)]:  # a drag: no read while it moves
        window.state.set_cursor(ijk)
    assert calls == []
    assert dock.windowTitle().endswith("\u2026")
    qtbot.waitUntil(lambda: dock.windowTitle() == "Time course \u2014 voxel [3, 3, 3]")
    assert calls == [(3, 3, 3)]  # once, on the background reader
    np.testing.assert_array_equal(plotted(window)[1], oracle(path, (3, 3, 3)))


def test_grid_shows_the_time_course_in_its_fourth_cell(qtbot, loaded, series_path):
    time, ortho = controller(loaded), loaded.ortho_view
    assert ortho.fourth_cell() is None  # the 1x3 row has no fourth cell
    loaded.view_actions.set_arrangement("grid")
    assert ortho.fourth_cell() is time.cell_plot
    qtbot.waitUntil(time.cell_plot.isVisible)
    assert not ortho.info_pane.isVisible()
    loaded.state.set_cursor((1, 3, 2))
    x, y = time.cell_plot.curve.getData()
    np.testing.assert_array_equal(y, oracle(series_path, (1, 3, 2)))
    loaded.state.set_time(4)
    assert time.cell_plot.marker.value() == pytest.approx(x[4])
    time.cell_action.trigger()  # the info pane instead
    assert ortho.fourth_cell() is ortho.info_pane
    qtbot.waitUntil(ortho.info_pane.isVisible)
    assert not time.cell_plot.isVisible()
    assert "volume 5 of" in ortho.info_pane.text()


def test_a_3d_image_keeps_the_info_pane_in_the_grid(qtbot, loaded, ramp_image):
    loaded.view_actions.set_arrangement("grid")
    open_and_wait(qtbot, loaded, ramp_image)
    assert loaded.ortho_view.fourth_cell() is loaded.ortho_view.info_pane
    assert not controller(loaded).cell_action.isEnabled()
