"""GzipController: the index build in the background, the decompress offer, the cache."""

from __future__ import annotations

import threading

import nibabel as nib
import numpy as np
import pytest

from tests.qt.conftest import open_and_wait
from volview.core.geometry import Plane
from volview.core.state import ViewerState
from volview.io import gzip_index, nibabel_proxy
from volview.io.decompress_cache import CACHE_ENV, CACHED_ACCESS
from volview.io.gzip_index import gzip_proxy
from volview.io.nibabel_proxy import NibabelProxy
from volview.qt import gzip_controller
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.gzip_controller import CHOICE_KEY
from volview.session import Session


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never the user's real cache."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache-root"))
    monkeypatch.setattr(gzip_index, "STEP", 2**20)


@pytest.fixture
def gz_path(tmp_path):
    rng = np.random.default_rng(3)
    axes = np.meshgrid(*(np.linspace(-1, 1, n) for n in (64, 48, 256)), indexing="ij")
    data = 1000 * np.exp(-3 * sum(a**2 for a in axes)) + rng.normal(0, 30, axes[0].shape)
    path = tmp_path / "anatomy.nii.gz"
    img = nib.Nifti1Image(data.clip(0).astype(np.int16), np.diag([1.0, 1.0, 1.0, 1.0]))
    img.header.set_qform(img.affine, code=1)
    nib.save(img, path)
    return path


@pytest.fixture
def controller(qtbot, window, tmp_path):
    """The window's own controller, with its cache in a temporary folder."""
    window.gzip.cache_folder = tmp_path / "cache"
    return window.gzip


@pytest.fixture
def gate(monkeypatch):
    """Hold the index build after its first progress report until ``gate.set()``."""
    event = threading.Event()
    real = gzip_controller.build_index

    def held_build(proxy, progress, cancelled):
        progress(1, 2)
        event.wait(timeout=30)
        return real(proxy, progress, cancelled)

    monkeypatch.setattr(gzip_controller, "build_index", held_build)
    yield event
    event.set()


def assert_same_pixels(state, path) -> None:
    want = nib.load(path).get_fdata()
    proxy = state.volume.image.proxy
    for axis in range(3):
        index = state.cursor_ijk[axis]
        np.testing.assert_allclose(proxy.plane(axis, index), np.take(want, index, axis=axis))


def test_index_builds_in_the_background_and_the_window_stays_responsive(
    qtbot, window, controller, gz_path, gate
):
    open_and_wait(qtbot, window, gz_path)
    qtbot.waitUntil(lambda: "(building index 50%)" in window.access_label.text())
    assert window.access_label.text() == "NIfTI-1, gzip-indexed (building index 50%)"
    assert controller.progress_widget.isVisible()
    window.state.set_cursor((10, 20, 30))  # the GUI thread is free while the worker waits
    qtbot.waitUntil(lambda: "voxel [10, 20, 30]" in window.readout.text())
    gate.set()
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"
    assert not controller.progress_widget.isVisible()
    proxy = gzip_proxy(window.state.volume.image.proxy)
    assert proxy.stream.frontier >= proxy.stored_bytes
    assert_same_pixels(window.state, gz_path)


