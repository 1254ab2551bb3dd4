"""Screenshots: rendered at 1x-4x through a scaled painter, saved as PNG, copied."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from volview.qt.compat import QtGui, QtWidgets
from volview.qt.export import ScaleDialog, render_widget


def pixels(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.height() * image.bytesPerLine())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


@pytest.fixture
def loaded(qtbot, window, tmp_path):
    i, j, k = np.meshgrid(np.arange(30), np.arange(24), np.arange(20), indexing="ij")
    data = ((i * 7 + j * 3 + k) % 50).astype(np.float32)
    open_and_wait(qtbot, window, write_image(tmp_path / "pattern.nii", data))
    return window


def test_scale_two_doubles_the_size_and_draws_the_views(qtbot, loaded):
    panel = loaded.ortho_view.views_panel
    one, two = loaded.export.render(1), loaded.export.render(2)
    assert (one.width(), one.height()) == (panel.width(), panel.height())
    assert (two.width(), two.height()) == (2 * panel.width(), 2 * panel.height())
    p1, p2 = pixels(one), pixels(two)
    assert len(np.unique(p1.reshape(-1, 3), axis=0)) > 20  # not blank: the slices show
    # the same picture, drawn at twice the resolution
    halved = p2.reshape(p1.shape[0], 2, p1.shape[1], 2, 3).mean(axis=(1, 3))
    assert np.mean(np.abs(halved - p1)) < 12
    # not a grab blown up pixel by pixel: some 2x2 blocks are not uniform
    blocks = p2.reshape(p1.shape[0], 2, p1.shape[1], 2, 3)
    assert (blocks.max(axis=(1, 3)) != blocks.min(axis=(1, 3))).any()


def test_scale_one_matches_a_grab(qtbot, loaded):
    panel = loaded.ortho_view.views_panel
    rendered = pixels(render_widget(panel, 1))
    grabbed = pixels(panel.grab().toImage())
    assert np.mean(rendered != grabbed) < 0.01


def test_bad_scale_is_refused(loaded):
    with pytest.raises(ValueError, match="scale"):
        render_widget(loaded.ortho_view.views_panel, 5)


def test_save_screenshot_writes_a_png_at_the_chosen_scale(qtbot, loaded, tmp_path, monkeypatch):
    out = tmp_path / "shot"
    monkeypatch.setattr(ScaleDialog, "exec_", lambda self: (self.combo.setCurrentIndex(2), 1)[1])
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PNG images (*.png)")
    )
    loaded.export.save_action.trigger()
    saved = QtGui.QImage(str(out) + ".png")
    panel = loaded.ortho_view.views_panel
    assert (saved.width(), saved.height()) == (3 * panel.width(), 3 * panel.height())
    assert loaded.settings.value("export/scale") == 3


def test_failed_save_names_the_file(qtbot, loaded, tmp_path):
    target = tmp_path / "missing folder" / "shot.png"
    assert loaded.export.save(target, 1) is False
    assert "shot.png" in loaded.error_dialog.text()


def test_copy_puts_the_image_on_the_clipboard(qtbot, loaded):
    clipboard = QtWidgets.QApplication.clipboard()
    clipboard.clear()
    loaded.export.copy_action.trigger()
    image = clipboard.image()
    panel = loaded.ortho_view.views_panel
    assert (image.width(), image.height()) == (panel.width(), panel.height())
    assert loaded.export.copy_action.shortcut().toString() == "Ctrl+Alt+C"


def test_screenshot_actions_wait_for_an_image(window):
    assert not window.export.save_action.isEnabled()
    assert not window.export.copy_action.isEnabled()
