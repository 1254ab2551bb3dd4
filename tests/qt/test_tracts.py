"""Streamlines over the slices: alignment with the anatomy, panel controls, no image."""

from __future__ import annotations

import tempfile
import threading
import zipfile

import nibabel as nib
import numpy as np
import pytest
from nibabel.affines import apply_affine

from tests.qt.conftest import open_and_wait
from tests.trx_factories import TrxData, trx_entries, write_zip
from volview.core.geometry import Plane
from volview.io import trx_container
from volview.qt.compat import QtCore, QtWidgets

#: an oblique-free but flipped, anisotropic, shifted grid: voxel -> world mm
AFFINE = np.array(
    [[-2.0, 0, 0, 40.0], [0, 1.5, 0, -30.0], [0, 0, 1.0, 12.0], [0, 0, 0, 1]], dtype=np.float64
)
SHAPE = (30, 40, 24)


@pytest.fixture
def image(tmp_path):
    img = nib.Nifti1Image(np.zeros(SHAPE, np.float32), AFFINE)
    path = tmp_path / "grid.nii"
    img.to_filename(path)
    return path


def world(ijk) -> np.ndarray:
    return apply_affine(AFFINE, np.asarray(ijk, dtype=np.float64)).astype(np.float32)


def write_trx(path, streamlines_ijk, groups=None, **kw):
    data = TrxData([world(s) for s in streamlines_ijk], affine=AFFINE, dimensions=SHAPE, **kw)
    if groups:
        data.groups = {name: np.asarray(ids, np.uint32) for name, ids in groups.items()}
    return write_zip(path, trx_entries(data))


def wait_drawn(qtbot, window):
    views = window.ortho_view.views.values()
    qtbot.waitUntil(lambda: all(layer.index is not None for layer in window.state.tracts))
    qtbot.waitUntil(lambda: all(v.tract_overlay.is_drawn() for v in views), timeout=5000)


def open_tracts(qtbot, window, *paths):
    window.open_paths(paths)
    qtbot.waitUntil(lambda: not window.tracts.is_busy(), timeout=10000)
    wait_drawn(qtbot, window)


def drawn_pixels(view) -> np.ndarray:
    """(col, row) display voxel indices covered by the overlay's opaque pixels."""
    image = view.tract_overlay.item.image
    rect = view.tract_overlay.item.mapRectToParent(view.tract_overlay.item.boundingRect())
    rows, cols = np.nonzero(image[..., 3])
    x = rect.x() + (cols + 0.5) * rect.width() / image.shape[1]
    y = rect.y() + (rows + 0.5) * rect.height() / image.shape[0]
    layout = view.plane_layout
    return np.stack(
        [np.floor(x / layout.col_spacing_mm), np.floor(y / layout.row_spacing_mm)], axis=1
    ).astype(int)


def test_streamline_through_voxel_centres_lands_on_those_voxels(qtbot, window, image, tmp_path):
    line = [(i, 12, 7) for i in range(5, 21)]  # along i, at j=12, k=7
    trx = write_trx(tmp_path / "line.trx", [line])
    open_and_wait(qtbot, window, image)
    window.state.set_cursor((10, 12, 7))
    open_tracts(qtbot, window, trx)
    axial = window.ortho_view.views[Plane.AXIAL]
    layout = axial.plane_layout
    expected = {layout.voxel_to_display(i, 12) for i in range(5, 21)}
    got = {tuple(p) for p in drawn_pixels(axial)}
    assert got == expected
    coronal = window.ortho_view.views[Plane.CORONAL]
    expected = {coronal.plane_layout.voxel_to_display(i, 7) for i in range(5, 21)}
    assert {tuple(p) for p in drawn_pixels(coronal)} == expected


def test_slab_follows_the_slice(qtbot, window, image, tmp_path):
    trx = write_trx(tmp_path / "line.trx", [[(i, 12, 7) for i in range(5, 21)]])
    open_and_wait(qtbot, window, image)
    window.state.set_cursor((10, 12, 7))
    open_tracts(qtbot, window, trx)
    axial = window.ortho_view.views[Plane.AXIAL]
    assert axial.tract_overlay.item.isVisible() and axial.tract_overlay.item.image[..., 3].any()
    window.state.set_cursor((10, 12, 12))  # 5 voxels away: outside the default slab
    wait_drawn(qtbot, window)
    assert not axial.tract_overlay.item.image[..., 3].any()
    window.state.tracts[0].set_style(half_width=6.0)
    wait_drawn(qtbot, window)
    assert axial.tract_overlay.item.image[..., 3].any()


