"""CachedProxy: a byte-bounded LRU of recently read planes, and background prefetch.

Owns: ``CachedProxy(inner, budget_bytes)``, a ``VolumeProxy`` that keeps the planes it
has read (keyed by voxel axis, index, volume ``t`` and the in-plane ranges) until
their total size would exceed the budget, least recently used first out. When reads
of one axis step through consecutive indices, the cache itself notices the direction
and asks its single daemon worker thread to read the next planes ahead (and one
behind) so that the next step finds them ready; a newer request replaces the pending
ones. Without random access (gzip) only planes of the last axis, contiguous in the
stream, are read ahead. Planes handed out are copies: a caller cannot change what the cache holds.

Coordinate space: voxel indices, exactly as ``volview.io.proxy`` (planes of axis 0, 1
or 2; in-plane ranges along the two other voxel axes in ascending order).

Thread safety: the cache is guarded by one lock. An inner proxy without
``random_access`` (nibabel over gzip) is not safe to read from two threads, so every
read of it (foreground, prefetch, ``bypass``) holds a second lock.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
from collections import OrderedDict

import numpy as np

from volview.io.proxy import FULL, ArrayProxy, RescaledProxy, VolumeProxy

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
        self._planes: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the cache, the queue and the motion record
        self._wake = threading.Condition(self._lock)
        self._read_lock = threading.Lock() if not inner.random_access else None
        self._inflight: dict[Key, threading.Event] = {}
        self._pending: list[tuple] = []  # (key, axis, index, t, in_plane) to prefetch
        self._last: dict[tuple, int] = {}  # (axis, t, in-plane key) -> last index read
        self._worker: threading.Thread | None = None
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
        return self._bytes

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        key = self.key(axis, index, t, in_plane)
        cached = self._lookup(key)
        if cached is None:
            cached = self._read_and_store(key, axis, index, t, in_plane)
        self._note_motion(key, axis, index, t, in_plane)
        return np.array(cached)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        with self._guard():
            return self.inner.value(ijk, t)

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        with self._guard():
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
        """Forget every cached plane and every pending prefetch."""
        with self._lock:
            self._planes.clear()
            self._bytes = 0
            self._pending.clear()
            self._last.clear()

    def stop(self) -> None:
        """Stop the prefetch worker (waits for it) and empty the cache."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._wake.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)
        self.clear()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no prefetch is pending or running; False on timeout."""
        with self._lock:
            return self._wake.wait_for(
                lambda: self._closed or not (self._pending or self._inflight), timeout
            )

    @property
    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

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
        jobs = []
        for i in wanted:
            if 0 <= i < self.shape[axis]:
                jobs.append((self.key(axis, i, t, in_plane), axis, i, t, in_plane))
        with self._lock:
            if self._closed:
                return
            self._pending = [job for job in jobs if job[0] not in self._planes]
            if self._pending:
                self._start_worker()
                self._wake.notify_all()

    # -- internals -----------------------------------------------------------------------
    def _guard(self):
        return self._read_lock if self._read_lock is not None else contextlib.nullcontext()

    def _lookup(self, key: Key) -> np.ndarray | None:
        """The cached plane (now most recent), waiting for a prefetch already reading it."""
        with self._lock:
            event = self._inflight.get(key)
        if event is not None:
            event.wait()
        with self._lock:
            plane = self._planes.get(key)
            if plane is not None:
                self._planes.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return plane

    def _read_and_store(self, key: Key, axis, index, t, in_plane) -> np.ndarray:
        with self._guard():
            plane = self.inner.plane(axis, index, t, in_plane)
        plane.flags.writeable = False
        self._store(key, plane)
        return plane

    def _store(self, key: Key, plane: np.ndarray) -> None:
        size = plane.nbytes
        with self._lock:
            if size > self.budget_bytes or self._closed:
                return
            old = self._planes.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            while self._planes and self._bytes + size > self.budget_bytes:
                _, evicted = self._planes.popitem(last=False)
                self._bytes -= evicted.nbytes
            self._planes[key] = plane
            self._bytes += size

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

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="volview-prefetch", daemon=True)
            self._worker.start()

    def _next_job(self):
        """The next plane to prefetch (marked in flight), or None when closing."""
        with self._lock:
            while True:
                if self._closed:
                    return None
                while self._pending:
                    job = self._pending.pop(0)
                    if job[0] not in self._planes and job[0] not in self._inflight:
                        self._inflight[job[0]] = threading.Event()
                        return job
                self._wake.wait()

    def _work(self) -> None:  # the worker thread
        while (job := self._next_job()) is not None:
            key, axis, index, t, in_plane = job
            try:
                self._read_and_store(key, axis, index, t, in_plane)
            except Exception:  # a failed read ahead: the foreground read reports it
                pass
            finally:
                with self._lock:
                    event = self._inflight.pop(key)
                    self._wake.notify_all()  # wait_idle
                event.set()


class UncachedView:
    """Reads through a CachedProxy's inner proxy (under its lock), leaving the cache alone."""

    def __init__(self, cached: CachedProxy) -> None:
        self._cached = cached
        self.shape = cached.shape
        self.access = cached.access
        self.random_access = cached.random_access

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        with self._cached._guard():
            return self._cached.inner.plane(axis, index, t, in_plane)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        return self._cached.value(ijk, t)

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        return self._cached.series(ijk)

    def close(self) -> None:
        """Nothing to release: the CachedProxy owns the file."""


def uncached(proxy: VolumeProxy) -> VolumeProxy:
    """``proxy`` without its plane cache, for reads that must not evict viewed planes
    (also under a header preview's ``RescaledProxy``)."""
    if isinstance(proxy, CachedProxy):
        return proxy.bypass()
    if isinstance(proxy, RescaledProxy) and isinstance(proxy.base, CachedProxy):
        view = copy.copy(proxy)
        view.base = proxy.base.bypass()
        return view
    return proxy


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
