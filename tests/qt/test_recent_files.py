"""Remembered state: recent files (pruned, capped, newest first), last folder, the
window's geometry and dock layout, and the empty window's recent-file buttons."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from volview.core.state import ViewerState
from volview.qt.compat import QtCore
from volview.qt.recent_files import MAX_RECENT, RecentFiles
from volview.session import Session


def second_window(qtbot, settings):
    from volview.qt.main_window import MainWindow

    state = ViewerState()
    win = MainWindow(state, Session(state), settings=settings)
    qtbot.addWidget(win)
    return win


@pytest.fixture
def files(tmp_path):
    return [
        write_image(tmp_path / f"img{n}.nii", np.full((4, 4, 4), n, dtype=np.uint8))
        for n in range(12)
    ]


def test_recent_files_are_newest_first_and_capped(settings, files):
    recent = RecentFiles(settings)
    for path in files:
        recent.add(path)
    recent.add(files[3])
    assert recent.paths()[0] == files[3]
    assert recent.paths()[1] == files[-1]
    assert len(recent.paths()) == MAX_RECENT
    assert recent.paths().count(files[3]) == 1


def test_missing_files_are_pruned_at_start_and_when_the_menu_shows(qtbot, settings, files):
    recent = RecentFiles(settings)
    for path in files[:3]:
        recent.add(path)
    os.remove(files[0])
    assert RecentFiles(settings).paths() == [files[2], files[1]]  # pruned at start
    win = second_window(qtbot, settings)
    os.remove(files[1])
    win.recent_menu.aboutToShow.emit()
    win.recent_menu.popup(QtCore.QPoint(0, 0))
    qtbot.waitUntil(win.recent_menu.isVisible)
    texts = [a.text() for a in win.recent_menu.actions() if not a.isSeparator()]
    assert texts == ["&1  img2.nii", "&Clear recent"]
    assert win.recent.paths() == [files[2]]
    win.recent_menu.hide()


def test_opening_records_the_file_and_its_folder(qtbot, window, files, tmp_path):
    open_and_wait(qtbot, window, files[0])
    assert window.recent.paths() == [files[0]]
    assert window.recent.last_folder() == str(tmp_path)
    window.recent_menu.rebuild()
    action = window.recent_menu.actions()[0]
    assert action.toolTip() == files[0]


def test_open_recent_menu_opens_the_file_and_clear_empties_it(qtbot, window, files):
    for path in files[:2]:
        window.recent.add(path)
    window.recent_menu.rebuild()
    window.recent_menu.actions()[1].trigger()  # the older one
    assert window.state.volume.name == "img0.nii"
    assert window.recent.paths()[0] == files[0]
    clear = next(a for a in window.recent_menu.actions() if a.text() == "&Clear recent")
    clear.trigger()
    assert window.recent.paths() == []


def test_open_dialog_starts_in_the_last_folder(qtbot, window, files, tmp_path, monkeypatch):
    from volview.qt.compat import QtWidgets

    window.recent.add(files[0])
    seen = []
    monkeypatch.setattr(
        QtWidgets.QFileDialog,
        "getOpenFileNames",
        lambda _parent, _title, folder, _filter: (seen.append(folder), ([], ""))[1],
    )
    window.open_action.trigger()
    assert seen == [str(tmp_path)]


def test_empty_window_lists_recent_files_as_buttons_that_open_them(qtbot, window, files):
    assert window.stack.currentWidget() is window.empty_hint
    assert window.empty_hint.buttons == []
    window.recent.add(files[5])
    window.recent.add(files[6])
    buttons = window.empty_hint.buttons
    assert [b.text() for b in buttons] == ["img6.nii", "img5.nii"]
    assert window.empty_hint.heading.isVisible()
    qtbot.waitUntil(lambda: all(b.isVisible() for b in buttons))
    buttons[1].click()
    assert window.state.volume.name == "img5.nii"
    assert window.stack.currentWidget() is window.ortho_view


def test_a_vanished_recent_file_is_not_opened(qtbot, window, files):
    window.recent.add(files[0])
    os.remove(files[0])
    window.open_recent(files[0])
    assert window.state.volume is None
    assert window.recent.paths() == []
    assert window.error_dialog is None


def test_geometry_and_dock_layout_are_restored(qtbot, window, settings):
    window.resize(1300, 620)
    window.layers.dock.show()
    qtbot.waitUntil(window.layers.dock.isVisible)
    window.close()
    again = second_window(qtbot, settings)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (1300, 620)
    assert again.layers.dock.isVisible()
    assert not again.header.dock.isVisible()


def test_every_dock_and_tool_bar_is_named_for_the_saved_layout(window):
    from volview.qt.compat import QtWidgets

    bars = window.findChildren((QtWidgets.QDockWidget, QtWidgets.QToolBar))
    assert len(bars) >= 4
    names = [bar.objectName() for bar in bars]
    assert all(names) and len(set(names)) == len(names), names
