"""The main window as a user meets it: dropping files, errors, labels and the status bar."""

from __future__ import annotations

import hashlib
import math
import os
import resource

import nibabel as nib
import numpy as np
import pytest

from tests.qt.conftest import affine_for, open_and_wait, write_image
from volview.core.geometry import Plane
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt


def drop_files(window, paths) -> QtGui.QDropEvent:
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QtCore.QPointF(window.width() / 2, window.height() / 2)
    enter = QtGui.QDragEnterEvent(pos.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(window, drop)
    return drop


def labels_of(window, plane) -> tuple[str, ...]:
    return tuple(label.text() for label in window.ortho_view.views[plane].labels)


def test_empty_window_shows_drop_hint(window):
    assert window.stack.currentWidget() is window.empty_hint
    assert "Drop an image" in window.empty_hint.text()


def test_dropping_a_file_opens_it(qtbot, window, ramp_image):
    drop = drop_files(window, [ramp_image])
    assert drop.isAccepted()
    assert window.state.volume is not None
    assert window.state.volume.name == "ramp.nii"
    assert window.stack.currentWidget() is window.ortho_view
    assert "ramp.nii" in window.windowTitle()


def test_dropping_with_space_and_non_ascii_name(qtbot, window, tmp_path):
    path = write_image(tmp_path / "sujet é 1.nii", np.ones((4, 5, 6), dtype=np.uint8))
    drop_files(window, [path])
    assert window.state.volume.name == "sujet é 1.nii"


def test_opening_a_second_image_replaces_the_first(qtbot, window, ramp_image, tmp_path):
    other = write_image(tmp_path / "other.nii", np.zeros((7, 7, 7), dtype=np.int16))
    open_and_wait(qtbot, window, ramp_image)
    open_and_wait(qtbot, window, other)
    assert window.state.volume.shape == (7, 7, 7)
    assert window.ortho_view.views[Plane.AXIAL].overview_item.image.shape == (7, 7)


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.nii"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.nii"
    noise.write_bytes(np.random.default_rng(1).bytes(4000))
    good = write_image(tmp_path / "trunc.nii", np.ones((30, 30, 30), dtype=np.float32))
    os.truncate(good, 352 + 1000)
    return {
        "missing": (tmp_path / "nope.nii", "file not found"),
        "folder": (tmp_path, "is a folder"),
        "empty": (empty, "empty"),
        "noise": (noise, "not a valid image file"),
        "truncated": (tmp_path / "trunc.nii", "truncated"),
    }


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "noise", "truncated"])
def test_bad_input_shows_a_dialog_and_the_window_stays_usable(
    qtbot, window, ramp_image, tmp_path, case
):
    path, words = _bad_inputs(tmp_path)[case]
    before = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    errors = window.open_paths([path])
    assert len(errors) == 1
    dialog = window.error_dialog
    assert dialog is not None and dialog.isVisible()
    assert path.name in dialog.text() and words in dialog.text()
    if before is not None:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never written
    dialog.close()
    assert window.open_paths([ramp_image]) == []
    assert window.state.volume.name == "ramp.nii"


