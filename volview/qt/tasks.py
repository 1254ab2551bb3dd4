"""Background work with a progress bar and a Cancel button; the window never freezes.

Owns: ``BackgroundTask`` — runs ``work(progress, cancelled)`` in a QThread and
reports back on the GUI thread through Qt signals (``finished(result)``,
``failed(exception)``, ``cancelled()``), and ``run_with_progress`` which pairs a
task with a window-modal QProgressDialog whose Cancel sets the task's flag.
``work`` calls ``progress(done, total)`` as it goes and polls ``cancelled()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from volview.errors import VolviewError
from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt
Work = Callable[[Callable[[int, int], None], Callable[[], bool]], object]
#: resolution of the progress bar
STEPS = 1000


class BackgroundTask(QtCore.QThread):
    progressed = QtCore.pyqtSignal(int)  # 0..STEPS
    finished_with = QtCore.pyqtSignal(object)  # the work's result
    failed = QtCore.pyqtSignal(object)  # the exception it raised
    was_cancelled = QtCore.pyqtSignal()

    def __init__(self, work: Work, is_cancel: Callable[[BaseException], bool], parent=None):
        super().__init__(parent)
        self._work = work
        self._is_cancel = is_cancel
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, done: int, total: int) -> None:
        self.progressed.emit(int(STEPS * done / total) if total > 0 else 0)

    def run(self) -> None:  # runs on the worker thread
        try:
            result = self._work(self._progress, self.is_cancelled)
        except BaseException as exc:  # reported to the GUI thread, never lost
            if self._is_cancel(exc):
                self.was_cancelled.emit()
            else:
                self.failed.emit(exc)
            return
        self.finished_with.emit(result)


def run_with_progress(
    parent: QtWidgets.QWidget,
    label: str,
    work: Work,
    *,
    on_done: Callable[[object], None],
    on_error: Callable[[BaseException], None],
    on_cancel: Callable[[], None] = lambda: None,
    cancel_types: tuple[type[BaseException], ...] = (),
) -> BackgroundTask:
    """Start ``work`` in the background behind a progress dialog; returns the task."""
    dialog = QtWidgets.QProgressDialog(label, "Cancel", 0, STEPS, parent)
    dialog.setWindowModality(Qt.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    task = BackgroundTask(work, lambda exc: isinstance(exc, cancel_types), parent)
    dialog.canceled.connect(task.cancel)
    task.progressed.connect(dialog.setValue)

    def finish(callback, *args) -> None:
        dialog.canceled.disconnect(task.cancel)
        dialog.close()
        dialog.deleteLater()
        callback(*args)

    task.finished_with.connect(lambda result: finish(on_done, result))
    task.failed.connect(lambda exc: finish(on_error, exc))
    task.was_cancelled.connect(lambda: finish(on_cancel))
    task.finished.connect(task.deleteLater)
    task.start()
    return task


def error_text(exc: BaseException) -> str:
    """What to tell the user about a failed task."""
    if isinstance(exc, VolviewError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