def test_group_toggle_colour_modes_and_cap_change_pixels(qtbot, window, image, tmp_path):
    lines = [[(i, j, 7) for i in range(3, 27)] for j in (5, 15, 25)]
    trx = write_trx(tmp_path / "g.trx", lines, groups={"left": [0], "right": [1, 2]})
    open_and_wait(qtbot, window, image)
    window.state.set_cursor((10, 12, 7))
    open_tracts(qtbot, window, trx)
    axial = window.ortho_view.views[Plane.AXIAL]
    layer = window.state.tracts[0]
    rows = lambda: {axial.plane_layout.display_to_voxel(*p)[1] for p in drawn_pixels(axial)}  # noqa: E731
    assert rows() == {5, 15, 25}
    layer.set_group_visible("right", False)
    wait_drawn(qtbot, window)
    assert rows() == {5}
    layer.set_group_visible("right", True)
    layer.set_style(cap=1)
    wait_drawn(qtbot, window)
    assert len(rows()) == 1
    layer.set_style(cap=None, colour_mode="solid", solid_rgb=(0, 0, 255))
    wait_drawn(qtbot, window)
    colours = axial.tract_overlay.item.image[axial.tract_overlay.item.image[..., 3] > 0]
    assert (colours[:, :3] == (0, 0, 255)).all()
    layer.set_style(colour_mode="direction")
    wait_drawn(qtbot, window)
    colours = axial.tract_overlay.item.image[axial.tract_overlay.item.image[..., 3] > 0]
    assert (colours[:, 0] == 255).all() and (colours[:, 1:3] == 0).all()  # along x: red
    layer.set_style(colour_mode="group")
    wait_drawn(qtbot, window)
    colours = axial.tract_overlay.item.image[axial.tract_overlay.item.image[..., 3] > 0]
    assert len({tuple(c) for c in colours[:, :3]}) == 2


def test_panel_controls_drive_the_layer(qtbot, window, image, tmp_path):
    trx = write_trx(tmp_path / "g.trx", [[(i, 5, 7) for i in range(3, 27)]], groups={"a": [0]})
    open_and_wait(qtbot, window, image)
    open_tracts(qtbot, window, trx)
    panel = window.tracts.panel
    layer = window.state.tracts[0]
    assert window.tracts.dock.isVisible()
    assert "streamlines: 1" in panel.summary.toPlainText()
    panel.slab.setValue(3.0)
    assert layer.style.half_width == 3.0
    panel.width.setValue(3)
    assert layer.style.line_width == 3
    panel.show_all.setChecked(True)
    assert layer.style.cap is None
    panel.groups.item(0).setCheckState(QtCore.Qt.Unchecked)
    assert layer.group_visible == {"a": False}
    panel.layers.item(0).setCheckState(QtCore.Qt.Unchecked)
    assert not layer.visible
    panel.remove_button.click()
    assert window.state.tracts == []


def test_tractogram_alone_opens_on_its_header_grid(qtbot, window, tmp_path):
    trx = write_trx(tmp_path / "alone.trx", [[(i, 12, 7) for i in range(5, 21)]])
    open_tracts(qtbot, window, trx)
    volume = window.state.volume
    assert volume.shape == SHAPE
    np.testing.assert_allclose(volume.image.affine, AFFINE)
    assert volume.image.format_name == "empty grid"
    window.state.set_cursor((10, 12, 7))
    wait_drawn(qtbot, window)
    assert window.ortho_view.views[Plane.AXIAL].tract_overlay.item.image[..., 3].any()


def test_grid_mismatch_is_reported(qtbot, window, image, tmp_path):
    data = TrxData([world([(1, 1, 1), (2, 2, 2)])], affine=np.eye(4), dimensions=(10, 10, 10))
    trx = write_zip(tmp_path / "other.trx", trx_entries(data))
    open_and_wait(qtbot, window, image)
    open_tracts(qtbot, window, trx)
    assert "different grid" in window.tracts.panel.note.text()


