"""The header editor as a user drives it: the dock, edits, live preview, prompts, saves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import nibabel.testing
import numpy as np
import pytest

from tests.qt.conftest import affine_for, open_and_wait, write_image
from volview.core.geometry import Plane
from volview.errors import VolviewError
from volview.io.header_file import read_header
from volview.io.header_save import find_backup, save_in_place
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.header_model import FIELD, KEY_ROLE, VALUE

Box = QtWidgets.QMessageBox


class Answer:
    """Stands in for the question dialog: records the question, gives a fixed answer."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, _parent, _title, text, _buttons, _default):
        self.questions.append(text)
        return self.answer


def data_hash(path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def image(tmp_path):
    """40x30x20 int16 ramp, qform code 1 only, scaled by 1 (sform code 0)."""
    data = np.arange(40 * 30 * 20, dtype=np.int16).reshape(40, 30, 20, order="F") % 1000
    img = nib.Nifti1Image(data, affine_for("RAS", (1.0, 1.0, 1.0)))
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(None, code=0)
    path = tmp_path / "brain.nii"
    img.to_filename(path)
    return path


@pytest.fixture
def editor(qtbot, window, image):
    open_and_wait(qtbot, window, image)
    window.header.toggle_action.trigger()
    assert window.header.dock.isVisible()
    window.header.ask = Answer(Box.Discard)  # closing at teardown must not block on a question
    return window.header


def set_field(editor, key: str, text) -> bool:
    model = editor.panel.model
    return model.setData(model.index(model.row_of(key), VALUE), text, QtCore.Qt.EditRole)


def visible_keys(panel) -> list[str]:
    proxy = panel.proxy
    return [proxy.data(proxy.index(r, FIELD), KEY_ROLE) for r in range(proxy.rowCount())]


def test_panel_lists_every_field_and_filters(editor):
    keys = visible_keys(editor.panel)
    for key in ("sizeof_hdr", "dim[0]", "pixdim[3]", "scl_slope", "srow_z[3]", "magic"):
        assert key in keys
    editor.panel.filter_edit.setText("PIXDIM")
    assert visible_keys(editor.panel) == [f"pixdim[{i}]" for i in range(8)]
    model = editor.panel.model
    vox = model.index(model.row_of("vox_offset"), VALUE)
    assert not model.flags(vox) & QtCore.Qt.ItemIsEditable
    assert "Read-only" in model.data(vox, QtCore.Qt.ToolTipRole)
    assert "NIfTI-1" in editor.panel.file_label.text()


def test_edit_undo_redo_and_modified_marker(editor, window):
    assert set_field(editor, "descrip", "fixed by hand")
    doc = editor.document
    assert doc.modified and window.isWindowModified()
    assert doc.current.value("descrip") == "fixed by hand"
    editor.undo_action.trigger()
    assert not doc.modified and not window.isWindowModified()
    editor.redo_action.trigger()
    assert doc.current.value("descrip") == "fixed by hand"
    editor.revert_action.trigger()
    assert not doc.modified


@pytest.mark.parametrize(
    ("key", "text"),
    [("pixdim[1]", "abc"), ("pixdim[1]", "-2"), ("scl_slope", "nan"), ("descrip", "x" * 81)],
)
def test_invalid_edit_is_refused_with_a_message(editor, key, text):
    before = editor.document.current
    assert not set_field(editor, key, text)
    assert editor.document.current is before
    assert not editor.document.modified
    message = editor.panel.message.text()
    assert message.startswith("Not applied") and key in message


def test_pixdim_edit_previews_aspect_and_world_coordinates(editor, state, window):
    axial = window.ortho_view.views[Plane.AXIAL]
    assert axial.plane_layout.col_spacing_mm == pytest.approx(1.0)
    x_before = state.cursor_xyz_mm[0]
    assert set_field(editor, "pixdim[1]", "2.5")
    assert state.volume.geometry.layout(Plane.AXIAL).col_spacing_mm == pytest.approx(2.5)
    assert axial.plane_layout.col_spacing_mm == pytest.approx(2.5)
    assert state.cursor_xyz_mm[0] == pytest.approx(x_before * 2.5)
    assert f"{state.cursor_xyz_mm[0]:.2f}" in window.readout.text()
    editor.undo_action.trigger()
    assert axial.plane_layout.col_spacing_mm == pytest.approx(1.0)


def test_scaling_edit_previews_values(editor, state, qtbot, window):
    value = state.cursor_value()
    assert set_field(editor, "scl_slope", "2")
    assert set_field(editor, "scl_inter", "-5")
    assert state.cursor_value() == pytest.approx(2 * value - 5)
    assert f"{2 * value - 5:.6g}" in window.readout.text()


def test_sform_edit_previews_orientation_labels(editor, state, window):
    axial = window.ortho_view.views[Plane.AXIAL]
    assert [label.text() for label in axial.labels] == ["R", "L", "P", "A"]
    flips = (axial.plane_layout.col_flip, axial.plane_layout.row_flip)
    editor.document.set_affine("sform", affine_for("LPS", (1.0, 1.0, 1.0)))
    assert set_field(editor, "sform_code", 2)
    assert state.volume.geometry.orientation_code() == "LPS"
    # labels stay anatomical; the voxels now run the other way on screen
    assert [label.text() for label in axial.labels] == ["R", "L", "P", "A"]
    assert (axial.plane_layout.col_flip, axial.plane_layout.row_flip) == (
        not flips[0],
        not flips[1],
    )


def test_save_in_place_writes_only_the_header(editor, image, window):
    size, digest = image.stat().st_size, data_hash(image, 352)
    assert set_field(editor, "descrip", "saved")
    assert set_field(editor, "pixdim[2]", "1.5")
    editor.save_action.trigger()
    assert not editor.document.modified and not window.isWindowModified()
    header = nib.load(image).header
    assert header["descrip"].item() == b"saved"
    assert header["pixdim"][2] == pytest.approx(1.5)
    assert image.stat().st_size == size
    assert data_hash(image, 352) == digest
    assert find_backup(image) is None


def test_save_of_gzip_runs_in_background(qtbot, window, tmp_path):
    path = Path(write_image(tmp_path / "z.nii.gz", np.ones((8, 8, 8), np.float32)))
    open_and_wait(qtbot, window, path)
    editor = window.header
    assert set_field(editor, "cal_max", "7")
    editor.save_action.trigger()
    qtbot.waitUntil(lambda: not editor.document.modified, timeout=10000)
    assert float(nib.load(path).header["cal_max"]) == 7
    assert np.array_equal(nib.load(path).get_fdata(), np.ones((8, 8, 8)))
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "volview.ini")  # settings
    assert left == ["z.nii.gz"]  # no temporary file left


