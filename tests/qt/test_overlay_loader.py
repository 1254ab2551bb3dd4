"""Compressed overlays are copied into RAM in the background: drawn from the file
meanwhile, from RAM afterwards; the copy can be cancelled, is skipped over the cache
budget, and is dropped when its overlay is removed first."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.qt.conftest import open_and_wait, write_image
from tests.qt.test_data_controller import click_cancel
from tests.qt.test_layers import BASE_AFFINE, overlay_alpha
from volview.core import layers
from volview.core.geometry import Plane
from volview.qt import overlay_loader
from volview.qt.compat import QtWidgets


@pytest.fixture
def images(tmp_path):
    """A 2 mm base and two compressed 1 mm overlays covering its left half, with
    value ``i + 1`` and ``2 * (i + 1)`` at overlay voxel ``i``."""
    base = write_image(tmp_path / "base.nii", np.zeros((20, 16, 12), np.float32), BASE_AFFINE)
    i = np.arange(20)[:, None, None] * np.ones((1, 32, 24))
    half = write_image(tmp_path / "half.nii.gz", (i + 1).astype(np.float32), np.eye(4))
    double = write_image(tmp_path / "double.nii.gz", (2 * i + 2).astype(np.float32), np.eye(4))
    return base, half, double


class HeldCopies:
    """``copy_in_ram`` of the loader, held until ``release`` is set; records the
    threads that ran it and the images it was asked for."""

    def __init__(self, monkeypatch) -> None:
        self.release, self.reached = threading.Event(), threading.Event()
        self.calls: list[tuple[str, threading.Thread]] = []
        real = overlay_loader.copy_in_ram

        def held(image, progress, cancelled):
            self.calls.append((image.path.name, threading.current_thread()))
            self.reached.set()
            assert self.release.wait(timeout=30)
            return real(image, progress, cancelled)

        monkeypatch.setattr(overlay_loader, "copy_in_ram", held)


@pytest.fixture
def held(monkeypatch):
    copies = HeldCopies(monkeypatch)
    yield copies
    copies.release.set()


def in_ram(layer) -> bool:
    return layer.image.proxy.random_access


def readout(window) -> str:
    return window.layers.readout.text()


def check_drawn(window, layer) -> None:
    """The overlay covers base voxels i = 0..9, and base voxel ``i`` (overlay voxel
    ``2 * i``) reads ``2 * i + 1`` (twice that in ``double.nii.gz``), wherever the
    cursor is."""
    name, scale = layer.name, 2 if layer.name.startswith("double") else 1
    for ijk in [(3, 8, 6), (0, 2, 11), (9, 15, 0)]:
        window.state.set_cursor(ijk)
        assert f"{name}: {scale * (2 * ijk[0] + 1):g}" in readout(window)
        axial = window.ortho_view.views[Plane.AXIAL]
        alpha = overlay_alpha(window, layer)
        covered = {axial.plane_layout.display_to_voxel(c, 0)[0] for c in np.flatnonzero(alpha[0])}
        assert covered == set(range(10))
    window.state.set_cursor((15, 8, 6))
    assert f"{name}: outside" in readout(window)


def test_a_compressed_overlay_is_drawn_from_ram_once_copied(
    qtbot, window, images, held, monkeypatch
):
    base, half, _ = images
    drawn_from = []  # the proxy of every overlay plane drawn
    draw = layers.overlay_plane
    monkeypatch.setattr(
        layers, "overlay_plane", lambda image, *a: drawn_from.append(image.proxy) or draw(image, *a)
    )
    open_and_wait(qtbot, window, base)
    assert window.open_paths([half], as_overlays=True) == []  # over planes already drawn
    (layer,) = window.state.overlays
    file_image = layer.image
    assert held.reached.wait(timeout=10)
    assert held.calls[0][1] is not threading.main_thread()
    assert layer.waiting_for_copy and not in_ram(layer)
    window.state.set_cursor((3, 8, 6))  # the window answers; the overlay waits
    assert readout(window) == "half.nii.gz: reading\u2026"
    assert all(overlay_alpha(window, layer, plane) is None for plane in Plane)
    held.release.set()
    qtbot.waitUntil(lambda: in_ram(layer))
    assert readout(window) == "half.nii.gz: 7"  # without a cursor move
    assert drawn_from and all(proxy.random_access for proxy in drawn_from)  # never the stream
    assert layer.image is not file_image and layer.image.path == file_image.path
    assert window.layers.loader.task is None and not layer.waiting_for_copy
    assert "half.nii.gz is in RAM" in window.statusBar().currentMessage()
    check_drawn(window, layer)


def test_overlays_are_copied_one_after_the_other(qtbot, window, images, held):
    base, half, double = images
    held.release.set()
    open_and_wait(qtbot, window, base, half, double)
    qtbot.waitUntil(lambda: all(in_ram(layer) for layer in window.state.overlays))
    assert [name for name, _ in held.calls] == ["half.nii.gz", "double.nii.gz"]
    for layer in window.state.overlays:
        check_drawn(window, layer)


def test_cancel_keeps_the_overlay_read_from_its_file(qtbot, window, images, held):
    base, half, _ = images
    open_and_wait(qtbot, window, base, half)
    (layer,) = window.state.overlays
    assert held.reached.wait(timeout=10)
    (dialog,) = window.findChildren(QtWidgets.QProgressDialog)
    assert "half.nii.gz" in dialog.labelText()
    dialog.show()  # a real copy reports progress, and the dialog shows after 300 ms
    click_cancel(qtbot, window)
    held.release.set()
    qtbot.waitUntil(lambda: window.layers.loader.task is None)
    assert not in_ram(layer)
    assert window.statusBar().currentMessage() == (
        "half.nii.gz stays read from its compressed file (slow)"
    )
    check_drawn(window, layer)


def test_an_overlay_over_the_cache_budget_is_not_copied(qtbot, window, images, held):
    base, half, _ = images
    window.session.cache_budget_bytes = 20 * 32 * 24 * 4 - 1  # one byte short of the copy
    open_and_wait(qtbot, window, base, half)
    (layer,) = window.state.overlays
    assert held.calls == [] and window.layers.loader.task is None
    assert "would exceed the cache budget" in window.statusBar().currentMessage()
    assert not in_ram(layer)
    check_drawn(window, layer)


def test_an_overlay_removed_during_its_copy_is_not_swapped_in(qtbot, window, images, held):
    base, half, double = images
    open_and_wait(qtbot, window, base, half, double)
    first, second = window.state.overlays
    assert held.reached.wait(timeout=10)
    file_image = first.image
    window.state.remove_overlay(first)
    held.release.set()
    qtbot.waitUntil(lambda: in_ram(second))
    assert first.image is file_image and not in_ram(first)
    assert [name for name, _ in held.calls] == ["half.nii.gz", "double.nii.gz"]
    assert window.error_dialog is None
    assert "half.nii.gz" not in window.statusBar().currentMessage()


def test_a_failed_copy_is_reported_and_the_overlay_stays(qtbot, window, images, held):
    base, half, _ = images
    open_and_wait(qtbot, window, base, half)
    (layer,) = window.state.overlays
    assert held.reached.wait(timeout=10)
    write_image(half, np.ones((4, 4, 4), np.float32))  # replaced before the copy reads it
    held.release.set()
    qtbot.waitUntil(lambda: window.layers.loader.task is None)
    assert not in_ram(layer) and layer in window.state.overlays
    message = window.statusBar().currentMessage()
    assert message.startswith("half.nii.gz stays read from its file: half.nii.gz: changed on disk")
    assert "4 \u00d7 4 \u00d7 4 \u00d7 1 values, not 20 \u00d7 32 \u00d7 24 \u00d7 1" in message