def test_bad_tractogram_shows_an_error(qtbot, window, image, tmp_path):
    bad = tmp_path / "bad.trx"
    bad.write_bytes(b"not a zip at all")
    open_and_wait(qtbot, window, image)
    window.open_paths([bad])
    qtbot.waitUntil(lambda: window.error_dialog is not None, timeout=5000)
    assert "bad.trx" in window.error_dialog.text()
    assert window.state.tracts == []


def test_index_follows_a_new_grid(qtbot, window, image, tmp_path):
    """A header edit that moves the image re-indexes the streamlines in the new grid."""
    trx = write_trx(tmp_path / "line.trx", [[(i, 12, 7) for i in range(5, 21)]])
    open_and_wait(qtbot, window, image)
    window.state.set_cursor((10, 12, 7))
    open_tracts(qtbot, window, trx)
    layer = window.state.tracts[0]
    shifted = AFFINE.copy()
    shifted[2, 3] += 3.0  # the image moves 3 mm up: the line is now at k = 4
    window.header.ask = lambda *_args: QtWidgets.QMessageBox.Discard
    window.header.document.set_affine("sform", shifted)
    assert layer.index is None or layer.grid == window.session.index_grid()
    qtbot.waitUntil(lambda: layer.index is not None, timeout=10000)
    assert layer.grid == window.session.index_grid()
    assert len(layer.segments(2, 4.0)) == 15 and len(layer.segments(2, 7.0)) == 0


def test_raising_the_cap_indexes_more_in_the_background(qtbot, window, image, tmp_path):
    lines = [[(i, 3 + j, 7) for i in range(3, 27)] for j in range(30)]
    trx = write_trx(tmp_path / "many.trx", lines)
    open_and_wait(qtbot, window, image)
    window.state.set_cursor((10, 12, 7))
    open_tracts(qtbot, window, trx)
    layer = window.state.tracts[0]
    layer.set_style(cap=10)
    # as a tractogram above the default cap is first indexed: its subsample only
    layer.set_index(*window.session.build_index(layer, window.state.volume, layer.index_wanted()))
    wait_drawn(qtbot, window)
    axial = window.ortho_view.views[Plane.AXIAL]
    rows = lambda: {axial.plane_layout.display_to_voxel(*p)[1] for p in drawn_pixels(axial)}  # noqa: E731
    assert len(rows()) == 10 and len(layer.index.indexed) == 10
    window.tracts.panel.show_all.setChecked(True)
    assert window.tracts.is_busy()  # the full index builds in the background...
    assert len(rows()) == 10  # ...while the subsample stays drawn
    qtbot.waitUntil(lambda: not window.tracts.is_busy(), timeout=10000)
    wait_drawn(qtbot, window)
    assert layer.index.indexed is None
    assert len(rows()) == 30


def test_cancelling_the_extraction_of_a_deflated_trx(qtbot, window, image, tmp_path, monkeypatch):
    """Cancel in the progress dialog: nothing is added, no error, no temp folder left."""
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    gate, writes = threading.Event(), []  # the extraction's 2nd write waits for the cancel
    write = trx_container._write
    monkeypatch.setattr(
        trx_container,
        "_write",
        lambda *a: (writes.append(1), len(writes) < 2 or gate.wait(10), write(*a)),
    )
    data = TrxData([world([(i, 12, 7) for i in range(5, 21)])], affine=AFFINE, dimensions=SHAPE)
    trx = write_zip(tmp_path / "deflated.trx", trx_entries(data), compression=zipfile.ZIP_DEFLATED)
    open_and_wait(qtbot, window, image)
    window.open_paths([trx])
    (task,) = window.tracts.open_tasks
    with qtbot.waitSignal(task.progressed, timeout=10000):
        pass
    assert list(temp_root.iterdir())  # extracting
    (dialog,) = window.findChildren(QtWidgets.QProgressDialog)
    dialog.findChild(QtWidgets.QPushButton).click()  # its Cancel button
    gate.set()
    qtbot.waitUntil(lambda: not window.tracts.is_busy(), timeout=10000)
    assert window.state.tracts == []
    assert window.error_dialog is None
    assert not list(temp_root.iterdir())
