"""DataController: the Image menu's whole-image actions, each run in the background.

Owns: the actions "Load into memory" / "Release memory" (the shown image swapped for
its in-RAM copy and back through ``ViewerState.replace_volume``: cursor, window and
volume index stay), "Data range", "Bounding box of non-zero voxels" and "Full
histogram" (chunked scans from ``volview.core.scans``), their progress dialogs with
Cancel (``run_with_progress``) and the result dialogs (the histogram as a pyqtgraph
plot). ``start_range_scan`` is also what the header editor's "cal_min/cal_max from
data" uses. Scans read around the plane cache so that they do not evict the planes
on screen.

Coordinate space: voxel indices ``ijk`` (bounding box) and scaled data values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from volview.core import scans
from volview.core.memory_load import (
    bytes_needed,
    check_fits,
    format_bytes,
    load_all,
    loaded_proxy,
    released,
    with_image,
)
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.io.uncached import uncached
from volview.qt.compat import QtCore, QtWidgets, pg
from volview.qt.tasks import BackgroundTask, error_text, run_with_progress

Qt = QtCore.Qt
HISTOGRAM_BINS = 256
STATUS_MS = 5000


def volumes_words(volume) -> str:
    n = volume.n_volumes
    return "" if n == 1 else f" (all {n} volumes)"


def start_range_scan(
    parent: QtWidgets.QWidget,
    volume,
    on_done: Callable[[tuple[float, float] | None], None],
    on_end: Callable[[], None] = lambda: None,
) -> BackgroundTask:
    """Scan the finite data range of ``volume`` in the background (progress, Cancel).

    ``on_done(range or None)`` gets the result; ``on_end()`` runs however the scan
    ended (done, failed, cancelled). Errors are shown in a dialog.
    """
    proxy = uncached(volume.image.proxy)

    def failed(exc: BaseException) -> None:
        on_end()
        show_message(parent, "volview: scan failed", error_text(exc), QtWidgets.QMessageBox.Warning)

    def done(result) -> None:
        on_end()
        on_done(result)

    return run_with_progress(
        parent,
        f"Finding the data range of {volume.name}\u2026",
        lambda progress, cancelled: scans.data_range(proxy, progress, cancelled),
        on_done=done,
        on_error=failed,
        on_cancel=on_end,
        cancel_types=(scans.ScanCancelled,),
    )


def show_message(parent, title: str, text: str, icon=QtWidgets.QMessageBox.Information):
    """A window-modal message box that does not block the event loop."""
    box = QtWidgets.QMessageBox(icon, title, text, QtWidgets.QMessageBox.Ok, parent)
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextSelectableByMouse)
    box.open()
    return box


class HistogramDialog(QtWidgets.QDialog):
    """The histogram of every voxel of an image: counts per bin, log scale optional."""

    def __init__(self, title: str, counts: np.ndarray, edges: np.ndarray, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.counts, self.edges = counts, edges
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "value")
        self.plot.setLabel("left", "voxels")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.curve = self.plot.plot(
            edges, counts, stepMode="center", fillLevel=0, brush=(60, 110, 200, 160)
        )
        self.log_box = QtWidgets.QCheckBox("Logarithmic counts")
        self.log_box.setToolTip("Show the number of voxels per bin on a log scale")
        self.log_box.toggled.connect(self._set_log)
        total = int(counts.sum())
        summary = QtWidgets.QLabel(
            f"{total:,} finite values in {len(counts)} bins from {edges[0]:.6g} to {edges[-1]:.6g}"
        )
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.plot, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(summary, 1)
        row.addWidget(self.log_box)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(640, 420)

    def _set_log(self, on: bool) -> None:
        # log10(0) is undefined: empty bins sit at 0.1 voxels, below every filled one
        counts = np.maximum(self.counts, 0.1) if on else self.counts
        self.curve.setData(self.edges, counts, stepMode="center", fillLevel=0.1 if on else 0)
        self.plot.setLogMode(y=on)


class DataController(QtCore.QObject):
    def __init__(self, window: QtWidgets.QMainWindow, state: ViewerState, session) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.session = session
        self.task: BackgroundTask | None = None
        self.result_dialog: QtWidgets.QWidget | None = None
        self.load_action = self._action(
            "&Load into memory", self.load_into_memory, "Read every voxel into RAM"
        )
        self.release_action = self._action(
            "&Release memory", self.release_memory, "Read the image from its file again"
        )
        self.range_action = self._action(
            "Data &range\u2026", self.scan_range, "Smallest and largest value of the whole image"
        )
        self.bbox_action = self._action(
            "&Bounding box of non-zero voxels\u2026",
            self.scan_bbox,
            "The voxel ranges that hold every non-zero voxel",
        )
        self.histogram_action = self._action(
            "Full &histogram\u2026", self.scan_histogram, "Histogram of every voxel of the image"
        )
        self.actions = [
            self.load_action,
            self.release_action,
            self.range_action,
            self.bbox_action,
            self.histogram_action,
        ]
        self.menu = QtWidgets.QMenu("&Image", window)
        self.fill_menu(self.menu)
        state.volume_changed.connect(lambda _volume: self._update_actions())
        self._update_actions()

    def fill_menu(self, menu: QtWidgets.QMenu) -> None:
        menu.addActions([self.load_action, self.release_action])
        menu.addSeparator()
        menu.addActions([self.range_action, self.bbox_action, self.histogram_action])

    def _action(self, text: str, slot, tip: str) -> QtWidgets.QAction:
        action = QtWidgets.QAction(text, self.window)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _update_actions(self) -> None:
        volume = self.state.volume
        idle = self.task is None and volume is not None
        in_ram = volume is not None and loaded_proxy(volume.image) is not None
        self.load_action.setEnabled(idle and not in_ram)
        self.release_action.setEnabled(idle and in_ram)
        for action in (self.range_action, self.bbox_action, self.histogram_action):
            action.setEnabled(idle)

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, STATUS_MS)

    # -- load into memory / release ------------------------------------------------------
    def load_into_memory(self) -> None:
        volume = self.state.volume
        if volume is None or self.task is not None or loaded_proxy(volume.image):
            return
        image = volume.image
        try:
            check_fits(image)
        except VolviewError as exc:
            self._show_error(exc, "volview: not enough memory")
            return
        self._start(
            f"Loading {volume.name} into memory\u2026",
            lambda progress, cancelled: load_all(image, progress, cancelled),
            lambda loaded: self._loaded(image, loaded),
            cancelled_text=f"Loading {volume.name} cancelled; it is read from the file",
        )

    def _loaded(self, image, loaded) -> None:
        volume = self.state.volume
        if volume is None or volume.image is not image:  # another image is shown now
            loaded.proxy.drop()
            return
        self.state.replace_volume(with_image(volume, loaded))
        self._status(f"{volume.name} is in RAM ({format_bytes(bytes_needed(loaded))})")

    def release_memory(self) -> None:
        volume = self.state.volume
        proxy = None if volume is None else loaded_proxy(volume.image)
        if proxy is None or self.task is not None:
            return
        self.state.replace_volume(with_image(volume, released(volume.image)))
        proxy.drop()
        self._status(f"Released the memory of {volume.name}; it is read from the file")

    # -- scans ---------------------------------------------------------------------------
    def scan_range(self) -> None:
        volume = self.state.volume
        if volume is None or self.task is not None:
            return

        def show(found) -> None:
            if found is None:
                text = f"{volume.name} has no finite values (every voxel is NaN or infinite)."
            else:
                text = (
                    f"Data range of {volume.name}{volumes_words(volume)}:\n"
                    f"minimum {found[0]:.6g}, maximum {found[1]:.6g}"
                )
            self.result_dialog = show_message(self.window, "Data range", text)

        self.task = start_range_scan(self.window, volume, show, on_end=self._ended)
        self._update_actions()

    def scan_bbox(self) -> None:
        volume = self.state.volume
        if volume is None or self.task is not None:
            return
        proxy = uncached(volume.image.proxy)

        def show(bbox) -> None:
            text = f"{volume.name}{volumes_words(volume)}:\n{scans.format_bbox(bbox)}"
            self.result_dialog = show_message(self.window, "Bounding box of non-zero voxels", text)

        self._start(
            f"Finding the non-zero voxels of {volume.name}\u2026",
            lambda progress, cancelled: scans.nonzero_bbox(proxy, progress, cancelled),
            show,
        )

    def scan_histogram(self) -> None:
        volume = self.state.volume
        if volume is None or self.task is not None:
            return
        proxy = uncached(volume.image.proxy)

        def work(progress, cancelled):
            return scans.histogram(proxy, HISTOGRAM_BINS, None, progress, cancelled)

        def show(result) -> None:
            title = f"Histogram of {volume.name}{volumes_words(volume)}"
            dialog = HistogramDialog(title, *result, parent=self.window)
            dialog.setAttribute(Qt.WA_DeleteOnClose)
            dialog.show()
            self.result_dialog = dialog

        self._start(f"Counting the values of {volume.name}\u2026", work, show)

    # -- background tasks ----------------------------------------------------------------
    def _start(self, label: str, work, on_done, cancelled_text: str = "Cancelled") -> None:
        def done(result) -> None:
            self._ended()
            on_done(result)

        def failed(exc: BaseException) -> None:
            self._ended()
            self._show_error(exc, "volview: could not finish")

        def cancelled() -> None:
            self._ended()
            self._status(cancelled_text)

        self.task = run_with_progress(
            self.window,
            label,
            work,
            on_done=done,
            on_error=failed,
            on_cancel=cancelled,
            cancel_types=(scans.ScanCancelled,),
        )
        self._update_actions()

    def _ended(self) -> None:
        self.task = None
        self._update_actions()

    def _show_error(self, exc: BaseException, title: str) -> None:
        self.window.show_error_text(error_text(exc), title)

    def wait_for_task(self) -> None:
        """Cancel a running load or scan and wait for it (used when the window closes)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
