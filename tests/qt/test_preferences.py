"""Preferences: one registry of keys and defaults, the dialog, live effects and reset."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from volview.core.state import ViewerState
from volview.core.tracts import DEFAULT_CAP
from volview.qt.compat import QtWidgets
from volview.qt.preferences import (
    CACHE_BUDGET_MB,
    COLORMAP,
    PREFERENCES,
    RADIOLOGICAL,
    TRACT_CAP,
    read_cache_budget_mb,
)
from volview.qt.view_actions import RADIOLOGICAL_KEY
from volview.session import Session

DEMO_TRX = str(resources.files("volview.resources.demo") / "demo_tracts.trx")


@pytest.fixture
def image(tmp_path):
    return write_image(tmp_path / "cube.nii", np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8))


def accept(dialog, *, cache=None, colormap=None, radiological=None, cap=None):
    if cache is not None:
        dialog.cache.setValue(cache)
    if colormap is not None:
        dialog.colormap.setCurrentIndex(dialog.colormap.findData(colormap))
    if radiological is not None:
        dialog.radiological.setCurrentIndex(dialog.radiological.findData(radiological))
    if cap is not None:
        dialog.cap.setValue(cap)
    dialog.findChild(QtWidgets.QDialogButtonBox).button(QtWidgets.QDialogButtonBox.Ok).click()


def test_keys_are_unique_and_the_convention_key_is_shared():
    keys = [p.key for p in PREFERENCES]
    assert len(set(keys)) == len(keys)
    assert RADIOLOGICAL.key == RADIOLOGICAL_KEY
    assert (CACHE_BUDGET_MB.key, CACHE_BUDGET_MB.default) == ("cache/budget_mb", 1024)


@pytest.mark.parametrize(
    ("stored", "expected"), [(None, 1024), (2048, 2048), ("4096", 4096), (10, 1024), ("lots", 1024)]
)
def test_cache_budget_reads_valid_values_and_falls_back(settings, stored, expected):
    if stored is not None:
        settings.setValue("cache/budget_mb", stored)
    assert read_cache_budget_mb(settings) == expected


def test_dialog_shows_defaults_and_stores_what_is_accepted(qtbot, window):
    dialog = window.preferences.show_dialog()
    assert dialog.cache.value() == 1024
    assert dialog.colormap.currentData() == "gray"
    assert dialog.radiological.currentData() is True
    assert dialog.cap.value() == DEFAULT_CAP
    accept(dialog, cache=2048, colormap="hot", radiological=False, cap=5000)
    s = window.settings
    assert (read_cache_budget_mb(s), COLORMAP.read(s)) == (2048, "hot")
    assert (RADIOLOGICAL.read(s), TRACT_CAP.read(s)) == (False, 5000)
    assert window.session.cache_budget_bytes == 2048 * 2**20  # for the next image opened


def test_convention_applies_at_once_and_colormap_to_the_next_image(qtbot, window, image):
    open_and_wait(qtbot, window, image)
    accept(window.preferences.show_dialog(), colormap="viridis", radiological=False)
    assert window.state.radiological is False
    assert not window.radiological_action.isChecked()
    assert window.state.colormap == "gray"  # the image already shown keeps its colormap
    open_and_wait(qtbot, window, image)
    assert window.state.colormap == "viridis"


def test_new_tractograms_get_the_preferred_cap(qtbot, window):
    accept(window.preferences.show_dialog(), cap=3000)
    window.open_paths([DEMO_TRX])
    qtbot.waitUntil(lambda: len(window.state.tracts) == 1 and not window.tracts.is_busy())
    layer = window.state.tracts[0]
    assert layer.style.cap == 3000
    assert window.tracts.panel.cap.value() == 3000


def test_reset_asks_then_restores_defaults_live(qtbot, window, monkeypatch):
    answers = [QtWidgets.QMessageBox.No, QtWidgets.QMessageBox.Yes]
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **k: answers.pop(0))
    dialog = window.preferences.show_dialog()
    accept(dialog, cache=4096, colormap="hot", radiological=False, cap=5000)
    dialog = window.preferences.show_dialog()
    dialog.reset_button.click()  # answered No: nothing changes
    assert read_cache_budget_mb(window.settings) == 4096
    dialog.reset_button.click()
    assert all(not window.settings.contains(p.key) or p is RADIOLOGICAL for p in PREFERENCES)
    assert RADIOLOGICAL.read(window.settings) is True
    assert window.state.radiological is True
    assert (dialog.cache.value(), dialog.colormap.currentData()) == (1024, "gray")
    assert dialog.cap.value() == DEFAULT_CAP


def test_preferences_survive_into_a_new_window(qtbot, window, settings, image):
    from volview.qt.main_window import MainWindow

    accept(window.preferences.show_dialog(), cache=512, colormap="hot", radiological=False)
    window.close()
    state = ViewerState()
    again = MainWindow(state, Session(state), settings=settings)
    qtbot.addWidget(again)
    assert state.radiological is False
    assert not again.radiological_action.isChecked()
    assert state.colormap == "hot"
    assert again.session.cache_budget_bytes == 512 * 2**20
    again.open_paths([image])
    assert state.colormap == "hot"


def test_preferences_action_has_the_shortcut(window):
    assert window.preferences.action.shortcut().toString() == "Ctrl+,"
    assert window.preferences.action in window.menuBar().actions()[1].menu().actions()
