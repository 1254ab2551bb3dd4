"""Slice views driven like a user: clicks, drags, wheel and keys move the shared cursor."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.conftest import affine_for, open_and_wait, write_image
from volview.core.geometry import Plane
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt


def viewport_point(view, x_mm: float, y_mm: float) -> QtCore.QPoint:
    """Widget pixel of display millimetres (x_mm, y_mm) in a SliceView."""
    scene = view.viewbox.mapViewToScene(QtCore.QPointF(x_mm, y_mm))
    return view.mapFromScene(scene)


def voxel_point(view, v_col: int, v_row: int) -> QtCore.QPoint:
    layout = view.plane_layout
    col, row = layout.voxel_to_display(v_col, v_row)
    return viewport_point(
        view, (col + 0.5) * layout.col_spacing_mm, (row + 0.5) * layout.row_spacing_mm
    )


def send_mouse(widget, kind, pos, button, buttons, modifiers=Qt.NoModifier):
    event = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), button, buttons, modifiers)
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(view, start: QtCore.QPoint, end: QtCore.QPoint, button=Qt.LeftButton, modifiers=None):
    """Press at start, move to end, release: a real drag through the pyqtgraph scene.

    One move only: the scene drops move events closer together than its rate limit.
    """
    modifiers = Qt.NoModifier if modifiers is None else modifiers
    port = view.viewport()
    send_mouse(port, QtCore.QEvent.MouseButtonPress, start, button, button, modifiers)
    send_mouse(port, QtCore.QEvent.MouseMove, end, Qt.NoButton, button, modifiers)
    send_mouse(port, QtCore.QEvent.MouseButtonRelease, end, button, Qt.NoButton, modifiers)


def wheel(view, pos: QtCore.QPoint, notches: int, modifiers=Qt.NoModifier):
    event = QtGui.QWheelEvent(
        QtCore.QPointF(pos),
        QtCore.QPointF(view.viewport().mapToGlobal(pos)),
        QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 120 * notches),
        Qt.NoButton,
        modifiers,
        Qt.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(view.viewport(), event)


@pytest.fixture
def loaded(qtbot, window, ramp_image):
    open_and_wait(qtbot, window, ramp_image)
    return window


def record(signal) -> list:
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen


def test_click_in_axial_moves_cursor_and_other_views_follow(qtbot, loaded):
    state = loaded.state
    axial = loaded.ortho_view.views[Plane.AXIAL]
    coronal = loaded.ortho_view.views[Plane.CORONAL]
    sagittal = loaded.ortho_view.views[Plane.SAGITTAL]
    before_coronal = coronal._shown
    seen = record(state.cursor_changed)
    qtbot.mouseClick(axial.viewport(), Qt.LeftButton, pos=voxel_point(axial, 3, 11))
    assert state.cursor_ijk == (3, 11, 6)
    assert len(seen) == 1
    # coronal now shows slice j=11, sagittal slice i=3, and their crosshairs moved
    assert coronal._shown[0] == 11 and coronal._shown != before_coronal
    assert sagittal._shown[0] == 3
    col, _row = coronal.plane_layout.voxel_to_display(3, 6)
    assert coronal.v_line.value() == pytest.approx((col + 0.5) * 1.0)
    # the pixels shown in the coronal view are plane j=11 of the file
    shown = coronal.overview_item.image
    assert shown[0, 0] % 10000 // 100 == 11


def test_drag_moves_cursor_continuously(qtbot, loaded):
    state = loaded.state
    coronal = loaded.ortho_view.views[Plane.CORONAL]
    seen = record(state.cursor_changed)
    drag(coronal, voxel_point(coronal, 2, 2), voxel_point(coronal, 15, 9))
    assert state.cursor_ijk[0] == 15 and state.cursor_ijk[2] == 9
    assert len(seen) == 1  # the press only arms the drag; moving sets the cursor once


def test_wheel_and_keys_step_the_slice_under_the_mouse(qtbot, loaded):
    state = loaded.state
    axial = loaded.ortho_view.views[Plane.AXIAL]
    start = state.cursor_ijk
    wheel(axial, voxel_point(axial, 5, 5), +1)
    assert state.cursor_ijk == (start[0], start[1], start[2] + 1)  # toward superior
    wheel(axial, voxel_point(axial, 5, 5), -2)
    assert state.cursor_ijk[2] == start[2] - 1
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key_PageUp)
    assert state.cursor_ijk[2] == start[2]
    qtbot.keyClick(axial, Qt.Key_Down)
    assert state.cursor_ijk[2] == start[2] - 1
    qtbot.keyClick(axial, Qt.Key_Up, Qt.ShiftModifier)  # x10, clamped at the last slice
    assert state.cursor_ijk[2] == 11


def test_wheel_direction_follows_world_not_voxel_order(qtbot, window, tmp_path):
    data = np.zeros((8, 8, 8), dtype=np.int16)
    path = write_image(tmp_path / "lpi.nii", data, affine_for("LPI"))
    open_and_wait(qtbot, window, path)
    axial = window.ortho_view.views[Plane.AXIAL]
    k0 = window.state.cursor_ijk[2]
    z0 = window.state.cursor_xyz_mm[2]
    wheel(axial, voxel_point(axial, 4, 4), +1)  # forward = toward superior
    assert window.state.cursor_ijk[2] == k0 - 1
    assert window.state.cursor_xyz_mm[2] > z0


def test_ctrl_wheel_zooms_and_reset_restores(qtbot, loaded):
    axial = loaded.ortho_view.views[Plane.AXIAL]
    (x0, x1), _ = axial.viewbox.viewRange()
    cursor = loaded.state.cursor_ijk
    wheel(axial, voxel_point(axial, 10, 8), +3, Qt.ControlModifier)
    (z0, z1), _ = axial.viewbox.viewRange()
    assert (z1 - z0) < 0.7 * (x1 - x0)
    assert loaded.state.cursor_ijk == cursor  # zoom never moves the cursor
    loaded.reset_action.trigger()
    (r0, r1), _ = axial.viewbox.viewRange()
    assert (r1 - r0) == pytest.approx(x1 - x0, rel=0.05)


def test_middle_drag_pans_without_moving_cursor(qtbot, loaded):
    axial = loaded.ortho_view.views[Plane.AXIAL]
    cursor = loaded.state.cursor_ijk
    (x0, _x1), _ = axial.viewbox.viewRange()
    # drag 4 mm to the right (display millimetres, whatever the convention)
    drag(axial, viewport_point(axial, 8.0, 8.0), viewport_point(axial, 12.0, 8.0), Qt.MiddleButton)
    (p0, _p1), _ = axial.viewbox.viewRange()
    assert p0 == pytest.approx(x0 - 4.0, abs=0.6)  # the content follows the mouse
    assert loaded.state.cursor_ijk == cursor


def test_right_drag_changes_window(qtbot, loaded):
    axial = loaded.ortho_view.views[Plane.AXIAL]
    lo, hi = loaded.state.window
    drag(axial, viewport_point(axial, 4.0, 8.0), viewport_point(axial, 16.0, 8.0), Qt.RightButton)
    new_lo, new_hi = loaded.state.window
    assert new_hi - new_lo > hi - lo  # dragging right widens the window
    assert loaded.ortho_view.colour_bar.histogram.item.getLevels() == pytest.approx(
        (new_lo, new_hi)
    )


def test_pixels_have_the_voxel_aspect_ratio(qtbot, loaded):
    coronal = loaded.ortho_view.views[Plane.CORONAL]  # x (1 mm) by z (3 mm)
    rect = coronal.overview_item.mapRectToScene(coronal.overview_item.boundingRect())
    n_rows, n_cols = coronal.overview_item.image.shape
    assert (rect.height() / n_rows) / (rect.width() / n_cols) == pytest.approx(3.0, rel=0.02)


def test_time_index_reaches_the_views_and_readout(qtbot, window, tmp_path):
    rng = np.random.default_rng(3)
    data = rng.random((6, 7, 8, 5)).astype(np.float32)
    path = write_image(tmp_path / "4d.nii", data, affine_for("RAS"))
    open_and_wait(qtbot, window, path)
    axial = window.ortho_view.views[Plane.AXIAL]
    i, j, k = window.state.cursor_ijk
    np.testing.assert_allclose(axial.overview_item.image, data[::-1, :, k, 0].T)
    window.state.set_time(3)
    np.testing.assert_allclose(axial.overview_item.image, data[::-1, :, k, 3].T)
    assert "vol 4/5" in window.readout.text()
    assert f"value {data[i, j, k, 3]:.6g}" in window.readout.text()
    window.state.set_time(99)  # clamped to the last volume
    assert window.state.t == 4