def test_cancel_button_stops_the_build_and_the_image_still_reads(
    qtbot, window, controller, gz_path, gate
):
    open_and_wait(qtbot, window, gz_path)
    qtbot.waitUntil(lambda: "building index" in window.access_label.text())
    qtbot.mouseClick(controller.cancel_button, QtCore.Qt.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"
    assert_same_pixels(window.state, gz_path)


def test_remembered_never_builds_the_index_without_asking(qtbot, window, controller, gz_path):
    controller.large_bytes = 0
    window.settings.setValue(CHOICE_KEY, "never")
    open_and_wait(qtbot, window, gz_path)
    assert controller.offer_box is None
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"


def test_remembered_always_decompresses_to_the_cache_keeping_the_cursor(
    qtbot, window, controller, gz_path
):
    controller.large_bytes = 0
    window.settings.setValue(CHOICE_KEY, "always")
    open_and_wait(qtbot, window, gz_path)
    assert controller.offer_box is None
    window.state.set_cursor((5, 6, 7))
    window.state.set_window(10.0, 900.0)
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert window.access_label.text() == f"NIfTI-1, {CACHED_ACCESS}"
    assert window.state.volume.image.path == gz_path
    assert window.state.cursor_ijk == (5, 6, 7) and window.state.window == (10.0, 900.0)
    assert_same_pixels(window.state, gz_path)


def answer_offer(qtbot, controller, button, remember: bool) -> None:
    qtbot.waitUntil(lambda: controller.offer_box is not None and controller.offer_box.isVisible())
    box = controller.offer_box
    box.checkBox().setChecked(remember)
    qtbot.mouseClick(box.button(button), QtCore.Qt.LeftButton)


def test_offer_accepted_and_remembered_then_reused_from_the_cache(
    qtbot, window, controller, gz_path
):
    controller.large_bytes = 0
    open_and_wait(qtbot, window, gz_path)
    answer_offer(qtbot, controller, QtWidgets.QMessageBox.Yes, remember=True)
    qtbot.waitUntil(lambda: CACHED_ACCESS in window.access_label.text(), timeout=10000)
    assert window.settings.value(CHOICE_KEY) == "always"
    assert_same_pixels(window.state, gz_path)
    entry = controller.cache().lookup(gz_path)
    inode = entry.stat().st_ino
    open_and_wait(qtbot, window, gz_path)  # opened again: straight from the copy
    assert window.state.volume.image.proxy.access == CACHED_ACCESS
    assert controller.task is None and entry.stat().st_ino == inode


def test_offer_declined_without_remembering_asks_again(qtbot, window, controller, gz_path):
    controller.large_bytes = 0
    open_and_wait(qtbot, window, gz_path)
    answer_offer(qtbot, controller, QtWidgets.QMessageBox.No, remember=False)
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert window.settings.value(CHOICE_KEY, "ask") == "ask"
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"
    open_and_wait(qtbot, window, gz_path)
    answer_offer(qtbot, controller, QtWidgets.QMessageBox.No, remember=True)
    assert window.settings.value(CHOICE_KEY) == "never"
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)


def test_small_files_are_not_offered(qtbot, window, controller, gz_path):
    open_and_wait(qtbot, window, gz_path)
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    assert controller.offer_box is None
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"


def test_side_planes_arrive_in_the_background_while_the_window_answers(
    qtbot, window, controller, gz_path, monkeypatch
):
    """The axial plane comes first; the sagittal and coronal planes need the whole
    stream and arrive later, and meanwhile the window answers."""
    controller.settings.setValue(CHOICE_KEY, "never")
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 16)  # 16 planes
    gate = threading.Event()
    real = NibabelProxy.read_planes

    def held(self, jobs, deliver, cancelled=lambda: False, progress=None):
        def deliver_then_hold(job, plane):
            deliver(job, plane)
            if job[0] == 2:
                gate.wait(timeout=30)

        return real(self, jobs, deliver_then_hold, cancelled, progress)

    monkeypatch.setattr(NibabelProxy, "read_planes", held)
    assert window.open_paths([gz_path]) == []
    views = window.ortho_view.views
    try:
        qtbot.waitUntil(lambda: views[Plane.AXIAL].has_planes())
        waiting = [views[Plane.SAGITTAL], views[Plane.CORONAL]]
        assert all(v.reading_label.isVisible() and not v.has_planes() for v in waiting)
        window.state.set_cursor((10, 20, window.state.cursor_ijk[2]))
        qtbot.waitUntil(lambda: "voxel [10, 20," in window.readout.text())
    finally:
        gate.set()
    qtbot.waitUntil(lambda: all(view.has_planes() for view in views.values()), timeout=10000)
    want = nib.load(gz_path).get_fdata()
    for view in views.values():
        layout, ijk = view.plane_layout, window.state.cursor_ijk
        plane = np.take(want, ijk[layout.depth_axis], axis=layout.depth_axis)
        np.testing.assert_allclose(view.overview_item.image, layout.orient(plane), rtol=1e-6)
        assert not view.reading_label.isVisible()


