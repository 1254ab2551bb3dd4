"""``volview.orthoview``: open the viewer from Python, on data a script already holds.

Owns: ``orthoview(data, ...) -> MainWindow``, the lazy Qt counterpart of nibabel's
``img.orthoview()``. ``data`` is a nibabel image (its voxels read plane by plane
through ``img.dataobj``, never ``get_fdata()``), a numpy array with an optional
affine, or a path opened like the command line opens it.

Blocking: from a script, ``orthoview`` runs the Qt event loop until its window is
closed. In IPython after ``%gui qt``, or inside a running Qt event loop, it returns
the window at once and the window stays open (it is kept alive here until closed).
Errors in the data raise (a ``VolviewError`` for data volview cannot show, a
``TypeError``/``ValueError`` for wrong arguments) before any window appears.
Qt is imported when ``orthoview`` is called, not when this module is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from nibabel import is_proxy
from nibabel.spatialimages import SpatialImage

from volview.core.state import ViewerState
from volview.errors import FileAccessError, UnsupportedFormatError, describe
from volview.io.images import ImageFile
from volview.io.in_memory import image_from_array, image_from_nibabel
from volview.io.tractogram import is_tractogram_path
from volview.session import Session, path_from_argument

#: what must outlive a call, as PyQt deletes the Qt objects nobody refers to: the
#: QApplication created here, and the windows shown without blocking until they close
_created_app = None
_open_windows: list = []


def orthoview(
    data,
    affine=None,
    *,
    overlays: Iterable = (),
    tracts: Iterable = (),
    block: bool | None = None,
    title: str | None = None,
):
    """Show ``data`` in three linked orthogonal views; return the window.

    Parameters
    ----------
    data : nibabel image, numpy array or path
        A nibabel image is read lazily through ``img.dataobj`` (an unmodified image
        of a file is opened from the file, memory-mapped); an array (2-D to 4-D) is
        shown without a copy; a path (``str`` or ``os.PathLike``) is opened like
        ``volview PATH``.
    affine : (4, 4) array, optional
        Voxel-to-world (RAS+ mm) transform of an array. Without it the voxel axes are
        shown as they are, orientation unknown. Not allowed with images and paths,
        which carry their own.
    overlays : iterable of paths
        Images drawn over ``data`` (needs ``Session.add_overlay``; file paths only).
    tracts : iterable of paths
        ``.trx``/``.tck``/``.trk`` tractograms drawn over the slices, opened in the
        background like File > Open does.
    block : bool, optional
        Run the event loop until the window is closed. Default: block unless IPython
        runs a Qt event loop (``%gui qt``) or a Qt event loop is already running.
    title : str, optional
        Window title (and the name of in-memory data).

    Returns
    -------
    MainWindow
        Drive it from code, e.g. ``win.state.set_cursor((i, j, k))``.
    """
    overlays = _as_paths(overlays, "overlays")
    tracts = [_tractogram_path(path) for path in _as_paths(tracts, "tracts")]
    if overlays and not hasattr(Session, "add_overlay"):
        raise ValueError("overlays are not supported yet")
    _ensure_application()
    image = _image_from_data(data, affine, title)  # before any window: bad data raise here
    window = _new_window(title)
    try:
        _show_data(window.session, data if image is None else image)
        for path in overlays:
            window.session.add_overlay(path)
    except BaseException:
        window.close()
        window.deleteLater()
        raise
    window.show()
    if tracts:
        window.open_paths(tracts)
    if _should_block(block):
        _run_until_closed(window)
    else:
        _keep_open(window)
    return window


# -- data ---------------------------------------------------------------------------
def _image_from_data(data, affine, name: str | None) -> ImageFile | None:
    """The ImageFile of in-memory data; None for a path (the session opens it)."""
    is_path = isinstance(data, str | os.PathLike)
    if affine is not None and (is_path or isinstance(data, SpatialImage)):
        raise TypeError("affine is only used with an array; images and files carry their own")
    if is_path:
        return None
    if isinstance(data, SpatialImage):
        return image_from_nibabel(data, name)
    if isinstance(data, np.ndarray) or is_proxy(data):
        return image_from_array(data, affine, name)
    raise TypeError(
        f"orthoview shows a nibabel image, a numpy array or a file path, not {type(data).__name__}"
    )


def _as_paths(paths, what: str) -> list[Path]:
    """``paths`` (one path or an iterable of them) as a list of local paths."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    result = []
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"{what} takes file paths, not {type(path).__name__}")
        result.append(path_from_argument(path))
    return result


