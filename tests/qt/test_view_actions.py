"""Display conventions: layouts, maximise, crosshair, linked zoom, centring, Go to, the
remembered convention."""

from __future__ import annotations

import pytest
from pytestqt.qt_compat import qt_api

from tests.qt.conftest import open_and_wait
from volview.core.geometry import Plane
from volview.qt.compat import QtCore, QtGui

Qt = QtCore.Qt


@pytest.fixture
def opened(qtbot, window, ramp_image):
    open_and_wait(qtbot, window, ramp_image)
    return window


def visible_views(window) -> set[Plane]:
    return {plane for plane, view in window.ortho_view.views.items() if view.isVisible()}


def view_width(view) -> float:
    (x0, x1), _ = view.viewbox.viewRange()
    return x1 - x0


def test_grid_layout_maximise_and_cycle(qtbot, opened):
    actions, ortho = opened.view_actions, opened.ortho_view
    assert not ortho.info_pane.isVisible()
    actions.grid_action.trigger()
    assert ortho.info_pane.isVisible() and visible_views(opened) == set(Plane)
    assert "ramp.nii" in ortho.info_pane.text() and "voxel [10, 8, 6]" in ortho.info_pane.text()
    assert ortho.grid.getItemPosition(ortho.grid.indexOf(ortho.views[Plane.CORONAL]))[:2] == (0, 0)
    sagittal = ortho.views[Plane.SAGITTAL]
    qtbot.mouseDClick(sagittal.viewport(), Qt.LeftButton, pos=sagittal.viewport().rect().center())
    assert visible_views(opened) == {Plane.SAGITTAL} and not ortho.info_pane.isVisible()
    qtbot.mouseDClick(sagittal.viewport(), Qt.LeftButton, pos=sagittal.viewport().rect().center())
    assert visible_views(opened) == set(Plane) and ortho.info_pane.isVisible()
    actions.cycle_action.trigger()
    assert ortho.arrangement == "row" and not ortho.info_pane.isVisible()
    assert actions.row_action.isChecked()


def test_crosshair_toggle_and_colour(opened):
    actions = opened.view_actions
    axial = opened.ortho_view.views[Plane.AXIAL]
    assert axial.h_line.isVisible()
    actions.crosshair_action.trigger()
    assert not axial.h_line.isVisible() and not axial.v_line.isVisible()
    actions.crosshair_action.trigger()
    actions.set_crosshair_colour(QtGui.QColor(0, 255, 0))
    assert axial.h_line.isVisible() and axial.v_line.pen.color().getRgb()[:3] == (0, 255, 0)


def wheel(view, delta: int, modifiers) -> None:
    pos = QtCore.QPointF(view.viewport().rect().center())
    event = QtGui.QWheelEvent(
        pos, view.mapToGlobal(pos.toPoint()), QtCore.QPoint(), QtCore.QPoint(0, delta),
        Qt.NoButton, modifiers, Qt.NoScrollPhase, False,
    )  # fmt: skip
    qt_api.QtWidgets.QApplication.sendEvent(view.viewport(), event)


def test_linked_zoom_and_centre_on_cursor(opened):
    views = opened.ortho_view.views
    widths = {plane: view_width(view) for plane, view in views.items()}
    wheel(views[Plane.AXIAL], 240, Qt.ControlModifier)  # two notches in
    for plane, view in views.items():
        assert view_width(view) == pytest.approx(widths[plane] / 1.15**2, rel=1e-3)
    opened.view_actions.link_action.trigger()  # unlink
    wheel(views[Plane.AXIAL], 120, Qt.ControlModifier)
    assert view_width(views[Plane.CORONAL]) == pytest.approx(
        widths[Plane.CORONAL] / 1.15**2, rel=1e-3
    )
    coronal = views[Plane.CORONAL]
    coronal.viewbox.translateBy(x=7.0, y=-3.0)
    opened.view_actions.centre_action.trigger()
    (x0, x1), (y0, y1) = coronal.viewbox.viewRange()
    centre = coronal.cursor_mm()
    assert (x0 + x1) / 2 == pytest.approx(centre.x()) and (y0 + y1) / 2 == pytest.approx(centre.y())
    before = view_width(coronal)
    opened.view_actions.zoom_in_action.trigger()
    assert view_width(coronal) == pytest.approx(before / 1.25, rel=1e-3)


def test_go_to_voxel_and_mm(opened):
    bar = opened.view_actions.goto_bar
    bar.entry.setText("3 4 5")
    bar.entry.returnPressed.emit()
    assert opened.state.cursor_ijk == (3, 4, 5) and bar.message.text() == ""
    bar.space.setCurrentText("mm")  # ramp_image: RAS with voxels 1 x 2 x 3 mm
    bar.entry.setText("7, 8, 9 mm")
    assert bar.go() and opened.state.cursor_ijk == (7, 4, 3)
    bar.entry.setText("700 0 0")
    assert not bar.go()
    assert "outside the image" in bar.message.text() and opened.state.cursor_ijk == (7, 4, 3)
    opened.view_actions.goto_action.trigger()
    assert bar.entry.hasFocus() or not opened.isActiveWindow()


def test_convention_is_remembered_between_runs(qtbot, opened, state, session, settings):
    from volview.qt.main_window import MainWindow

    opened.radiological_action.setChecked(False)
    assert not state.radiological
    state2 = type(state)()
    again = MainWindow(state2, type(session)(state2), settings=settings)
    qtbot.addWidget(again)
    assert not state2.radiological and not again.radiological_action.isChecked()


def test_letter_shortcuts_act_in_the_views_not_in_text_fields(qtbot, opened):
    axial = opened.ortho_view.views[Plane.AXIAL]
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key_L)
    assert opened.ortho_view.arrangement == "grid"
    entry = opened.view_actions.goto_bar.entry
    entry.setFocus()
    qtbot.keyClick(entry, Qt.Key_L)
    assert opened.ortho_view.arrangement == "grid" and entry.text() == "l"
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key_F)
    assert not axial.h_line.isVisible()
