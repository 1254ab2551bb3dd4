"""Gzipped images in the GUI: the seek index in the background, the decompress-once offer.

Owns: ``GzipController(window, state, session, settings)``. When a ``.nii.gz`` (or
any image read through a ``GzipStream``) opens, the first view decompresses only
up to the planes shown; the controller then reads the stream to its end on a
worker thread, which completes its seek index (a progress bar with a cancel
button in the status bar, never a modal dialog).

For a large file (compressed size above ``LARGE_GZIP_BYTES``) it offers once to
decompress it into the user cache and memory-map the copy (QSettings
``gzip/decompress_choice``: "ask", "always" or "never"; the cache budget is
``cache/disk_budget_gb``). A file with a valid cached copy opens from it directly
(``Session.image_opener``). ``access_text()`` / ``access_text_changed`` give the
status bar's "format, how the image is read" text, progress included.

It also follows the planes the views read from the stream in the background:
``Session`` does not wait for the sample behind the initial window in the GUI, so
opening never blocks on decompression, and the window follows when the centre plane
has been read (``Session.settle_window``); the index build starts only once the
views have their planes, since two readers of one stream would each decompress it.

Coordinate space: none (files and bytes); the cursor and window are kept by
``Session.swap_image``.
"""

from __future__ import annotations

from pathlib import Path

from volview.errors import OpenCancelled, VolviewError
from volview.io.decompress_cache import DecompressCache, cacheable, open_cached
from volview.io.gzip_index import build_index, gzip_proxy
from volview.io.images import ImageFile, open_image
from volview.io.proxy import file_size
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.tasks import STEPS, BackgroundTask, error_text

#: compressed size above which decompressing to the cache is offered
LARGE_GZIP_BYTES = 200 * 10**6
CHOICE_KEY = "gzip/decompress_choice"
CHOICES = ("ask", "always", "never")
BUDGET_KEY = "cache/disk_budget_gb"
DEFAULT_BUDGET_GB = 20.0
GB = 2**30


