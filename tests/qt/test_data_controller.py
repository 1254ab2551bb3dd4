"""DataController through the GUI: load into memory and release in the background, scans
with their result dialogs, refusal when the image does not fit, and Cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt


@pytest.fixture
def data():
    values = np.zeros((20, 16, 12), np.float32)
    values[4:9, 3:11, 2:7] = np.random.default_rng(5).normal(50, 10, (5, 8, 5))
    values[15, 14, 10] = -3.5
    return values


@pytest.fixture
def loaded(qtbot, window, tmp_path, data):
    path = write_image(tmp_path / "blob.nii", data)
    open_and_wait(qtbot, window, path)
    return window


def view_pixels(window) -> dict:
    return {
        plane: np.array(view.overview_item.image) for plane, view in window.ortho_view.views.items()
    }


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.data.task is None, timeout=10000)


def test_load_into_memory_then_release(qtbot, loaded, data):
    state, data, values = loaded.state, loaded.data, data
    state.set_cursor((5, 6, 3))
    state.set_window(1.0, 40.0)
    before = view_pixels(loaded)
    assert "memory-mapped" in loaded.access_label.text()
    assert data.load_action.isEnabled() and not data.release_action.isEnabled()
    data.load_action.trigger()
    wait_idle(qtbot, loaded)
    assert state.volume.image.proxy.access == "in RAM"
    assert "in RAM" in loaded.access_label.text()
    assert "blob.nii is in RAM" in loaded.statusBar().currentMessage()
    assert state.cursor_ijk == (5, 6, 3) and state.window == (1.0, 40.0)
    assert not data.load_action.isEnabled() and data.release_action.isEnabled()
    assert state.volume.value((6, 7, 4)) == pytest.approx(float(values[6, 7, 4]))
    for plane, pixels in view_pixels(loaded).items():
        np.testing.assert_array_equal(pixels, before[plane])
    for view in loaded.ortho_view.views.values():  # re-read from the copy, same pixels
        view._shown = None
        view.refresh()
    for plane, pixels in view_pixels(loaded).items():
        np.testing.assert_array_equal(pixels, before[plane])
    data.release_action.trigger()
    assert state.volume.image.proxy.access == "memory-mapped"
    assert "memory-mapped" in loaded.access_label.text()
    assert state.volume.value((6, 7, 4)) == pytest.approx(float(values[6, 7, 4]))
    assert data.load_action.isEnabled()


def test_refused_when_it_does_not_fit(qtbot, loaded, monkeypatch):
    from volview.core import memory_load

    monkeypatch.setattr(memory_load, "available_bytes", lambda: 100 * 2**20)
    loaded.data.load_action.trigger()
    assert loaded.data.task is None  # refused before any read
    text = loaded.error_dialog.text()
    assert "blob.nii" in text and "cannot be loaded into memory" in text
    assert "15.0 KiB" in text and "100.0 MiB" in text
    assert loaded.state.volume.image.proxy.access == "memory-mapped"


def test_data_range_dialog(qtbot, loaded, data):
    loaded.data.range_action.trigger()
    wait_idle(qtbot, loaded)
    text = loaded.data.result_dialog.text()
    assert f"minimum {data.min():.6g}, maximum {data.max():.6g}" in text
    assert loaded.data.range_action.isEnabled()


def test_bounding_box_dialog(qtbot, loaded):
    loaded.data.bbox_action.trigger()
    wait_idle(qtbot, loaded)
    text = loaded.data.result_dialog.text()
    assert "i 4\u201315, j 3\u201314, k 2\u201310" in text


def test_full_histogram_dialog(qtbot, loaded, data):
    loaded.data.histogram_action.trigger()
    wait_idle(qtbot, loaded)
    dialog = loaded.data.result_dialog
    counts, edges = np.histogram(data, bins=256)
    np.testing.assert_array_equal(dialog.counts, counts)
    x, y = dialog.curve.getData()
    np.testing.assert_array_equal(y, counts)
    np.testing.assert_array_equal(x, edges)
    dialog.log_box.setChecked(True)
    assert dialog.plot.getPlotItem().ctrl.logYCheck.isChecked()


def gate_reads(window):
    """Let the first plane read through, then hold every read until ``go`` is set."""
    inner = window.state.volume.image.proxy.inner
    read = inner.plane
    started, go = threading.Event(), threading.Event()

    def gated(*args, **kwargs):
        if started.is_set():
            go.wait(timeout=10)
        started.set()
        return read(*args, **kwargs)

    inner.plane = gated
    return started, go


def click_cancel(qtbot, window) -> None:
    dialog = window.findChild(QtWidgets.QProgressDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    button = dialog.findChild(QtWidgets.QPushButton)
    assert button.text() == "Cancel"
    qtbot.mouseClick(button, Qt.LeftButton)


def test_cancel_a_load_by_clicking_cancel(qtbot, loaded):
    started, go = gate_reads(loaded)
    loaded.data.load_action.trigger()
    qtbot.waitUntil(started.is_set)
    click_cancel(qtbot, loaded)
    go.set()
    wait_idle(qtbot, loaded)
    assert loaded.state.volume.image.proxy.access == "memory-mapped"
    assert "cancelled" in loaded.statusBar().currentMessage()
    assert loaded.data.load_action.isEnabled()


def test_cancel_a_histogram_by_clicking_cancel(qtbot, loaded):
    started, go = gate_reads(loaded)
    loaded.data.histogram_action.trigger()
    qtbot.waitUntil(started.is_set)
    click_cancel(qtbot, loaded)
    go.set()
    wait_idle(qtbot, loaded)
    assert loaded.data.result_dialog is None


def test_header_cal_range_from_data_uses_the_background_scan(qtbot, loaded, data):
    header = loaded.header
    doc = header.document
    assert header.cal_action.isEnabled()
    header.cal_action.trigger()
    assert header.task is not None and not header.cal_action.isEnabled()
    qtbot.waitUntil(lambda: header.task is None, timeout=10000)
    assert doc.current.value("cal_min") == pytest.approx(float(data.min()))
    assert doc.current.value("cal_max") == pytest.approx(float(data.max()))
    assert doc.modified and header.cal_action.isEnabled()
    header.undo()
    header.undo()
    assert not doc.modified
