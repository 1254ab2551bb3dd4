"""Fixtures for GUI tests: small images on disk and a state/session/window to drive."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from volview.core.state import ViewerState
from volview.session import Session

#: voxel axis orders named by where each axis points (nibabel orientation codes)
ORIENTATIONS = {"RAS": "RAS", "LAS": "LAS", "LPI": "LPI"}


def affine_for(code: str, zooms=(1.0, 2.0, 3.0)) -> np.ndarray:
    """A diagonal affine whose voxel axes point the way ``code`` says (e.g. "LPI")."""
    signs = [1 if c in "RAS" else -1 for c in code]
    return np.diag([*(s * z for s, z in zip(signs, zooms, strict=True)), 1.0])


def write_image(path, data, affine=None, **header_fields) -> str:
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    for name, value in header_fields.items():
        img.header[name] = value
    img.to_filename(str(path))
    return str(path)


def open_and_wait(qtbot, window, *paths) -> None:
    """Open through the window and wait until every view has read its planes.

    Views read once they are shown at their final size (the first image shows the
    views, so their first read comes from the event loop).
    """
    assert window.open_paths(paths) == []
    views = window.ortho_view.views.values()
    qtbot.waitUntil(lambda: all(view.has_planes() for view in views), timeout=5000)


@pytest.fixture
def ramp_image(tmp_path):
    """A 20x16x12 float32 RAS image where each voxel's value encodes its index."""
    i, j, k = np.meshgrid(np.arange(20), np.arange(16), np.arange(12), indexing="ij")
    data = (i * 10000 + j * 100 + k).astype(np.float32)
    return write_image(tmp_path / "ramp.nii", data, affine_for("RAS"))


@pytest.fixture
def state():
    return ViewerState()


@pytest.fixture
def session(state):
    return Session(state)


@pytest.fixture
def settings(tmp_path):
    from volview.qt.compat import QtCore

    return QtCore.QSettings(str(tmp_path / "volview.ini"), QtCore.QSettings.IniFormat)


@pytest.fixture
def window(qtbot, state, session, settings):
    from volview.qt.compat import QtWidgets
    from volview.qt.main_window import MainWindow

    win = MainWindow(state, session, settings=settings)
    qtbot.addWidget(win)
    win.resize(1200, 500)
    win.show()
    qtbot.waitExposed(win)
    # pytest-qt closes the window at teardown: unsaved voxel edits must not wait on a
    # modal question then (tests of the question set their own ``ask``; tests that
    # leave header edits set ``window.header.ask``)
    win.edits.ask = lambda *_args: QtWidgets.QMessageBox.Discard
    return win
