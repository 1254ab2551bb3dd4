"""Composition root: QApplication, ViewerState, Session and MainWindow.

Owns: ``run(options) -> exit code`` for the interactive window and for headless
``--screenshot`` rendering (which picks the offscreen Qt platform by itself when
there is no display). Errors opening files: a dialog in the window; on stderr with
exit code 1 in screenshot mode.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

from volview.core.state import ViewerState
from volview.session import LaunchOptions, Session

#: how often a headless render checks whether the views have their planes
PLANES_POLL_MS = 20

EXIT_OK, EXIT_ERROR = 0, 1


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def choose_platform(headless: bool) -> None:
    """Use the offscreen platform for headless runs when no display is available."""
    if headless and not has_display() and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def make_application(headless: bool = False):
    """The QApplication; headless renders use exact pixels (no high-DPI scaling)."""
    from volview.qt.compat import QtCore, QtGui, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        if not headless:
            QtWidgets.QApplication.setAttribute(QtCore.Qt.AA_EnableHighDpiScaling)
            QtWidgets.QApplication.setAttribute(QtCore.Qt.AA_UseHighDpiPixmaps)
        app = QtWidgets.QApplication([sys.argv[0], "-name", "volview"])
    app.setApplicationName("volview")
    app.setWindowIcon(application_icon())
    QtGui.QGuiApplication.setDesktopFileName("volview")  # Wayland: match volview.desktop
    return app


def application_icon():
    """The volview icon: the SVG, plus each rendered PNG size."""
    from volview.qt.compat import QtCore, QtGui
    from volview.resources import ICON_SIZES, icon_path

    icon = QtGui.QIcon(str(icon_path()))
    for size in ICON_SIZES:
        icon.addFile(str(icon_path(size)), QtCore.QSize(size, size))
    return icon


def run(options: LaunchOptions) -> int:
    headless = options.screenshot is not None
    choose_platform(headless)
    if not headless and not has_display() and os.environ.get("QT_QPA_PLATFORM") is None:
        print(
            "volview: no display found (DISPLAY is not set); "
            "use --screenshot OUT.png to render without one",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if headless:
        quiet_offscreen_messages()
    app = make_application(headless)
    state = ViewerState()
    session = Session(state)
    if headless:
        return render_screenshot(app, state, session, options)
    from volview.qt.main_window import MainWindow

    window = MainWindow(state, session, options.layout)
    install_error_hook(window)
    window.show()
    if options.paths:
        window.open_paths(options.paths, raw=options.raw)
        _apply_view_options(window, options)
    return app.exec_()


def _apply_view_options(window, options: LaunchOptions) -> None:
    try:
        options.apply_view_options(window.state)
    except ValueError as exc:
        window.show_error_text(str(exc))


def install_error_hook(window) -> None:
    """Report an unexpected exception in a dialog instead of letting PyQt abort."""

    def hook(exc_type, exc, tb) -> None:
        traceback.print_exception(exc_type, exc, tb)
        window.show_error_text(
            f"Unexpected error: {exc_type.__name__}: {exc}\n\nDetails were printed to the "
            "terminal; please report them.",
            title="volview: unexpected error",
        )

    sys.excepthook = hook


def quiet_offscreen_messages() -> None:
    """Drop the offscreen platform's harmless warnings from headless runs."""
    from volview.qt.compat import QtCore

    harmless = ("propagateSizeHints", "XDG_RUNTIME_DIR")

    def handler(_mode, _context, message: str) -> None:
        if not any(word in message for word in harmless):
            print(message, file=sys.stderr)

    QtCore.qInstallMessageHandler(handler)


def wait_for_planes(app, view, timeout_s: float = 3600.0) -> None:
    """Run the event loop until every shown view has its planes (a gzip file's are
    read in the background, and arrive as queued signals), or ``timeout_s`` passes.

    The loop sleeps between checks: ``processEvents`` with a time limit polls, and a
    polling main thread halves the speed of the decompressing threads on two cores.
    """
    from volview.qt.compat import QtCore

    shown = [v for v in view.views.values() if v.isVisible()]
    loop = QtCore.QEventLoop()
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        if all(v.has_planes() for v in shown) or time.monotonic() >= deadline:
            loop.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(check)
    timer.start(PLANES_POLL_MS)
    if not all(v.has_planes() for v in shown):
        loop.exec_()
    timer.stop()


def render_screenshot(app, state: ViewerState, session: Session, options: LaunchOptions) -> int:
    """Render the views of ``options.paths`` to ``options.screenshot`` (a PNG)."""
    from volview.qt.export import render_widget
    from volview.qt.ortho_view import OrthoView

    errors = session.open_paths(options.paths, raw=options.raw)
    for error in errors:
        print(f"volview: {error}", file=sys.stderr)
    if errors or state.volume is None:
        return EXIT_ERROR
    try:
        options.apply_view_options(state)
    except ValueError as exc:
        print(f"volview: {exc}", file=sys.stderr)
        return EXIT_ERROR
    view = OrthoView(state, options.layout, show_histogram=False)
    view.resize(*options.size)
    view.show()
    app.processEvents()
    view.reset_views()
    app.processEvents()
    wait_for_planes(app, view)
    for slice_view in view.views.values():
        slice_view.tract_overlay.redraw()
    image = render_widget(view.views_panel)
    if not image.save(str(options.screenshot), "PNG"):
        print(f"volview: could not write the screenshot {options.screenshot}", file=sys.stderr)
        return EXIT_ERROR
    view.close()
    return EXIT_OK