def _tractogram_path(path: Path) -> Path:
    if not path.exists():
        raise FileAccessError(describe(path, "file not found"))
    if not is_tractogram_path(path):
        raise UnsupportedFormatError(
            describe(path, "not a tractogram; tracts takes .trx, .tck and .trk files")
        )
    return path


def _show_data(session: Session, data: ImageFile | str | os.PathLike) -> None:
    """Show an in-memory image, or open a path; raise the first error."""
    if isinstance(data, ImageFile):
        session.show_image(data)
        return
    errors = session.open_paths([data])
    if errors:
        raise errors[0]


# -- Qt -----------------------------------------------------------------------------
def _ensure_application() -> None:
    """Use the running QApplication, or create one (refused on Linux without a display)."""
    from volview.app import has_display, make_application
    from volview.qt.compat import QtWidgets

    if QtWidgets.QApplication.instance() is not None:
        return
    headless = "QT_QPA_PLATFORM" in os.environ or sys.platform in ("darwin", "win32")
    if not (headless or has_display()):
        raise RuntimeError(
            "volview.orthoview needs a display (DISPLAY is not set); "
            "set QT_QPA_PLATFORM=offscreen to run without one"
        )
    global _created_app
    _created_app = make_application()


def _new_window(title: str | None):
    from volview.qt.main_window import MainWindow

    state = ViewerState()
    window = MainWindow(state, Session(state))
    if title is not None:
        # after the window's own handler, which names the window after the data
        state.volume_changed.connect(lambda _volume: window.setWindowTitle(f"{title}[*] — volview"))
    return window


def _should_block(block: bool | None) -> bool:
    if block is not None:
        return bool(block)
    return not (_ipython_runs_qt() or _qt_loop_running())


def _ipython_runs_qt() -> bool:
    """True in IPython with Qt event loop integration (``%gui qt``, ``%gui qt5``)."""
    ipython = sys.modules.get("IPython")  # never imported here: only if already in use
    shell = ipython.get_ipython() if ipython is not None else None
    loop = getattr(shell, "active_eventloop", None) or ""
    return loop.startswith("qt")


def _qt_loop_running() -> bool:
    from volview.qt.compat import QtCore

    return QtCore.QThread.currentThread().loopLevel() > 0


def _run_until_closed(window) -> None:
    """Run an event loop until ``window`` is closed; errors in it go to a dialog."""
    from volview.app import install_error_hook
    from volview.qt.compat import QtCore

    loop = QtCore.QEventLoop()
    handle = window.windowHandle()

    def quit_when_hidden(visible: bool) -> None:
        if not visible:
            loop.quit()

    handle.visibleChanged.connect(quit_when_hidden)
    previous_hook = sys.excepthook
    install_error_hook(window)
    try:
        if window.isVisible():
            loop.exec_()
    finally:
        sys.excepthook = previous_hook
        handle.visibleChanged.disconnect(quit_when_hidden)


def _keep_open(window) -> None:
    """Keep ``window`` alive while it is open; forget the windows closed since."""
    _open_windows[:] = [w for w in _open_windows if _still_open(w)]
    _open_windows.append(window)


def _still_open(window) -> bool:
    try:
        return window.isVisible()
    except RuntimeError:  # its Qt object was deleted since (by whoever closed it)
        return False