@pytest.fixture
def held_pass(monkeypatch):
    """Hold every background read of a gzip stream until ``held_pass.set()``."""
    gate = threading.Event()
    real = NibabelProxy.read_planes

    def held(self, jobs, deliver, cancelled=lambda: False, progress=None):
        gate.wait(timeout=30)
        return real(self, jobs, deliver, cancelled, progress)

    monkeypatch.setattr(NibabelProxy, "read_planes", held)
    yield gate
    gate.set()


def test_opening_does_not_wait_for_the_sample_behind_the_window(
    qtbot, window, controller, gz_path, held_pass
):
    """With the stream held, opening returns at once: the views say "Reading…", the
    readout "reading…" and the histogram is empty; once released, the window is the
    one a synchronous open computes and the readout is nibabel's value."""
    controller.settings.setValue(CHOICE_KEY, "never")
    assert window.open_paths([gz_path]) == []
    state, views = window.state, window.ortho_view.views
    assert "value reading\u2026" in window.readout.text()
    assert window.session.provisional_window == state.window
    qtbot.waitUntil(lambda: all(v.reading_label.isVisible() for v in views.values()))
    assert not any(v.has_planes() for v in views.values())
    histogram = window.ortho_view.colour_bar.histogram.item.plot
    assert len(histogram.getData()[0]) == 0
    held_pass.set()
    qtbot.waitUntil(lambda: window.session.provisional_window is None, timeout=10000)
    qtbot.waitUntil(lambda: all(v.has_planes() for v in views.values()), timeout=10000)
    reference = Session(ViewerState())
    reference.open_paths([gz_path])
    assert state.window == pytest.approx(reference.state.window)
    reference.state.volume.image.close()
    centre = nib.load(gz_path).get_fdata()[state.cursor_ijk]
    qtbot.waitUntil(lambda: f"value {centre:.6g}" in window.readout.text())
    assert len(histogram.getData()[0]) > 0


def test_a_window_set_while_the_sample_is_read_is_kept(
    qtbot, window, controller, gz_path, held_pass
):
    controller.settings.setValue(CHOICE_KEY, "never")
    assert window.open_paths([gz_path]) == []
    window.state.set_window(10.0, 20.0)
    held_pass.set()
    qtbot.waitUntil(lambda: window.session.provisional_window is None, timeout=10000)
    assert window.state.window == (10.0, 20.0)


def test_a_stream_that_fails_before_the_sample_ends_the_wait_with_an_error(
    qtbot, window, controller, gz_path, tmp_path
):
    """Cut inside the centre plane: the views report the file, the window stays usable."""
    controller.settings.setValue(CHOICE_KEY, "never")
    whole = gz_path.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 5])
    assert window.open_paths([cut]) == []
    qtbot.waitUntil(lambda: window.session.provisional_window is None, timeout=10000)
    qtbot.waitUntil(lambda: window.error_dialog is not None, timeout=10000)
    assert "cut.nii.gz" in window.error_dialog.text()
    qtbot.waitUntil(lambda: "value unreadable" in window.readout.text(), timeout=10000)


def test_the_index_build_waits_for_the_views_first_planes(
    qtbot, window, controller, gz_path, held_pass, monkeypatch
):
    """Two readers of one stream would each decompress it: the build starts after the
    views' pass, and then finds the stream already read to its end."""
    controller.settings.setValue(CHOICE_KEY, "never")
    started = []
    real = gzip_controller.build_index
    monkeypatch.setattr(
        gzip_controller,
        "build_index",
        lambda proxy, *args: started.append(proxy.stream.frontier) or real(proxy, *args),
    )
    assert window.open_paths([gz_path]) == []
    views = window.ortho_view.views.values()
    qtbot.waitUntil(lambda: all(v.reading_label.isVisible() for v in views))
    assert controller.task is None and started == []
    held_pass.set()
    qtbot.waitUntil(lambda: started != [], timeout=10000)
    qtbot.waitUntil(lambda: controller.task is None, timeout=10000)
    proxy = gzip_proxy(window.state.volume.image.proxy)
    assert started[0] >= proxy.stored_bytes  # the views' pass read (and indexed) it all
    assert window.access_label.text() == "NIfTI-1, gzip-indexed"
