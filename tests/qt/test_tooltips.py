"""Every control a user can reach says what it does in a tooltip (not just its label).

The window under test has a 4-D image, an image layer over it and a tractogram open,
with every panel shown, so that all the controls those bring exist.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from tests.qt.test_time_dock import write_4d
from volview.qt.compat import QtWidgets

DEMO_TRX = str(resources.files("volview.resources.demo") / "demo_tracts.trx")
CONTROLS = (
    QtWidgets.QAbstractButton,
    QtWidgets.QComboBox,
    QtWidgets.QAbstractSpinBox,
    QtWidgets.QSlider,
    QtWidgets.QLineEdit,
)
#: Qt's own parts of composite widgets (spin box editors, dock title buttons, a line
#: edit's clear button, a table's corner, tab scrollers, tool bar overflow arrows)
COMPOSITES = (
    QtWidgets.QAbstractSpinBox,
    QtWidgets.QLineEdit,
    QtWidgets.QAbstractItemView,
    QtWidgets.QTabBar,
    QtWidgets.QDockWidget,
)


def plain(text: str) -> str:
    return text.replace("&", "").rstrip("\u2026.: ").strip().lower()


def is_qt_part(widget: QtWidgets.QWidget) -> bool:
    return widget.objectName().startswith("qt_") or isinstance(widget.parent(), COMPOSITES)


def label_of(obj) -> str:
    text = obj.text() if hasattr(obj, "text") else ""
    if isinstance(obj, QtWidgets.QComboBox):
        text = obj.currentText()
    return text if isinstance(text, str) else ""


def missing_tips(root: QtWidgets.QWidget) -> list[str]:
    """Controls under ``root`` whose tooltip is empty or only repeats their label."""
    bad = []
    for kind in CONTROLS:
        for widget in root.findChildren(kind):
            if is_qt_part(widget):
                continue
            if isinstance(widget, QtWidgets.QToolButton) and widget.defaultAction():
                continue  # a tool bar's button for an action: checked with the actions
            tip, text = widget.toolTip(), label_of(widget)
            if not tip.strip() or plain(tip) == plain(text):
                bad.append(f"{type(widget).__name__} {text!r} in {type(widget.parent()).__name__}")
    return bad


def menu_and_toolbar_actions(window: QtWidgets.QMainWindow) -> list[QtWidgets.QAction]:
    actions, menus = [], [a.menu() for a in window.menuBar().actions()]
    while menus:
        menu = menus.pop()
        menu.aboutToShow.emit()  # menus filled on demand (Open Recent)
        for action in menu.actions():
            if action.menu() is not None:
                menus.append(action.menu())
            elif not action.isSeparator():
                actions.append(action)
    for bar in window.findChildren(QtWidgets.QToolBar):
        # a QWidgetAction's widget is checked with the controls
        actions += [
            a
            for a in bar.actions()
            if not a.isSeparator() and not isinstance(a, QtWidgets.QWidgetAction)
        ]
    return actions


@pytest.fixture
def busy_window(qtbot, window, tmp_path):
    overlay = write_image(tmp_path / "over.nii", np.ones((7, 6, 5), np.float32))
    open_and_wait(qtbot, window, write_4d(tmp_path / "bold.nii"))
    window.recent.add(overlay)
    assert window.open_paths([overlay], as_overlays=True) == []
    window.open_paths([DEMO_TRX])
    qtbot.waitUntil(lambda: len(window.state.tracts) == 1 and not window.tracts.is_busy())
    for dock in window.findChildren(QtWidgets.QDockWidget):
        dock.show()
    return window


def test_every_control_has_a_tooltip(busy_window):
    assert missing_tips(busy_window) == []


def test_every_menu_and_toolbar_action_has_a_tooltip(busy_window):
    actions = menu_and_toolbar_actions(busy_window)
    assert len(actions) > 30
    bad = [a.text() for a in actions if plain(a.toolTip()) in ("", plain(a.text()))]
    assert bad == [], "\n".join(bad)


def test_dialogs_have_tooltips(qtbot, busy_window):
    dialogs = [
        busy_window.preferences.show_dialog(),
        busy_window.help.show_shortcuts(),
        busy_window.help.show_about(),
    ]
    for dialog in dialogs:
        assert missing_tips(dialog) == [], dialog.windowTitle()


def test_the_empty_window_has_tooltips(window, tmp_path):
    window.recent.add(write_image(tmp_path / "x.nii", np.ones((3, 3, 3), np.uint8)))
    assert missing_tips(window) == []
