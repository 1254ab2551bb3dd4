"""Help menu: the shortcuts reference is built from the real actions; About names
versions, licences and the demo data's notice."""

from __future__ import annotations

from pathlib import Path

import volview
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.help_dialogs import VIEW_GESTURES, library_versions, shortcut_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def test_shortcuts_dialog_lists_action_keys_and_mouse_gestures(qtbot, window):
    dialog = window.help.show_shortcuts()
    texts = dialog.texts()
    assert "Ctrl+O" in texts
    assert "L" in texts  # Next layout, a single-key action
    assert "F or Shift+X" in texts
    assert "Right drag" in texts
    row = texts.index("Ctrl+O")
    assert texts[row + 1 : row + 3] == ["Open", "File"]


def test_shortcuts_follow_the_actions(qtbot, window):
    action = QtWidgets.QAction("Frobnicate", window)
    action.setShortcut("Ctrl+Alt+F")
    assert ("Ctrl+Alt+F", "Frobnicate", "") in shortcut_rows(window)
    window.view_actions.cycle_action.setShortcut("Ctrl+Alt+L")
    keys = [row[0] for row in shortcut_rows(window)]
    assert "Ctrl+Alt+L" in keys and "L" not in keys


def test_no_two_actions_share_a_shortcut(window):
    keys = [k for row in shortcut_rows(window) for k in row[0].split(" or ")]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_gestures_are_the_ones_the_readme_documents():
    readme = README.read_text("utf-8").lower()
    assert "dropping with ctrl or shift" in readme  # the drop row, in README's prose
    for gesture, _ in VIEW_GESTURES:
        first = gesture.split(",")[0].split(" / ")[0].lower()
        assert first in readme, gesture


def test_f1_opens_the_shortcuts(qtbot, window):
    window.help.shortcuts_action.trigger()
    assert window.help.dialog.windowTitle() == "Keyboard and mouse shortcuts"
    assert window.help.shortcuts_action.shortcut().toString() == "F1"


def test_about_shows_versions_licences_and_the_demo_notice(qtbot, window):
    dialog = window.help.show_about()
    text = dialog.browser.toPlainText()
    assert f"volview {volview.__version__}" in text
    assert "Licence: MIT" in text
    for name in ("numpy", "nibabel", "pyqtgraph", "rapidgzip", "psygnal", "PyQt5"):
        assert name in text
    assert QtCore.QT_VERSION_STR in text
    assert QtCore.PYQT_VERSION_STR in text
    assert "Louis Collins" in text  # the demo template's copyright notice
    rows = {name: (version, licence) for name, version, licence in library_versions()}
    assert rows["nibabel"][1] == "MIT"
    assert rows["PyQt5"][1].startswith("GPL")
    assert all(licence for _, licence in rows.values())


def test_help_menu_holds_both_actions(window):
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    help_actions = menus["&Help"].actions()
    assert window.help.shortcuts_action in help_actions
    assert window.help.about_action in help_actions
