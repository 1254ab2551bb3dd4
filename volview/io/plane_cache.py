"""CachedProxy: a byte-bounded LRU of recently read planes, and background prefetch.

Owns: ``CachedProxy(inner, budget_bytes)``, a ``VolumeProxy`` that keeps the planes it
has read (keyed by voxel axis, index, volume ``t`` and the in-plane ranges) in a
``PlaneStore`` (``volview.io.plane_store``: byte-bounded, least recently used out
first), and decides what its ``PlaneReader`` (``volview.io.plane_reader``: the
worker thread) reads in the background. When reads
of one axis step through consecutive indices, the cache itself notices the direction
and asks its single daemon worker thread to read the next planes ahead (and one
behind) so that the next step finds them ready; a newer request replaces the pending
ones. Without random access (gzip) only planes of the last axis, contiguous in the
stream, are read ahead. Planes handed out are copies: a caller cannot change what the cache holds.

Without waiting: ``plane_nowait`` returns a cached plane or None, and then has the
plane read on the worker thread (before any read ahead), which calls the listeners
added with ``add_ready_listener`` when it is there (on the worker thread: a GUI
marshals the call to its own). Requests close together are read together: a proxy
with ``read_planes`` (gzip) reads a sagittal and a coronal plane in one pass, and
``partial_plane`` hands out the part of such a plane the pass has read so far.

Coordinate space: voxel indices, exactly as ``volview.io.proxy`` (planes of axis 0, 1
or 2; in-plane ranges along the two other voxel axes in ascending order).

Thread safety: the planes are guarded by one lock, the reader's queues by its own.
An inner proxy without ``random_access`` (nibabel over gzip) is not safe to read from
two threads, so every read of it (foreground, worker, ``bypass``) holds a third lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable

import numpy as np

from volview.io.plane_reader import Deliver, PlaneReader, Progress
from volview.io.plane_store import PlaneStore
from volview.io.proxy import FULL, ArrayProxy, VolumeProxy, check_voxel_args
from volview.io.uncached import UncachedView

#: planes read ahead in the direction of motion, and behind it
AHEAD = 3
BEHIND = 1
#: settings key and default of the cache budget (megabytes)
BUDGET_KEY = "cache/budget_mb"
DEFAULT_BUDGET_MB = 1024
MB = 2**20

Key = tuple


class CachedProxy:
    """``inner`` seen through an LRU plane cache of at most ``budget_bytes``."""

    def __init__(self, inner: VolumeProxy, budget_bytes: int, prefetch: bool = True) -> None:
        self.inner = inner
        self.shape = inner.shape
        self.budget_bytes = max(0, int(budget_bytes))
        self.prefetch_enabled = prefetch
        self._planes = PlaneStore(self.budget_bytes)
        self._lock = threading.Lock()  # the planes and the motion record
        self._read_lock = threading.Lock() if not inner.random_access else None
        self._reader = PlaneReader(self, coalesce=not inner.random_access)
        self._last: dict[tuple, int] = {}  # (axis, t, in-plane key) -> last index read
        self._closed = False
        self.hits = 0
        self.misses = 0

    # -- VolumeProxy -------------------------------------------------------------------
    @property
    def access(self) -> str:
        return self.inner.access

    @property
    def random_access(self) -> bool:
        return self.inner.random_access

    @property
    def cached_bytes(self) -> int:
        return self._planes.nbytes

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        if self._whole_planes(in_plane):
            return np.array(self.plane(axis, index, t)[in_plane])
        key = self.key(axis, index, t, in_plane)
        self._reader.wait_for(key)  # a read already asked for: not twice
        cached = self._lookup(key)
        if cached is None:
            cached = self._read_and_store(key, axis, index, t, in_plane)
        self._note_motion(key, axis, index, t, in_plane)
        return np.array(cached)

    def plane_nowait(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray | None:
        """The plane if it is at hand; else None, and it is read in the background.

        The listeners are called once it has been read (or has failed: every later
        call raises the error, until ``clear``).
        """
        if self._whole_planes(in_plane):
            whole = self.plane_nowait(axis, index, t)
            return None if whole is None else np.array(whole[in_plane])
        key = self.key(axis, index, t, in_plane)
        found = self._reader.take_ready(key)
        if isinstance(found, BaseException):
            raise found
        if found is None:
            found = self.stored(key)
        if found is None:
            self._reader.want((key, axis, index, t, in_plane))
            return None
        self.hits += 1
        self._note_motion(key, axis, index, t, in_plane)
        return np.array(found)

    def partial_plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray | None:
        """While a pass over the stream reads this (sagittal or coronal) plane for
        ``plane_nowait``: the part read so far, else None. That is the plane cropped
        to ``in_plane``, but along the axial indices (voxel axis 2, its second
        in-plane axis) only the first ones the pass has got past.

        The listeners are called each time the part grows.
        """
        if axis == 2 or self.inner.random_access:
            return None
        found = self._reader.partial(self.key(axis, index, t, (FULL, FULL)))
        if found is None:
            return None
        values, n_read = found  # the whole plane's axial indices 0 .. n_read - 1
        rows, k_range = in_plane
        start, stop, step = k_range.indices(self.shape[2])
        read = slice(start, min(stop, n_read), step)
        if len(range(read.start, read.stop, step)) == 0:
            return None
        return np.array(values[rows, read])

    def add_ready_listener(self, listener: Callable[[], None]) -> None:
        self._reader.add_listener(listener)

    def remove_ready_listener(self, listener: Callable[[], None]) -> None:
        self._reader.remove_listener(listener)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        with self.guard():
            return self.inner.value(ijk, t)

    def value_nowait(self, ijk: tuple[int, int, int], t: int = 0) -> float | None:
        """``value``, except that a stream-only inner is not waited on: the voxel comes
        from its cached axial plane, else None and that plane is read in the background
        (the ready listeners say when). Float32 precision, like the planes."""
        if self.inner.random_access:
            return self.value(ijk, t)
        check_voxel_args(self.shape, ijk, t)
        plane = self.stored(self.key(2, ijk[2], t, (FULL, FULL)))  # no copy of the plane
        if plane is None:
            plane = self.plane_nowait(2, ijk[2], t)
        return None if plane is None else float(plane[ijk[0], ijk[1]])

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        with self.guard():
            return self.inner.series(ijk)

    def close(self) -> None:
        """Stop the worker, drop the planes and close the inner proxy."""
        self.stop()
        self.inner.close()

    # -- cache control -------------------------------------------------------------------
    def key(self, axis: int, index: int, t: int, in_plane: tuple[slice, slice]) -> Key:
        """Hashable key of a plane read (slices are resolved against the axis lengths)."""
        others = [ax for ax in range(3) if ax != axis]
        ranges = tuple(sl.indices(self.shape[ax]) for ax, sl in zip(others, in_plane, strict=True))
        return (axis, int(index), int(t), ranges)

    def contains(self, axis: int, index: int, t: int = 0, in_plane=(FULL, FULL)) -> bool:
        with self._lock:
            return self.key(axis, index, t, in_plane) in self._planes

    def clear(self) -> None:
        """Forget every cached plane, every pending read and every failed one."""
        self._reader.clear()
        with self._lock:
            self._planes.clear()
            self._last.clear()

    def stop(self) -> None:
        """Stop the worker (waits for it) and empty the cache."""
        self._closed = True
        self._reader.stop()
        self.clear()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no background read is pending or running; False on timeout."""
        return self._reader.wait_idle(timeout)

    @property
    def reads_asked_for(self) -> bool:
        """Whether a plane asked for by ``plane_nowait`` is still to be handed over."""
        return self._reader.asked_for

    @property
    def worker_alive(self) -> bool:
        return self._reader.worker_alive

    def bypass(self) -> UncachedView:
        """A proxy reading the same voxels without touching the cache (whole-image scans)."""
        return UncachedView(self)

    def prefetch(
        self,
        axis: int,
        index: int,
        t: int = 0,
        in_plane: tuple[slice, slice] = (FULL, FULL),
        direction: int = 1,
    ) -> None:
        """Read planes next to ``index`` (``AHEAD`` in ``direction``, ``BEHIND`` back)
        on the worker thread; returns at once. Replaces any request not yet served."""
        step = 1 if direction >= 0 else -1
        wanted = [index + step * n for n in range(1, AHEAD + 1)]
        wanted += [index - step * n for n in range(1, BEHIND + 1)]
        keys = [(self.key(axis, i, t, in_plane), i) for i in wanted if 0 <= i < self.shape[axis]]
        with self._lock:
            jobs = [(key, axis, i, t, in_plane) for key, i in keys if key not in self._planes]
        self._reader.read_ahead(jobs)

    # -- ReadTarget (for the reader's worker thread) -----------------------------------
    def stored(self, key: Key) -> np.ndarray | None:
        """The cached plane (now most recent), or None."""
        with self._lock:
            return self._planes.get(key)

    def store(self, key: Key, plane: np.ndarray) -> None:
        with self._lock:
            if not self._closed:
                self._planes.put(key, plane)

    def read_one(self, args: tuple) -> np.ndarray:
        with self.guard():
            return self.inner.plane(*args)

    def read_many(self, jobs: list[tuple], deliver: Deliver, cancelled, progress: Progress) -> bool:
        """One pass for several planes, when the inner can (``read_planes``, gzip)."""
        read_planes = getattr(self.inner, "read_planes", None)
        if read_planes is None:
            return False
        read_planes(jobs, deliver, cancelled, progress=progress)
        return True

    # -- internals -----------------------------------------------------------------------
    def guard(self):
        """The lock every read of ``inner`` holds (a no-op for random-access proxies)."""
        return self._read_lock if self._read_lock is not None else contextlib.nullcontext()

    def _whole_planes(self, in_plane: tuple[slice, slice]) -> bool:
        """A stream-only inner decompresses the whole plane for any part of it: cache
        the whole plane, and later crops and strides come from memory."""
        return not self.inner.random_access and tuple(in_plane) != (FULL, FULL)

    def _lookup(self, key: Key) -> np.ndarray | None:
        """The cached plane (now most recent), counted as a hit or a miss."""
        with self._lock:
            plane = self._planes.get(key)
            if plane is not None:
                self.hits += 1
            else:
                self.misses += 1
            return plane

    def _read_and_store(self, key: Key, axis, index, t, in_plane) -> np.ndarray:
        plane = self.read_one((axis, index, t, in_plane))
        plane.flags.writeable = False
        self.store(key, plane)
        return plane

    def _note_motion(self, key: Key, axis: int, index: int, t: int, in_plane) -> None:
        """Prefetch when this read is one step from the previous read of the same kind."""
        if not self.prefetch_enabled or self.budget_bytes == 0:
            return
        if axis != 2 and not self.inner.random_access:
            return  # a plane across a compressed stream costs a pass over the whole file
        track = (axis, t, key[3])
        with self._lock:
            last = self._last.get(track)
            self._last[track] = index
        if last is not None and abs(index - last) == 1:
            self.prefetch(axis, index, t, in_plane, direction=index - last)


def budget_bytes_from_mb(value, default_mb: int = DEFAULT_BUDGET_MB) -> int:
    """The cache budget in bytes from a settings value in megabytes (bad text: default)."""
    try:
        mb = float(value)
    except (TypeError, ValueError):
        mb = default_mb
    return int(max(0.0, mb) * MB)


def with_plane_cache(image, budget_bytes: int):
    """``image`` (an ``ImageFile``) reading its planes through a CachedProxy of
    ``budget_bytes``; unchanged when the budget is 0 or the voxels are in RAM."""
    proxy = image.proxy
    if budget_bytes <= 0 or isinstance(proxy, CachedProxy | ArrayProxy):
        return image
    return dataclasses.replace(image, proxy=CachedProxy(proxy, budget_bytes))
