"""TimeCourseReader: a voxel's time course read off the GUI thread.

Owns: one daemon worker thread that reads ``Volume.time_course(ijk)`` for the most
recent request only (a newer request replaces one not yet started) and hands the
result to the GUI thread through queued Qt signals: ``arrived(volume, ijk, values)``
or ``failed(volume, ijk, message)``. The first time course of a compressed 4-D file
decompresses the stream up to its last volume (seconds for a large ``.nii.gz``),
and the window must not wait for that. The receiver checks that the volume and voxel
are still the ones shown. Coordinate space: voxel indices ``ijk``.
"""

from __future__ import annotations

import threading

from volview.errors import VolviewError
from volview.io.proxy import READ_ERRORS
from volview.qt.compat import QtCore


class TimeCourseReader(QtCore.QObject):
    """Reads time courses in the background; the latest request wins."""

    arrived = QtCore.Signal(object, object, object)  # volume, ijk, values (n_volumes,)
    failed = QtCore.Signal(object, object, str)  # volume, ijk, what went wrong

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._wake = threading.Condition()
        self._wanted: tuple[object, tuple[int, int, int]] | None = None
        self._reading = False
        self._closed = False
        self._worker: threading.Thread | None = None

    def request(self, volume, ijk: tuple[int, int, int]) -> None:
        """Read ``volume``'s time course at ``ijk``, in place of any request not started."""
        with self._wake:
            if self._closed:
                return
            self._wanted = (volume, tuple(int(v) for v in ijk))
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="volview-time-course", daemon=True
                )
                self._worker.start()
            self._wake.notify_all()

    @property
    def busy(self) -> bool:
        """Whether a request is waiting or being read."""
        with self._wake:
            return self._wanted is not None or self._reading

    def close(self) -> None:
        """Stop after the read in progress (not waited for: it may take seconds)."""
        with self._wake:
            self._closed = True
            self._wanted = None
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._closed or self._wanted is not None)
                if self._closed:
                    return
                wanted, self._wanted = self._wanted, None
                self._reading = True
            try:
                signal, args = self._read(*wanted)
            finally:
                wanted = None  # hold no image between reads
                with self._wake:  # idle before the result is handed over, so the
                    self._reading = False  # receiver sees busy only for newer requests
            self._emit(signal, *args)
            signal = args = None

    def _read(self, volume, ijk: tuple[int, int, int]):
        """The signal to emit and its arguments: the values or what went wrong."""
        try:
            values = volume.time_course(ijk)
        except (VolviewError, *READ_ERRORS) as exc:
            return self.failed, (volume, ijk, str(exc))
        return self.arrived, (volume, ijk, values)

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window (and this object) is gone
            self.close()
