"""volview.orthoview: arrays, nibabel images and paths shown from Python; blocking or not."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import types
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.arrayproxy import ArrayProxy as NibabelArrayProxy

import volview
from tests.factories import random_data, write_nifti
from tests.trx_factories import TrxData, trx_entries, write_zip
from volview.errors import FileAccessError, UnsupportedFormatError
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.main_window import MainWindow
from volview.session import Session

AFFINE = np.array(
    [[-2.0, 0, 0, 40.0], [0, 1.5, 0, -30.0], [0, 0, 1.0, 12.0], [0, 0, 0, 1]], dtype=np.float64
)
SHAPE = (30, 40, 24)


@pytest.fixture
def show(qtbot):
    """``volview.orthoview`` whose windows are closed after the test."""

    def call(*args, **kwargs):
        window = volview.orthoview(*args, **kwargs)
        qtbot.addWidget(window)
        return window

    return call


def wait_painted(qtbot, window) -> None:
    views = window.ortho_view.views.values()
    qtbot.waitUntil(lambda: all(view.has_planes() for view in views), timeout=5000)


def main_windows() -> list[MainWindow]:
    widgets = QtWidgets.QApplication.topLevelWidgets()
    return [w for w in widgets if isinstance(w, MainWindow) and w.isVisible()]


def close_main_windows() -> None:
    for window in main_windows():
        window.close()


@contextlib.contextmanager
def closing_windows_after(ms: int):
    """Close the windows after ``ms`` unless the block ends first (a call that blocks by
    mistake then returns, and the test fails instead of hanging)."""
    timer = QtCore.QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(close_main_windows)
    timer.start(ms)
    try:
        yield
    finally:
        timer.stop()


@pytest.fixture
def nifti(tmp_path) -> Path:
    return write_nifti(tmp_path / "brain.nii", random_data(SHAPE, "int16"), AFFINE)


def test_array_with_affine(qtbot, show):
    data = random_data((12, 10, 8, 3), "float32")
    window = show(data, AFFINE, block=False)
    assert window.isVisible()
    volume = window.state.volume
    assert volume.shape == (12, 10, 8) and volume.n_volumes == 3
    np.testing.assert_array_equal(volume.image.affine, AFFINE)
    assert volume.value((3, 4, 5), 2) == pytest.approx(float(data[3, 4, 5, 2]))
    assert window.windowTitle().startswith("array")
    wait_painted(qtbot, window)


def test_nibabel_image_is_never_loaded_whole(qtbot, show, tmp_path, monkeypatch):
    """The acceptance test of issue 5: no get_fdata() on a proxy image."""
    data = random_data(SHAPE, "int16")
    path = write_nifti(tmp_path / "edited.nii.gz", data, np.eye(4), slope_inter=(2.0, 1.0))
    img = nib.load(path)
    img.set_sform(AFFINE, code=1)  # an edit in memory: read through img.dataobj

    def refuse(*_args, **_kwargs):
        raise AssertionError("the whole image was loaded")

    monkeypatch.setattr(nib.dataobj_images.DataobjImage, "get_fdata", refuse)
    monkeypatch.setattr(NibabelArrayProxy, "__array__", refuse)
    monkeypatch.setattr(NibabelArrayProxy, "get_unscaled", refuse)
    window = show(img, block=False)
    wait_painted(qtbot, window)
    window.state.set_cursor((7, 9, 11))
    volume = window.state.volume
    np.testing.assert_array_equal(volume.image.affine, AFFINE)
    assert volume.value((7, 9, 11)) == pytest.approx(2.0 * data[7, 9, 11] + 1.0)
    assert window.windowTitle().startswith("edited.nii.gz")


def test_unmodified_nibabel_image_is_opened_from_its_file(show, nifti):
    window = show(nib.load(nifti), block=False)
    assert window.state.volume.image.path == nifti
    assert window.state.volume.image.proxy.access == "memory-mapped"


@pytest.mark.parametrize("as_type", [str, Path])
def test_path(show, nifti, as_type):
    window = show(as_type(nifti), block=False)
    assert window.state.volume.image.path == nifti
    assert window.state.volume.shape == SHAPE


def test_tracts_are_opened_over_the_image(qtbot, show, nifti, tmp_path):
    line = np.array([[i, 20, 12, 1] for i in range(5, 25)], dtype=np.float64)
    trx = TrxData([(line @ AFFINE.T)[:, :3]], affine=AFFINE, dimensions=SHAPE)
    path = write_zip(tmp_path / "line.trx", trx_entries(trx))
    window = show(nifti, tracts=[path], block=False)
    qtbot.waitUntil(lambda: not window.tracts.is_busy(), timeout=10000)
    assert [layer.name for layer in window.state.tracts] == ["line.trx"]
    qtbot.waitUntil(lambda: window.state.tracts[0].index is not None, timeout=10000)


def test_title_stays_when_the_volume_changes(show):
    window = show(np.zeros((4, 4, 4)), block=False, title="subject 7")
    assert window.windowTitle() == "subject 7[*] \u2014 volview"
    window.radiological_action.toggle()  # re-emits volume_changed
    assert window.windowTitle() == "subject 7[*] \u2014 volview"
    assert window.state.volume.name == "subject 7"


def test_block_true_returns_when_the_window_is_closed(qtbot):
    hook = sys.excepthook
    with closing_windows_after(0):  # fires inside the call's event loop
        window = volview.orthoview(np.ones((5, 5, 5), np.float32), block=True)
    qtbot.addWidget(window)
    assert not window.isVisible()
    assert window.state.volume.shape == (5, 5, 5)
    assert sys.excepthook is hook  # the error dialog hook only lasts while blocking


@pytest.mark.parametrize(("loop", "blocks"), [("qt", False), ("qt5", False), ("tk", True)])
def test_block_none_follows_ipython_gui_integration(qtbot, monkeypatch, loop, blocks):
    shell = types.SimpleNamespace(active_eventloop=loop)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    with closing_windows_after(200):
        window = volview.orthoview(np.ones((5, 5, 5), np.float32))
    qtbot.addWidget(window)
    assert window.isVisible() is not blocks


def test_block_none_inside_a_running_event_loop_returns_at_once(qtbot):
    windows = []
    QtCore.QTimer.singleShot(0, lambda: windows.append(volview.orthoview(np.ones((5, 5, 5)))))
    with closing_windows_after(1000):
        qtbot.waitUntil(lambda: bool(windows), timeout=3000)
    qtbot.addWidget(windows[0])
    assert windows[0].isVisible()


def test_errors_raise_before_any_window_opens(qtbot, nifti, tmp_path):
    cases = [
        ((tmp_path / "missing.nii",), {}, FileAccessError, "missing.nii: file not found"),
        ((np.zeros((3, 3, 3), bool),), {}, UnsupportedFormatError, "boolean data"),
        ((nifti,), {"tracts": [nifti]}, UnsupportedFormatError, "not a tractogram"),
        ((nifti,), {"tracts": tmp_path / "gone.trx"}, FileAccessError, "gone.trx: file not"),
        ((nib.load(nifti), AFFINE), {}, TypeError, "affine is only used with an array"),
        ((str(nifti), AFFINE), {}, TypeError, "affine is only used with an array"),
        (([1, 2, 3],), {}, TypeError, "a nibabel image, a numpy array or a file path, not list"),
        ((nifti,), {"overlays": [np.zeros((3, 3, 3))]}, TypeError, "overlays takes file paths"),
    ]
    before = len(main_windows())
    for args, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            volview.orthoview(*args, block=False, **kwargs)
    assert len(main_windows()) == before


def test_overlays_need_session_support(nifti, monkeypatch):
    monkeypatch.delattr(Session, "add_overlay", raising=False)
    with pytest.raises(ValueError, match=r"^overlays are not supported yet$"):
        volview.orthoview(nifti, overlays=[nifti], block=False)


@pytest.mark.skipif(not hasattr(Session, "add_overlay"), reason="image layers not built yet")
def test_overlay_paths(show, nifti, tmp_path):
    overlay = write_nifti(tmp_path / "stat.nii", random_data(SHAPE, "float32"), AFFINE)
    window = show(nifti, overlays=[overlay], block=False)
    assert window.state.volume.image.path == nifti
    assert len(window.state.overlays) == 1


def run_python(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_changes}
    for name in [k for k, v in env_changes.items() if v is None]:
        env.pop(name)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def test_orthoview_attribute_does_not_import_qt():
    code = (
        "import sys, volview\n"
        "assert callable(volview.orthoview) and 'orthoview' in dir(volview)\n"
        "print(sorted(m for m in ('PyQt5', 'pyqtgraph') if m in sys.modules))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'volview' has no attribute 'nope'"):
        volview.nope  # noqa: B018


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is an X11/Wayland idea")
def test_no_display_is_a_clear_error():
    code = "import numpy, volview\nvolview.orthoview(numpy.zeros((3, 3, 3)))\n"
    result = run_python(code, DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None)
    assert result.returncode != 0
    assert "RuntimeError: volview.orthoview needs a display (DISPLAY is not set)" in result.stderr


def test_in_memory_data_never_reads_a_header_from_a_file_of_that_name(
    qtbot, show, tmp_path, monkeypatch
):
    """A file called like the data's name in the working folder is not its header."""
    monkeypatch.chdir(tmp_path)
    write_nifti(tmp_path / "array", random_data(SHAPE, "int16"), AFFINE)
    labels = np.zeros((12, 10, 8), np.int16)
    labels[2:5] = 3
    window = show(labels, AFFINE, block=False)
    assert window.header.document is None
    assert "given in memory" in window.header.panel.file_label.text()
    assert window.state.volume.image.stored_kind == "i"


def test_time_step_of_a_nibabel_image_in_memory(show):
    img = nib.Nifti1Image(random_data((6, 5, 4, 3), "float32"), AFFINE)
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = 1500.0
    window = show(img, block=False)
    assert window.state.volume.image.time_step == (1.5, "msec")  # in seconds, from ms
