"""Voxel editing driven like a user: enable, click, brush, undo, save, close, read-only."""

from __future__ import annotations

import dataclasses
import os

import nibabel as nib
import numpy as np
import pytest

from tests.qt.conftest import affine_for, open_and_wait, write_image
from tests.qt.test_slice_view import drag, voxel_point
from volview.core.edited_proxy import EditedProxy, base_proxy
from volview.core.geometry import Plane
from volview.core.volume import Volume
from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt
Box = QtWidgets.QMessageBox


@pytest.fixture
def data():
    i, j, k = np.meshgrid(np.arange(20), np.arange(16), np.arange(12), indexing="ij")
    return (i * 100 + j + k * 0.01).astype(np.float32)


@pytest.fixture
def edited(qtbot, window, data, tmp_path):
    """A window showing a memory-mapped image, with an EditController and editing on."""
    path = write_image(tmp_path / "ramp.nii", data, affine_for("RAS"))
    open_and_wait(qtbot, window, path)
    controller = window.edits
    controller.set_editing(True)
    return window, controller, tmp_path / "ramp.nii"


class Asker:
    """Answers the controller's questions and remembers them."""

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def __call__(self, _parent, title, text, _buttons, _default):
        self.asked.append((title, text))
        return self.answer


def click(qtbot, view, v_col, v_row, modifier=Qt.NoModifier):
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, modifier, voxel_point(view, v_col, v_row))


def test_enable_wraps_the_proxy_and_shows_the_tool_bar(edited):
    window, controller, _ = edited
    assert controller.enable_action.isChecked() and controller.tool_bar.isVisible()
    assert isinstance(window.state.volume.image.proxy, EditedProxy)
    controller.set_editing(False)
    assert not isinstance(window.state.volume.image.proxy, EditedProxy)
    assert not controller.tool_bar.isVisible()


def test_editing_is_off_by_default(qtbot, window, data, tmp_path):
    open_and_wait(qtbot, window, write_image(tmp_path / "a.nii", data, affine_for("RAS")))
    controller = window.edits
    assert not controller.enable_action.isChecked() and not controller.tool_bar.isVisible()
    assert not isinstance(window.state.volume.image.proxy, EditedProxy)
    axial = window.ortho_view.views[Plane.AXIAL]
    assert axial.edit_handler is None


def test_click_sets_the_value_shown_under_the_cursor(qtbot, edited):
    window, controller, _ = edited
    state = window.state
    axial = window.ortho_view.views[Plane.AXIAL]
    cursor = state.cursor_ijk
    controller.value_box.setValue(-42.5)
    click(qtbot, axial, cursor[0], cursor[1])
    assert state.cursor_ijk == cursor  # editing does not move the cursor
    assert state.cursor_value() == -42.5 and state.cursor_value_text() == "-42.5"
    col, row = axial.plane_layout.voxel_to_display(cursor[0], cursor[1])
    assert axial.overview_item.image[row, col] == -42.5  # the view re-read its plane
    assert controller.count_label.text() == "1 unsaved voxel edit"
    click(qtbot, axial, 3, 4, Qt.ShiftModifier)  # Shift+click still moves the cursor
    assert state.cursor_ijk[:2] == (3, 4)
    assert controller.unsaved == 1


def test_brush_drag_is_one_undoable_stroke(qtbot, edited, data):
    window, controller, _ = edited
    state = window.state
    axial = window.ortho_view.views[Plane.AXIAL]
    k = state.cursor_ijk[2]
    controller.tool_box.setCurrentText("Brush")
    controller.radius_box.setValue(1)
    controller.value_box.setValue(7)
    drag(axial, voxel_point(axial, 5, 5), voxel_point(axial, 12, 5))
    painted = controller.edits.edited_values()
    centres = {(5, 5, k, 0), (12, 5, k, 0)}
    assert centres <= set(painted) and (5, 6, k, 0) in painted and (12, 4, k, 0) in painted
    assert all(key[2] == k for key in painted)
    assert controller.count_label.text() == f"{len(painted)} unsaved voxel edits"
    controller.undo_action.trigger()
    assert controller.unsaved == 0
    assert state.volume.value((5, 5, k)) == data[5, 5, k]
    controller.redo_action.trigger()
    assert controller.edits.edited_values() == painted


def test_undo_keys_do_not_clash_with_the_header_editor(edited):
    window, controller, _ = edited
    ours = (controller.undo_action, controller.redo_action, controller.save_action)
    header = window.header
    others = (header.undo_action, header.redo_action, header.save_action, header.save_as_action)
    own = {action.shortcut().toString() for action in ours}
    theirs = {action.shortcut().toString() for action in others}
    assert own == {"Ctrl+Alt+Z", "Ctrl+Alt+Shift+Z", "Ctrl+Alt+S"} and not own & theirs


def test_save_writes_the_edits_into_the_file(qtbot, edited, data):
    window, controller, path = edited
    axial = window.ortho_view.views[Plane.AXIAL]
    k = window.state.cursor_ijk[2]
    controller.value_box.setValue(1234.5)
    click(qtbot, axial, 2, 3)
    assert controller.save_action.isEnabled()
    controller.save_action.trigger()
    assert controller.unsaved == 0 and not controller.save_action.isEnabled()
    expected = data.copy()
    expected[2, 3, k] = 1234.5
    np.testing.assert_array_equal(np.asarray(nib.load(path).dataobj), expected)
    assert window.state.volume.value((2, 3, k)) == 1234.5  # read back from the file
    col, row = axial.plane_layout.voxel_to_display(2, 3)
    assert axial.overview_item.image[row, col] == 1234.5  # not a stale cached plane
    axial.reload()
    assert axial.overview_item.image[row, col] == 1234.5
    assert controller.confirm_close()  # nothing left to ask about


