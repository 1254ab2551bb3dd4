"""Image overlays in the window: drawn in the base grid, the layer panel, drops, readout."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from volview.core.geometry import Plane
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
BASE_AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


@pytest.fixture
def images(tmp_path):
    """A 2 mm base, a 1 mm overlay covering its left half with value = i (overlay
    voxels), and a label map on the base grid."""
    base = write_image(tmp_path / "base.nii", np.zeros((20, 16, 12), np.float32), BASE_AFFINE)
    i = np.arange(20)[:, None, None] * np.ones((1, 32, 24))
    overlay = write_image(tmp_path / "half.nii", (i + 1).astype(np.float32), np.eye(4))
    labels = np.zeros((20, 16, 12), np.int16)
    labels[10:, :8] = 4
    labels[10:, 8:] = 9
    label_path = write_image(tmp_path / "labels.nii", labels, BASE_AFFINE)
    return base, overlay, label_path


def overlay_alpha(window, layer, plane=Plane.AXIAL) -> np.ndarray:
    item = window.ortho_view.views[plane].image_overlays.items(layer)["overview"]
    return item.image[..., 3] if item.isVisible() and item.image is not None else None


def drop(window, target, paths, modifiers=Qt.NoModifier) -> None:
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QtCore.QPointF(5, 5)
    enter = QtGui.QDragEnterEvent(pos.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, modifiers)
    QtWidgets.QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    event = QtGui.QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, modifiers)
    QtWidgets.QApplication.sendEvent(target, event)


def test_overlay_is_drawn_where_it_covers_the_base(qtbot, window, images):
    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    (layer,) = window.state.overlays
    assert window.layers.dock.isVisible()
    window.state.set_cursor((3, 8, 6))
    alpha = overlay_alpha(window, layer)
    axial = window.ortho_view.views[Plane.AXIAL]
    layout = axial.plane_layout
    # the overlay spans world x 0..19 mm: base voxels i = 0..9 (2 mm); display is flipped
    covered = {layout.display_to_voxel(c, 0)[0] for c in np.flatnonzero(alpha[0] > 0)}
    assert covered == set(range(10))
    assert "half.nii: 7" in window.layers.readout.text()  # base i=3 -> x 6 mm -> value 6 + 1
    window.state.set_cursor((15, 8, 6))
    assert "half.nii: outside" in window.layers.readout.text()


def test_panel_controls_change_the_drawing(qtbot, window, images):
    base, overlay, label_path = images
    open_and_wait(qtbot, window, base, overlay, label_path)
    half, labels = window.state.overlays
    panel = window.layers.panel
    assert [panel.layers.item(r).text() for r in range(3)] == [
        "labels.nii",
        "half.nii",
        "base.nii (base image)",
    ]
    assert labels.style.labels and not half.style.labels
    window.state.set_cursor((12, 4, 6))
    assert "labels.nii: label 4" in window.layers.readout.text()
    panel.layers.setCurrentRow(1)
    assert panel.layer is half
    panel.opacity.setValue(40)
    assert set(np.unique(overlay_alpha(window, half))) == {0, round(0.4 * 255)}
    panel.threshold_mode.setCurrentIndex(panel.threshold_mode.findData("above"))
    panel.threshold.setValue(5.5)
    alpha = overlay_alpha(window, half)
    assert 0 < np.count_nonzero(alpha) < np.count_nonzero(overlay_alpha(window, labels) >= 0)
    panel.layers.item(1).setCheckState(Qt.Unchecked)
    assert not half.style.visible and overlay_alpha(window, half) is None
    panel.layers.setCurrentRow(1)
    panel.up_button.click()
    assert window.state.overlays == [labels, half]
    z = {
        layer: window.ortho_view.views[Plane.AXIAL].image_overlays.items(layer)["overview"].zValue()
        for layer in (half, labels)
    }
    assert z[half] > z[labels]
    panel.layers.setCurrentRow(0)
    assert panel.layer is half
    panel.remove_button.click()
    assert window.state.overlays == [labels]


def test_base_row_edits_the_base_window_and_colormap(qtbot, window, images):
    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    panel = window.layers.panel
    panel.layers.setCurrentRow(1)
    assert panel.layer is None and not panel.remove_button.isEnabled()
    panel.colormap.setCurrentIndex(panel.colormap.findData("viridis"))
    assert window.state.colormap == "viridis"
    panel.high.setValue(50.0)
    assert window.state.window[1] == 50.0
    window.state.set_window(-1.0, 3.0)
    assert (panel.low.value(), panel.high.value()) == (-1.0, 3.0)
    assert panel.seen.text() == "0 \u2026 0"


def test_drop_with_modifier_or_on_the_panel_adds_overlays(qtbot, window, images):
    base, overlay, label_path = images
    open_and_wait(qtbot, window, base)
    drop(window, window, [overlay], Qt.ControlModifier)
    assert window.state.volume.name == "base.nii"
    assert [o.name for o in window.state.overlays] == ["half.nii"]
    drop(window, window.layers.panel, [label_path])
    assert [o.name for o in window.state.overlays] == ["half.nii", "labels.nii"]
    drop(window, window, [overlay])  # a plain drop opens the image in place of the base
    assert window.state.volume.name == "half.nii"


def test_a_bad_overlay_shows_an_error_and_keeps_the_base(qtbot, window, images, tmp_path):
    base, _, _ = images
    open_and_wait(qtbot, window, base)
    bad = tmp_path / "broken.nii"
    bad.write_bytes(b"\0" * 100)
    window.layers.add_overlays([bad])
    assert window.error_dialog is not None and "broken.nii" in window.error_dialog.text()
    assert window.state.overlays == [] and window.state.volume.name == "base.nii"


def test_overlay_follows_zoom_into_the_detail_view(qtbot, window, tmp_path):
    """A plane far larger than the view is read strided; zoomed in, the overlay is
    drawn on the full-resolution detail instead (never both: one blend)."""
    base = write_image(tmp_path / "big.nii", np.zeros((1500, 1500, 3), np.float32), np.eye(4))
    overlay = write_image(tmp_path / "o.nii", np.ones((1500, 1500, 3), np.float32), np.eye(4))
    open_and_wait(qtbot, window, base, overlay)
    (layer,) = window.state.overlays
    axial = window.ortho_view.views[Plane.AXIAL]
    items = axial.image_overlays.items(layer)
    assert items["overview"].isVisible() and not items["detail"].isVisible()
    axial.viewbox.setRange(QtCore.QRectF(100, 100, 50, 50), padding=0)
    qtbot.waitUntil(lambda: axial.detail_item.isVisible())
    assert items["detail"].isVisible() and not items["overview"].isVisible()
    assert items["detail"].image.shape[:2] == axial.detail_item.image.shape
    axial.reset_view()
    qtbot.waitUntil(lambda: not axial.detail_item.isVisible())
    assert items["overview"].isVisible() and not items["detail"].isVisible()


def test_seen_range_follows_the_planes_shown(qtbot, window, tmp_path):
    i, j, k = np.meshgrid(np.arange(20), np.arange(16), np.arange(12), indexing="ij")
    base = write_image(tmp_path / "prod.nii", (i * j * k).astype(np.float32), np.eye(4))
    open_and_wait(qtbot, window, base)  # cursor (10, 8, 6): the largest shown is 19*15*6
    panel = window.layers.panel
    assert panel.seen.text() == "0 \u2026 1710"
    window.state.set_cursor((19, 15, 11))
    assert panel.seen.text() == "0 \u2026 3135"


# -- the selected layer: colour bar and right-drag ---------------------------------------
def test_colour_bar_follows_the_selected_layer(qtbot, window, images):
    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    (half,) = window.state.overlays
    bar, panel = window.ortho_view.colour_bar, window.layers.panel
    assert window.state.active_overlay is half  # a new overlay is selected
    assert bar.title.text() == "half.nii"
    assert bar.histogram.item.getLevels() == pytest.approx(half.style.window)
    base_window = window.state.window
    bar.histogram.item.setLevels(3.0, 9.0)  # as a drag of the region does
    assert half.style.window == pytest.approx((3.0, 9.0))
    assert window.state.window == base_window
    assert (panel.low.value(), panel.high.value()) == pytest.approx((3.0, 9.0))
    panel.layers.setCurrentRow(1)  # the base image
    assert window.state.active_overlay is None
    assert bar.title.text() == "base.nii"
    assert bar.histogram.item.getLevels() == pytest.approx(base_window)


def test_colour_bar_menu_sets_the_selected_layers_colormap(qtbot, window, images):
    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    (half,) = window.state.overlays
    bar = window.ortho_view.colour_bar
    menu = bar.histogram.item.gradient.menu
    viridis = next(a for a in menu.actions() if a.text() == "Viridis")
    viridis.trigger()
    assert half.style.colormap == "viridis"
    assert window.state.colormap == "gray"
    window.state.set_active_overlay(None)
    assert window.layers.panel.layer is None  # the panel follows the state
    viridis.trigger()
    assert window.state.colormap == "viridis"


def test_right_drag_sets_the_window_of_the_selected_overlay(qtbot, window, images):
    from tests.qt.test_slice_view import drag, viewport_point

    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    (half,) = window.state.overlays
    axial = window.ortho_view.views[Plane.AXIAL]
    base_window, (lo, hi) = window.state.window, half.style.window
    item = axial.image_overlays.items(half)["overview"]
    rgba_before = item.image.copy()
    drag(axial, viewport_point(axial, 4.0, 8.0), viewport_point(axial, 4.0, 30.0), Qt.RightButton)
    new_lo, new_hi = half.style.window
    assert new_hi - new_lo == pytest.approx(hi - lo)  # a vertical drag moves the level
    assert new_lo > lo  # dragging up raises the level
    assert window.state.window == base_window
    assert not np.array_equal(item.image, rgba_before)  # redrawn with the new window
    assert window.ortho_view.colour_bar.histogram.item.getLevels() == pytest.approx(
        half.style.window
    )


def test_a_label_overlay_leaves_the_window_to_the_base(qtbot, window, images):
    base, _, label_path = images
    open_and_wait(qtbot, window, base, label_path)
    (labels,) = window.state.overlays
    assert window.state.active_overlay is labels and labels.style.labels
    assert window.state.window_layer() is None
    bar = window.ortho_view.colour_bar
    assert bar.title.text() == "base.nii"
    bar.histogram.item.setLevels(0.25, 0.5)
    assert window.state.window == pytest.approx((0.25, 0.5))
    window.layers.panel.labels.setChecked(False)  # now it has a window of its own
    assert window.state.window_layer() is labels
    assert bar.title.text() == "labels.nii"


def test_colour_bar_gradient_shows_the_selected_layers_colormap(qtbot, window, images):
    from volview.qt.colormaps import lookup_table

    base, overlay, _ = images
    open_and_wait(qtbot, window, base, overlay)
    (half,) = window.state.overlays
    gradient = window.ortho_view.colour_bar.histogram.item.gradient

    def shown() -> np.ndarray:
        return gradient.getLookupTable(256, alpha=False)

    np.testing.assert_allclose(shown(), lookup_table(half.style.colormap), atol=2)
    window.state.set_active_overlay(None)
    np.testing.assert_allclose(shown(), lookup_table(window.state.colormap), atol=2)
    window.state.set_colormap("viridis")
    np.testing.assert_allclose(shown(), lookup_table("viridis"), atol=2)