class GzipController(QtCore.QObject):
    #: the status bar's access text changed ("NIfTI-1, gzip-indexed (building index 40%)")
    access_text_changed = QtCore.pyqtSignal(str)
    #: (queued from the plane cache's worker) a plane was read: maybe the window's sample
    plane_read = QtCore.pyqtSignal()

    def __init__(self, window, state, session, settings, cache_folder=None) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.session = session
        self.settings = settings
        self.cache_folder = cache_folder
        #: compressed size above which the decompress offer is made (tests lower it)
        self.large_bytes = LARGE_GZIP_BYTES
        self.task: BackgroundTask | None = None
        self.task_proxy = None  # the gzip proxy the running task works for
        self.task_words = ""  # "building index" / "decompressing to the cache"
        self.percent = 0
        self.offer_box: QtWidgets.QMessageBox | None = None
        self._build_progress_widgets()
        session.image_opener = self.open_image
        session.window_in_foreground = False  # the window is set here, once its sample is read
        self._listened_proxy = None  # the stream-read proxy whose background reads we follow
        self._emit_plane_read = self.plane_read.emit  # one bound method: added, then removed
        self.plane_read.connect(self._on_plane_read, QtCore.Qt.QueuedConnection)
        self._index_waits = False  # the index build waits for the views' first planes
        session.opened.connect(self._on_opened)
        state.volume_changed.connect(self._on_volume_changed)

    def _build_progress_widgets(self) -> None:
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setRange(0, STEPS)
        self.progress_bar.setMaximumWidth(160)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setToolTip("Reading the gzip file in the background")
        self.cancel_button = QtWidgets.QToolButton()
        self.cancel_button.setText("\u2715")
        self.cancel_button.setToolTip("Stop this background work (the image stays open)")
        self.cancel_button.clicked.connect(lambda _checked=False: self.cancel())
        self.progress_widget = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(self.progress_widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.cancel_button)
        self.window.statusBar().addPermanentWidget(self.progress_widget)
        self.progress_widget.hide()

    # -- settings ------------------------------------------------------------------
    def choice(self) -> str:
        value = str(self.settings.value(CHOICE_KEY, "ask"))
        return value if value in CHOICES else "ask"

    def cache(self) -> DecompressCache:
        try:
            budget_gb = float(self.settings.value(BUDGET_KEY, DEFAULT_BUDGET_GB))
        except (TypeError, ValueError):
            budget_gb = DEFAULT_BUDGET_GB
        return DecompressCache(int(budget_gb * GB), self.cache_folder)

    # -- status text ---------------------------------------------------------------
    def access_text(self) -> str:
        """What the status bar says about how the current image is read."""
        volume = self.state.volume
        if volume is None:
            return ""
        image = volume.image
        text = f"{image.format_name}, {image.proxy.access}"
        if self.task is not None and gzip_proxy(image.proxy) is self.task_proxy:
            text += f" ({self.task_words} {self.percent}%)"
        return text

    def _show_access(self) -> None:
        self.access_text_changed.emit(self.access_text())

    # -- opening -------------------------------------------------------------------
    def open_image(self, path: Path) -> ImageFile:
        """``open_image``, from the decompressed copy when the cache holds a valid one."""
        entry = self.cache().lookup(path) if cacheable(path) else None
        if entry is not None:
            try:
                return open_cached(path, entry)
            except VolviewError:  # a damaged copy: read the original instead
                entry.unlink(missing_ok=True)
        return open_image(path)

    def _on_opened(self, volume) -> None:
        self.cancel(wait=True)
        proxy = gzip_proxy(volume.image.proxy)
        if proxy is None or not volume.image.on_disk:  # in memory: nothing to index
            return
        path = volume.image.path
        if cacheable(path) and file_size(proxy.data_path) > self.large_bytes:
            choice = self.choice()
            if choice == "always":
                self.start_decompress()
                return
            if choice == "ask":
                self._offer_decompress(path)
        self._index_waits = True  # the views' pass over the stream goes first
        self._start_index_when_quiet()

    def _start_index_when_quiet(self) -> None:
        """Start the index build once the views have their planes: two readers of one
        stream would each decompress it (the views' pass also indexes what it reads)."""
        proxy = self.state.volume.image.proxy if self.state.volume is not None else None
        if not self._index_waits or getattr(proxy, "reads_asked_for", False):
            return
        self._index_waits = False
        self.start_index()

    def _on_volume_changed(self, volume) -> None:
        if volume is None or volume.image.proxy is not self._listened_proxy:
            self._index_waits = False
            self._listen_to(volume)
        if self.task is not None and (
            volume is None or gzip_proxy(volume.image.proxy) is not self.task_proxy
        ):
            self.cancel()
        self._show_access()

    # -- the views' first planes: the initial window, then the index -----------------
    def _listen_to(self, volume) -> None:
        """Listen to the planes ``volume``'s views read in the background: they bring
        the sample for the window, and their end lets the index build start."""
        if self._listened_proxy is not None:
            self._listened_proxy.remove_ready_listener(self._emit_plane_read)
            self._listened_proxy = None
        proxy = None if volume is None else volume.image.proxy
        if hasattr(proxy, "add_ready_listener") and gzip_proxy(proxy) is not None:
            self._listened_proxy = proxy
            proxy.add_ready_listener(self._emit_plane_read)
        self.session.settle_window()

    def _on_plane_read(self) -> None:
        self.session.settle_window()
        self._start_index_when_quiet()

    # -- the offer -----------------------------------------------------------------
    def _offer_decompress(self, path: Path) -> None:
        box = QtWidgets.QMessageBox(self.window)
        box.setIcon(QtWidgets.QMessageBox.Question)
        box.setWindowTitle("volview: large compressed image")
        box.setText(f"Decompress {path.name} to the cache for fast access?")
        box.setInformativeText(
            "Slices of a large .nii.gz are slow to read. A decompressed copy in the "
            "cache folder is memory-mapped like an uncompressed file; it is reused "
            "until the file changes."
        )
        box.setStandardButtons(QtWidgets.QMessageBox.Yes | QtWidgets.QMessageBox.No)
        box.setCheckBox(QtWidgets.QCheckBox("Remember my choice", box))
        box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        box.finished.connect(lambda _result: self._offer_answered(box))
        self.offer_box = box
        box.open()

    def _offer_answered(self, box: QtWidgets.QMessageBox) -> None:
        self.offer_box = None
        yes = box.clickedButton() is box.button(QtWidgets.QMessageBox.Yes)
        if box.checkBox().isChecked():
            self.settings.setValue(CHOICE_KEY, "always" if yes else "never")
        if yes and self.state.volume is not None:
            self.cancel(wait=True)
            self.start_decompress()

    # -- background work -----------------------------------------------------------
    def start_index(self) -> None:
        """Build the current image's full gzip index in the background."""
        proxy = gzip_proxy(self.state.volume.image.proxy)
        self._start(
            proxy,
            "building index",
            lambda progress, cancelled: build_index(proxy, progress, cancelled),
            lambda _none: None,
        )

    def start_decompress(self) -> None:
        """Decompress the current image into the cache, then read it from there."""
        image = self.state.volume.image
        proxy = gzip_proxy(image.proxy)
        path, expected, cache = image.path, proxy.stored_bytes, self.cache()
        self._start(
            proxy,
            "decompressing to the cache",
            lambda progress, cancelled: cache.store(path, expected, progress, cancelled),
            lambda entry: self.session.swap_image(open_cached(path, entry)),
        )

    def _start(self, proxy, words: str, work, use_result) -> None:
        task = BackgroundTask(work, lambda exc: isinstance(exc, OpenCancelled), self)
        task.progressed.connect(self._on_progress)
        task.finished_with.connect(lambda result: self._done(task, proxy, use_result, result))
        task.failed.connect(lambda exc: self._failed(task, exc))
        task.was_cancelled.connect(lambda: self._finish(task))
        self.task, self.task_proxy, self.task_words, self.percent = task, proxy, words, 0
        self.progress_bar.setValue(0)
        self.progress_bar.setToolTip(f"{words.capitalize()} in the background")
        self.progress_widget.show()
        self._show_access()
        task.start()

    def _on_progress(self, steps: int) -> None:
        self.progress_bar.setValue(steps)
        percent = steps * 100 // STEPS
        if percent != self.percent:
            self.percent = percent
            self._show_access()

    def _done(self, task, proxy, use_result, result) -> None:
        self._finish(task)
        current = self.state.volume
        if current is None or gzip_proxy(current.image.proxy) is not proxy:
            return  # another image is shown now
        try:
            use_result(result)
        except VolviewError as exc:
            self.window.show_error_text(str(exc), "volview: could not read the image")
        self._show_access()

    def _failed(self, task, exc: BaseException) -> None:
        self._finish(task)
        self.window.show_error_text(error_text(exc), "volview: could not read the image")

    def _finish(self, task) -> None:
        task.wait()
        task.deleteLater()
        if task is self.task:
            self.task, self.task_proxy = None, None
            self.progress_widget.hide()
            self._show_access()

    def cancel(self, wait: bool = False) -> None:
        """Stop the background work (``wait``: until its thread has ended)."""
        task = self.task
        if task is None:
            return
        task.cancel()
        if wait:
            task.wait()
            self.task, self.task_proxy = None, None
            self.progress_widget.hide()

    def shutdown(self) -> None:
        """Stop background work (the window is closing)."""
        self.cancel(wait=True)