def test_close_asks_and_cancel_keeps_the_edits(qtbot, edited):
    window, controller, path = edited
    before = path.read_bytes()
    controller.ask = Asker(Box.Cancel)
    controller.apply_tool(2, window.state.cursor_ijk)
    assert controller.confirm_close() is False
    title, text = controller.ask.asked[0]
    assert title == "Unsaved voxel edits" and "ramp.nii has 1 unsaved voxel edit." in text
    assert controller.unsaved == 1
    controller.ask = Asker(Box.Discard)
    assert controller.confirm_close() is True
    assert controller.unsaved == 0 and path.read_bytes() == before


def test_close_asks_and_save_saves(qtbot, edited, data):
    _window, controller, path = edited
    controller.ask = Asker(Box.Save)
    controller.value_box.setValue(-1)
    controller.apply_tool(2, (0, 0, 0))
    assert controller.confirm_close() is True
    assert np.asarray(nib.load(path).dataobj)[0, 0, 0] == -1


def test_turning_editing_off_with_unsaved_edits_asks(qtbot, edited):
    _window, controller, _ = edited
    controller.apply_tool(2, (1, 1, 1))
    controller.ask = Asker(Box.Cancel)
    controller.enable_action.trigger()  # try to switch off
    assert controller.editing and controller.enable_action.isChecked()
    controller.ask = Asker(Box.Discard)
    controller.enable_action.trigger()
    assert not controller.editing and not controller.enable_action.isChecked()


def test_editing_a_read_only_file_is_refused_with_the_reason(
    qtbot, window, data, tmp_path, monkeypatch
):
    path = write_image(tmp_path / "locked.nii", data, affine_for("RAS"))
    open_and_wait(qtbot, window, path)
    controller = window.edits
    # tests run as root, who may write anything: make the permission check say no
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )
    controller.ask = Asker(Box.No)
    controller.enable_action.trigger()
    assert not controller.editing and not controller.enable_action.isChecked()
    title, text = controller.ask.asked[0]
    assert title == "Read-only file"
    assert "locked.nii: is read-only" in text and "you can edit and Save As" in text
    assert not isinstance(window.state.volume.image.proxy, EditedProxy)
    controller.ask = Asker(Box.Yes)  # edit anyway: only Save As is offered
    controller.enable_action.trigger()
    controller.apply_tool(2, (0, 0, 0))
    assert controller.editing and not controller.save_action.isEnabled()
    assert controller.save_as_action.isEnabled()


def test_save_as_writes_a_new_file_and_shows_it(qtbot, window, data, tmp_path):
    path = write_image(tmp_path / "src.nii.gz", data, affine_for("RAS"))
    open_and_wait(qtbot, window, path)
    controller = window.edits
    controller.set_editing(True)
    assert not controller.save_action.isEnabled() or controller.unsaved == 0
    controller.value_box.setValue(5)
    controller.apply_tool(2, (4, 4, 4))
    assert not controller.save_action.isEnabled()  # compressed: Save As only
    out = tmp_path / "out.nii.gz"
    with qtbot.waitSignal(window.session.opened, timeout=10000):
        controller.save_to(out)
    expected = data.copy()
    expected[4, 4, 4] = 5
    np.testing.assert_array_equal(nib.load(out).get_fdata(), expected)
    assert window.state.volume.image.path == out and not controller.editing
    assert nib.load(path).get_fdata()[4, 4, 4] == data[4, 4, 4]


def test_files_opened_without_editing_are_mapped_read_only(qtbot, window, data, tmp_path):
    path = write_image(tmp_path / "plain.nii", data, affine_for("RAS"))
    open_and_wait(qtbot, window, path)
    proxy = base_proxy(window.state.volume.image.proxy)
    with pytest.raises(TypeError, match="readonly"):
        proxy._mmap[0] = 0
    fds = [os.path.join("/proc/self/fd", fd) for fd in os.listdir("/proc/self/fd")]
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target == str(path):
            with open(fd.replace("/fd/", "/fdinfo/")) as info:
                flags = int(info.read().split("flags:")[1].split()[0], 8)
            assert flags & os.O_ACCMODE == os.O_RDONLY


def test_edits_stay_shown_when_a_header_preview_replaces_the_volume(qtbot, edited):
    window, controller, _ = edited
    state = window.state
    controller.value_box.setValue(-9)
    controller.apply_tool(2, (1, 2, 3))
    image = state.volume.image
    fresh = dataclasses.replace(image, proxy=image.proxy.inner)  # as a preview rebuilds it
    state.replace_volume(Volume.from_image(fresh))
    assert isinstance(state.volume.image.proxy, EditedProxy)
    assert state.volume.value((1, 2, 3)) == -9


def test_crosshair_tool_moves_the_cursor(qtbot, edited):
    window, controller, _ = edited
    axial = window.ortho_view.views[Plane.AXIAL]
    controller.tool_box.setCurrentText("Crosshair")
    click(qtbot, axial, 6, 7)
    assert window.state.cursor_ijk[:2] == (6, 7) and controller.unsaved == 0