def test_truncated_gzip_reports_instead_of_crashing(qtbot, window, tmp_path):
    path = tmp_path / "cut.nii.gz"
    rng = np.random.default_rng(0)
    nib.Nifti1Image(rng.random((40, 40, 40)).astype(np.float32), np.eye(4)).to_filename(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    # opening does not wait on the stream: the views report the damage when they read
    assert window.open_paths([path]) == []
    qtbot.waitUntil(lambda: window.error_dialog is not None and window.error_dialog.isVisible())
    assert "cut.nii.gz" in window.error_dialog.text()


@pytest.mark.parametrize(
    ("code", "axial", "coronal", "sagittal"),
    [
        # labels are (left, right, bottom, top); radiological: patient right on screen left
        ("RAS", ("R", "L", "P", "A"), ("R", "L", "I", "S"), ("A", "P", "I", "S")),
        ("LAS", ("R", "L", "P", "A"), ("R", "L", "I", "S"), ("A", "P", "I", "S")),
        ("LPI", ("R", "L", "P", "A"), ("R", "L", "I", "S"), ("A", "P", "I", "S")),
    ],
)
def test_labels_and_flips_follow_the_affine(
    qtbot, window, tmp_path, code, axial, coronal, sagittal
):
    rng = np.random.default_rng(2)
    data = rng.random((6, 7, 8)).astype(np.float32)
    path = write_image(tmp_path / f"{code}.nii", data, affine_for(code))
    open_and_wait(qtbot, window, path)
    assert labels_of(window, Plane.AXIAL) == axial
    assert labels_of(window, Plane.CORONAL) == coronal
    assert labels_of(window, Plane.SAGITTAL) == sagittal
    # the axial pixels equal the RAS-reoriented data with x mirrored (radiological)
    canonical = nib.as_closest_canonical(nib.load(path)).get_fdata()
    k = window.state.cursor_ijk[2]
    k_ras = k if code[2] == "S" else data.shape[2] - 1 - k
    expected = canonical[::-1, :, k_ras].T  # rows = posterior->anterior, cols = R->L
    shown = window.ortho_view.views[Plane.AXIAL].overview_item.image
    np.testing.assert_allclose(shown, expected, rtol=1e-6)


def test_neurological_toggle_mirrors_axial_and_coronal(qtbot, window, ramp_image):
    open_and_wait(qtbot, window, ramp_image)
    radiological = window.ortho_view.views[Plane.AXIAL].overview_item.image.copy()
    window.radiological_action.setChecked(False)
    assert labels_of(window, Plane.AXIAL)[:2] == ("L", "R")
    assert labels_of(window, Plane.SAGITTAL)[:2] == ("P", "A")
    neurological = window.ortho_view.views[Plane.AXIAL].overview_item.image
    np.testing.assert_array_equal(neurological, radiological[:, ::-1])
    assert "NEUROLOGICAL" in window.convention_label.text()


def test_oblique_affine_shows_notice(qtbot, window, tmp_path):
    angle = np.radians(20)
    rot = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rot * 2.0
    window.open_paths([write_image(tmp_path / "obl.nii", np.ones((5, 5, 5), np.int16), affine)])
    assert "oblique" in window.notice.text()
    assert labels_of(window, Plane.AXIAL) == ("R", "L", "P", "A")


def test_unknown_orientation_shows_question_marks(qtbot, window, tmp_path):
    img = nib.Nifti1Image(np.ones((4, 4, 4), np.uint8), None)  # qform_code = sform_code = 0
    path = tmp_path / "noorient.nii"
    img.to_filename(path)
    open_and_wait(qtbot, window, path)
    assert labels_of(window, Plane.AXIAL) == ("?", "?", "?", "?")
    assert "orientation unknown" in window.notice.text()


def test_status_bar_shows_voxel_world_and_scaled_value(qtbot, window, tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-10, 20, 5)
    img = nib.Nifti1Image(data, affine)
    img.header.set_slope_inter(0.5, 100.0)
    path = tmp_path / "scaled.nii"
    img.to_filename(path)
    open_and_wait(qtbot, window, path)
    window.state.set_cursor((1, 2, 3))
    text = window.readout.text()
    expected = nib.load(path).get_fdata()[1, 2, 3]
    assert "voxel [1, 2, 3]" in text
    assert "-8.00, 24.00, 11.00 mm" in text
    assert f"value {expected:.6g}" in text
    assert "memory-mapped" in window.access_label.text()


def test_colormap_menu_changes_every_view(qtbot, window, ramp_image):
    open_and_wait(qtbot, window, ramp_image)
    window.colormap_actions["hot"].trigger()
    assert window.state.colormap == "hot"
    for view in window.ortho_view.views.values():
        lut = view.overview_item.lut
        assert tuple(lut[-1]) == (255, 255, 255) and tuple(lut[len(lut) // 2][:1]) == (255,)


def test_open_dialog_uses_the_session(qtbot, window, ramp_image, monkeypatch):
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getOpenFileNames", lambda *a, **k: ([ramp_image], "")
    )
    window.open_action.trigger()
    assert window.state.volume.name == "ramp.nii"


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def test_sparse_4gib_file_keeps_anonymous_memory_bounded(qtbot, window, tmp_path):
    shape = (2048, 2048, 512)
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint16)
    header.set_qform(np.eye(4), code=1)
    path = tmp_path / "sparse.nii"
    with open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\0" * (352 - f.tell()))
    os.truncate(path, 352 + int(np.prod(shape)) * 2)
    before = rss_anon_mb()
    open_and_wait(qtbot, window, path)
    window.ortho_view.views_panel.repaint()
    window.state.set_cursor((100, 1900, 50))
    window.ortho_view.views_panel.repaint()
    assert rss_anon_mb() - before < 200
    assert window.ortho_view.views[Plane.SAGITTAL].overview_item.image.shape[0] < 2048


def test_unexpected_exception_is_shown_not_fatal(qtbot, window, monkeypatch, capsys):
    import sys

    from volview.app import install_error_hook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_error_hook(window)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert "boom in a slot" in window.error_dialog.text()
    assert window.error_dialog.windowTitle() == "volview: unexpected error"
    assert "RuntimeError" in capsys.readouterr().err


def test_first_open_reads_each_view_plane_once(qtbot, window, tmp_path, monkeypatch):
    from volview.core.volume import SAMPLE_PLANES, SAMPLE_SIDE
    from volview.io.proxy import MemmapProxy

    reads = []
    original = MemmapProxy.plane

    def counting(self, axis, index, t=0, in_plane=(slice(None), slice(None))):
        reads.append((axis, tuple(s.step or 1 for s in in_plane)))
        return original(self, axis, index, t, in_plane)

    monkeypatch.setattr(MemmapProxy, "plane", counting)
    # planes much larger than the views, so that the stride depends on the view size
    path = write_image(tmp_path / "big.nii", np.ones((1100, 1100, 20), np.int16))
    open_and_wait(qtbot, window, path)
    sample_step = math.ceil(1100 / SAMPLE_SIDE)  # the histogram/window sample's stride
    sample_steps = (sample_step, sample_step)
    view_reads = [axis for axis, steps in reads if steps != sample_steps]
    assert sorted(view_reads) == [0, 1, 2], reads  # one read per view at its final size
    # the window and the histogram share one sample, read once
    assert len(reads) - len(view_reads) == SAMPLE_PLANES