def test_save_as_opens_the_new_file_at_the_same_cursor(editor, state, qtbot, tmp_path):
    state.set_cursor((3, 4, 5))
    assert set_field(editor, "descrip", "copy")
    target = tmp_path / "copy.nii.gz"
    editor.save_to(target)
    qtbot.waitUntil(lambda: state.volume.image.path == target, timeout=10000)
    assert state.cursor_ijk == (3, 4, 5)
    assert editor.document.file.path == target and not editor.document.modified
    assert nib.load(target).header["descrip"].item() == b"copy"


def test_opening_another_file_asks_about_unsaved_edits(editor, window, state, ramp_image, image):
    assert set_field(editor, "descrip", "pending")
    editor.ask = Answer(Box.Cancel)
    assert window.open_paths([ramp_image]) == []
    assert state.volume.image.path == image and editor.document.modified
    editor.ask = Answer(Box.Discard)
    assert window.open_paths([ramp_image]) == []
    assert state.volume.image.path == Path(ramp_image)
    assert nib.load(image).header["descrip"].item() == b""


def test_save_from_the_prompt_saves_then_opens(editor, window, state, ramp_image, image):
    assert set_field(editor, "descrip", "kept")
    editor.ask = Answer(Box.Save)
    window.open_paths([ramp_image])
    assert nib.load(image).header["descrip"].item() == b"kept"
    assert state.volume.image.path == Path(ramp_image)


def test_close_with_unsaved_edits_can_be_cancelled(editor, window):
    assert set_field(editor, "descrip", "pending")
    editor.ask = Answer(Box.Cancel)
    window.close()
    assert window.isVisible()
    assert "unsaved edits" in editor.ask.questions[0]
    editor.ask = Answer(Box.Discard)
    window.close()
    assert not window.isVisible()


class CrashError(Exception):
    pass


