"""TractController: opening tractograms and indexing them without freezing the window.

Owns: the "Tractograms" dock (View > Tractograms, Ctrl+Shift+T), opening
``.trx/.tck/.trk`` files in the background (a deflated TRX is extracted behind a
progress dialog with Cancel), and building each layer's spatial index in the
background — one at a time, shown as a progress bar with a Cancel button in the
status bar — whenever a layer is added or the image grid it is drawn on changes.
A cancelled index hides its layer; ticking the layer again rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

from volview.core.streamline_index import BuildCancelled
from volview.core.tracts import TractLayer
from volview.errors import OpenCancelled
from volview.io.tractogram import open_tractogram
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.docks import add_dock
from volview.qt.tasks import STEPS, BackgroundTask, error_text, run_with_progress
from volview.qt.tract_panel import TractPanel

Qt = QtCore.Qt


class TractController(QtCore.QObject):
    def __init__(self, window: QtWidgets.QMainWindow, state, session) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.session = session
        session.index_in_foreground = False  # indexes are built here, in the background
        self.panel = TractPanel(state)
        self.panel.remove_requested.connect(self.remove)
        self.dock, self.toggle_action = add_dock(
            window,
            self.panel,
            title="Tractograms",
            name="tract_dock",
            menu_text="&Tractograms",
            shortcut="Ctrl+Shift+T",
            tip="Show or hide the tractogram panel",
        )
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, STEPS)
        self.progress.setMaximumWidth(160)
        self.cancel_button = QtWidgets.QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop indexing this tractogram (it is hidden until ticked)")
        self.cancel_button.clicked.connect(self.cancel_index)
        self.status = QtWidgets.QLabel()
        for widget in (self.status, self.progress, self.cancel_button):
            window.statusBar().addPermanentWidget(widget)
            widget.hide()
        self.index_task: BackgroundTask | None = None
        self.indexing: TractLayer | None = None
        self.open_tasks: list[BackgroundTask] = []
        self._watched: list[TractLayer] = []
        state.tracts_changed.connect(self._on_tracts_changed)
        state.volume_changed.connect(lambda _volume: self.ensure_indexes())

    # -- opening ---------------------------------------------------------------------
    def open_tractograms(self, paths: list[Path]) -> None:
        """Open each tractogram in the background; errors go to a dialog."""
        for path in paths:
            self._open_one(Path(path))

    def _open_one(self, path: Path) -> None:
        def work(progress, cancelled):
            return open_tractogram(path, progress=progress, cancelled=cancelled)

        task = run_with_progress(
            self.window,
            f"Opening {path.name}\u2026",
            work,
            on_done=lambda tractogram: self._opened(task, tractogram),
            on_error=lambda exc: self._open_failed(task, exc),
            on_cancel=lambda: self._forget(task),
            cancel_types=(OpenCancelled,),
        )
        self.open_tasks.append(task)

    def _opened(self, task, tractogram) -> None:
        self._forget(task)
        self.session.add_tractogram(tractogram)
        self.dock.show()
        self.dock.raise_()

    def _open_failed(self, task, exc) -> None:
        self._forget(task)
        self.window.show_error_text(error_text(exc))

    def _forget(self, task) -> None:
        if task in self.open_tasks:
            self.open_tasks.remove(task)

    def is_busy(self) -> bool:
        """True while a tractogram is being opened or indexed."""
        return bool(self.open_tasks) or self.index_task is not None

    # -- indexing --------------------------------------------------------------------
    def _on_tracts_changed(self) -> None:
        for layer in self._watched:
            layer.changed.disconnect(self.ensure_indexes)
        self._watched = list(self.state.tracts)
        for layer in self._watched:
            layer.changed.connect(self.ensure_indexes)
        if self.indexing is not None and self.indexing not in self.state.tracts:
            self.cancel_index()
        self.ensure_indexes()

    def ensure_indexes(self) -> None:
        """Start indexing the next visible layer whose index is missing or stale.

        An index built for another grid (another image, or an edited affine) is
        dropped at once: until the new one is ready the layer draws nothing rather
        than streamlines in the wrong place. An index that lacks streamlines a raised
        cap shows is kept, drawing what it has, until the larger one is ready.
        """
        grid = self.session.index_grid()
        for layer in self.state.tracts:
            if layer.index is not None and layer.grid != grid:
                layer.set_index(None)
        if self.index_task is not None or grid is None:
            return
        todo = [t for t in self.state.tracts if t.visible and t.needs_index(grid)]
        if todo:
            self._start_index(todo[0])

    def _start_index(self, layer: TractLayer) -> None:
        volume, wanted = self.state.volume, layer.index_wanted()

        def work(progress, cancelled):
            return self.session.build_index(layer, volume, wanted, progress, cancelled)

        self.indexing = layer
        task = BackgroundTask(work, lambda exc: isinstance(exc, BuildCancelled), self)
        task.progressed.connect(self.progress.setValue)
        task.finished_with.connect(lambda result: self._indexed(layer, result))
        task.failed.connect(lambda exc: self._index_failed(layer, exc))
        task.was_cancelled.connect(lambda: self._index_cancelled(layer))
        self.index_task = task
        self.status.setText(f"Indexing {layer.name}")
        self.progress.setValue(0)
        for widget in (self.status, self.progress, self.cancel_button):
            widget.show()
        self.panel.set_note(layer, "indexing\u2026 (streamlines appear when it is done)")
        task.start()

    def _finish_index_task(self) -> None:
        if self.index_task is not None:
            self.index_task.wait()
        self.index_task = None
        self.indexing = None
        for widget in (self.status, self.progress, self.cancel_button):
            widget.hide()

    def _indexed(self, layer: TractLayer, result) -> None:
        self._finish_index_task()
        index, note, grid = result
        if layer in self.state.tracts and grid == self.session.index_grid():
            layer.set_index(index, note, grid)
            self.panel.set_note(layer)
        self.ensure_indexes()  # the next layer, or this one again if the grid moved on

    def _index_failed(self, layer: TractLayer, exc) -> None:
        self._finish_index_task()
        layer.set_visible(False)
        self.window.show_error_text(error_text(exc), "volview: could not index the tractogram")

    def _index_cancelled(self, layer: TractLayer) -> None:
        self._finish_index_task()
        if layer in self.state.tracts:
            layer.set_visible(False)
            self.panel.refresh_layers()
            self.panel.set_note(layer, "indexing cancelled; tick the tractogram to index it")
        self.ensure_indexes()

    def cancel_index(self) -> None:
        if self.index_task is not None:
            self.index_task.cancel()

    def remove(self, layer: TractLayer | None) -> None:
        if layer is None:
            return
        if layer is self.indexing:
            self.cancel_index()
            self.index_task.wait()
        self.state.remove_tracts(layer)

    def shutdown(self) -> None:
        """Stop background work (the window is closing)."""
        self.cancel_index()
        if self.index_task is not None:
            self.index_task.wait()
        for task in list(self.open_tasks):
            task.cancel()
            task.wait()
