"""File > Open raw…: typing a geometry updates the size check and preview; OK opens it."""

from __future__ import annotations

import numpy as np
import pytest

from volview.io.raw import RawSpec
from volview.qt.compat import QtCore
from volview.qt.raw_dialog import RawDialog

SHAPE = (20, 16, 12)


@pytest.fixture
def raw_file(tmp_path):
    """A little-endian int16 C-order volume after a 32-byte header, and its array."""
    data = (np.arange(np.prod(SHAPE)) % 3000).reshape(SHAPE).astype(np.int16)
    path = tmp_path / "scan.raw"
    path.write_bytes(bytes(32) + data.tobytes(order="C"))
    return path, data


def type_number(qtbot, box, value) -> None:
    box.selectAll()
    qtbot.keyClicks(box, str(value))


def type_geometry(qtbot, dialog: RawDialog, shape, dtype="int16", offset=32, order="C") -> None:
    for box, n in zip(dialog.shape_boxes, shape, strict=False):  # NT stays 1
        type_number(qtbot, box, n)
    dialog.dtype_box.setCurrentIndex(dialog.dtype_box.findData(dtype))
    dialog.order_box.setCurrentIndex(dialog.order_box.findData(order))
    type_number(qtbot, dialog.offset_box, offset)


@pytest.fixture
def dialog(qtbot, raw_file):
    dialog = RawDialog(path=str(raw_file[0]))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_typing_a_matching_geometry_updates_check_and_preview(qtbot, dialog, raw_file):
    _, data = raw_file
    assert not dialog.ok_button.isEnabled()
    type_geometry(qtbot, dialog, SHAPE)
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=2000)
    assert "file has 7,712 bytes, this geometry needs 7,712" in dialog.check_label.text()
    np.testing.assert_array_equal(dialog.preview_plane, data[:, :, 6].astype(np.float32))
    assert not dialog.preview.pixmap().isNull()


def test_a_mismatch_keeps_ok_disabled_and_says_both_sizes(qtbot, dialog):
    type_geometry(qtbot, dialog, SHAPE)
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=2000)
    type_number(qtbot, dialog.offset_box, 0)
    assert not dialog.ok_button.isEnabled()  # at once, before the debounced check
    qtbot.waitUntil(lambda: "needs 7,680" in dialog.check_label.text(), timeout=2000)
    assert "file has 7,712 bytes" in dialog.check_label.text()
    assert "a header offset of 32 bytes would match" in dialog.check_label.text()
    assert not dialog.ok_button.isEnabled()
    assert dialog.preview_plane is None


def test_a_large_plane_is_previewed_with_a_stride(qtbot, tmp_path):
    data = np.random.default_rng(0).random((600, 300, 3)).astype(np.float32)
    path = tmp_path / "wide.raw"
    path.write_bytes(data.tobytes(order="F"))
    dialog = RawDialog(path=str(path))
    qtbot.addWidget(dialog)
    dialog.set_spec(RawSpec(data.shape, "float32"))
    dialog.refresh()
    np.testing.assert_array_equal(dialog.preview_plane, data[::3, ::2, 1])


def test_ok_opens_the_image_in_the_window(qtbot, window, state, session, raw_file):
    path, data = raw_file
    controller = window.raw
    assert controller.action.text() == "Open &raw\u2026"
    controller.action.trigger()
    dialog = controller.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.path_edit, str(path))
    type_geometry(qtbot, dialog, SHAPE)
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=2000)
    with qtbot.waitSignal(session.opened, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, QtCore.Qt.LeftButton)
    volume = state.volume
    assert volume.image.format_name == "raw"
    assert volume.image.path == path
    assert volume.image.proxy.access.startswith("memory-mapped")
    np.testing.assert_array_equal(volume.image.proxy.plane(0, 7), data[7].astype(np.float32))
    assert controller.last_spec == RawSpec(SHAPE, "int16", offset=32, order="C")


def test_an_open_error_is_shown_in_the_window(qtbot, window, state, session, raw_file):
    path, _ = raw_file
    controller = window.raw
    path.unlink()
    controller.open_raw(path, RawSpec(SHAPE, "int16", offset=32, order="C"))
    assert state.volume is None
    assert "scan.raw: file not found" in window.error_dialog.text()