def test_leftover_backup_is_offered_for_restore(qtbot, window, image):
    before = image.read_bytes()[:348]
    hf = read_header(image)
    new = hf.raw.with_value("descrip", "half-saved")
    steps: list[str] = []

    def crash_at_patch(step: str) -> None:
        steps.append(step)
        if len(steps) == 2:
            raise CrashError(step)

    with pytest.raises(CrashError):
        save_in_place(hf, new, checkpoint=crash_at_patch)
    assert find_backup(image) is not None
    window.header.ask = answer = Answer(Box.Yes)
    open_and_wait(qtbot, window, image)
    assert "interrupted" in answer.questions[0]
    assert image.read_bytes()[:348] == before
    assert find_backup(image) is None


def test_affine_dialog_sets_the_sform(editor, state):
    dialog = editor.edit_affine("sform")
    target = affine_for("LAS", (2.0, 2.0, 2.0))
    target[:3, 3] = (10, -20, 30)
    for r in range(3):
        for c in range(4):
            dialog.cells[r][c].setText(str(target[r, c]))
    dialog.apply()
    np.testing.assert_allclose(editor.document.current.derived().sform, target)
    dialog = editor.edit_affine("sform")
    dialog.cells[0][0].setText("zero")
    dialog.apply()
    assert "not a number" in dialog.message.text() and dialog.isVisible()
    dialog.close()


def test_mgh_file_has_no_editor(qtbot, window, tmp_path):
    path = tmp_path / "brain.mgz"
    nib.save(nib.MGHImage(np.ones((6, 6, 6), np.float32), np.eye(4)), path)
    open_and_wait(qtbot, window, path)
    assert window.header.document is None
    assert "No header editor" in window.header.panel.file_label.text()
    assert not window.header.save_action.isEnabled()


REAL_HEADERS = sorted(
    p.name
    for p in Path(nib.testing.data_path).iterdir()
    if p.name.endswith((".nii", ".nii.gz", ".hdr")) and "dconn" not in p.name
)


@pytest.mark.parametrize("name", REAL_HEADERS)
def test_real_headers_display_in_the_table(qtbot, name):
    from volview.core.header_edit import HeaderDocument
    from volview.qt.header_panel import HeaderPanel

    try:
        header_file = read_header(Path(nib.testing.data_path) / name)
    except VolviewError:
        pytest.skip(f"{name} has no editable header")
    panel = HeaderPanel()
    qtbot.addWidget(panel)
    panel.set_document(HeaderDocument(header_file))
    model = panel.model
    assert model.rowCount() == len(header_file.raw.items())
    for row in range(model.rowCount()):
        for column in range(3):
            assert isinstance(model.data(model.index(row, column)), str)
        assert model.data(model.index(row, 1), QtCore.Qt.ToolTipRole)
    assert panel.warnings.count() >= 1
    assert "sform" in panel.derived.text()


def test_editors_fit_the_field_type(editor):
    table = editor.panel.table
    delegate = table.itemDelegate()
    editor.panel.filter_edit.clear()

    def make(key):
        source = editor.panel.model.index(editor.panel.model.row_of(key), VALUE)
        index = editor.panel.proxy.mapFromSource(source)
        widget = delegate.createEditor(table.viewport(), QtWidgets.QStyleOptionViewItem(), index)
        delegate.setEditorData(widget, index)
        return widget, index

    combo, index = make("sform_code")
    assert isinstance(combo, QtWidgets.QComboBox) and combo.currentData() == 0
    assert combo.findData(4) >= 0 and "mni" in combo.itemText(combo.findData(4)).lower()
    combo.setCurrentIndex(combo.findData(4))
    delegate.setModelData(combo, editor.panel.proxy, index)
    assert editor.document.current.value("sform_code") == 4
    text, _ = make("descrip")
    assert isinstance(text, QtWidgets.QLineEdit) and text.maxLength() == 80
    spin, _ = make("slice_start")
    assert isinstance(spin, QtWidgets.QSpinBox) and spin.maximum() == 32767
    number, index = make("scl_slope")
    assert isinstance(number, QtWidgets.QLineEdit) and number.maxLength() > 80
    number.setText("0.5")
    delegate.setModelData(number, editor.panel.proxy, index)
    assert editor.document.current.value("scl_slope") == 0.5
