"""OverlayLoader: compressed overlays decompressed into RAM in the background.

Owns: the background reads that copy each compressed overlay (a ``.nii.gz``, any
overlay whose proxy has no random access) into RAM, one at a time, behind a
progress dialog with Cancel. A plane across a compressed stream costs a pass over
the stream, so every cursor move would wait on that: until its copy is there, an
overlay is not drawn (``ImageLayer.waiting_for_copy``), and it is drawn from its
file only if the copy is cancelled or fails. The copy is read through a second opening
of the file (``core.memory_load.copy_in_ram``), so that drawing meanwhile and the
read never share a decompressor. An overlay whose float32 copy would exceed the
plane-cache budget, or the free RAM, stays read from its file, and the status bar
says so. Coordinate space: none (whole images).
"""

from __future__ import annotations

import weakref

from volview.core import scans
from volview.core.layers import ImageLayer
from volview.core.memory_load import bytes_needed, copy_in_ram, format_bytes
from volview.qt.compat import QtCore
from volview.qt.tasks import error_text, run_with_progress

STATUS_MS = 8000


class OverlayLoader(QtCore.QObject):
    """Copies compressed overlays into RAM, one background read at a time."""

    #: a layer's copy ended (in RAM, cancelled or failed): its readout can be read
    settled = QtCore.Signal()

    def __init__(self, window, state, session) -> None:
        super().__init__(window)
        self.window, self.state, self.session = window, state, session
        self.task = None
        self.loading: ImageLayer | None = None
        self._waiting: list[ImageLayer] = []
        self._considered: weakref.WeakSet[ImageLayer] = weakref.WeakSet()
        self._closed = False
        # before the views draw a new overlay: one that will be copied is not read
        # from its file meanwhile (a plane across a large stream takes seconds)
        state.overlays_changed.connect(self._on_overlays_changed, priority=1)

    def _on_overlays_changed(self) -> None:
        current = self.state.overlays
        self._waiting = [layer for layer in self._waiting if layer in current]
        if self.task is not None and self.loading not in current:
            self.task.cancel()  # its layer is gone
        for layer in current:
            if layer not in self._considered:
                self._considered.add(layer)
                if self._wants_copy(layer):
                    layer.set_waiting_for_copy(True)
                    self._waiting.append(layer)
        self._start_next()

    def _wants_copy(self, layer: ImageLayer) -> bool:
        """Whether ``layer`` is compressed and its copy fits the cache budget."""
        image = layer.image
        if image.proxy.random_access or not image.on_disk:
            return False
        needed, budget = bytes_needed(image), self.session.cache_budget_bytes
        if needed > budget:
            self._status(
                f"{layer.name} is read from its compressed file (slow): its copy in RAM "
                f"({format_bytes(needed)}) would exceed the cache budget "
                f"({format_bytes(budget)}, Preferences)"
            )
            return False
        return True

    def _start_next(self) -> None:
        if self.task is not None or not self._waiting or self._closed:
            return
        layer = self.loading = self._waiting.pop(0)
        image = layer.image
        self.task = run_with_progress(
            self.window,
            f"Decompressing the overlay {layer.name} into memory\u2026",
            lambda progress, cancelled: copy_in_ram(image, progress, cancelled),
            on_done=lambda copy: self._finish(layer, image, copy),
            on_error=lambda exc: self._not_copied(layer, f"file: {error_text(exc)}"),
            on_cancel=lambda: self._not_copied(layer, "compressed file (slow)"),
            cancel_types=(scans.ScanCancelled,),
        )

    def _finish(self, layer: ImageLayer, image, copy) -> None:
        if self._closed:
            copy.proxy.close()
            return
        if layer in self.state.overlays and layer.image is image:
            layer.use_image(copy)
            image.close()
        else:
            copy.proxy.close()  # removed (and closed) meanwhile
        self._ended(layer)
        if layer in self.state.overlays:
            self._status(f"{layer.name} is in RAM ({format_bytes(bytes_needed(copy))})")

    def _not_copied(self, layer: ImageLayer, why: str) -> None:
        """The copy failed or was cancelled: ``layer`` is drawn from its file."""
        if self._closed:
            return
        self._ended(layer)
        if layer in self.state.overlays:
            self._status(f"{layer.name} stays read from its {why}")

    def _ended(self, layer: ImageLayer) -> None:
        """The copy of ``layer`` ended: without it, the layer is drawn from its file."""
        self.task = self.loading = None
        layer.set_waiting_for_copy(False)
        self.settled.emit()
        self._start_next()

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, STATUS_MS)

    def wait_for_task(self) -> None:
        """Cancel the copy being read, and any waiting, and wait (the window closes:
        nothing is drawn or copied after this)."""
        self._closed = True
        self._waiting.clear()
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
