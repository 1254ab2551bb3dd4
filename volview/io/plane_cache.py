"""CachedProxy: a byte-bounded LRU of recently read planes, and background prefetch.

Owns: ``CachedProxy(inner, budget_bytes)``, a ``VolumeProxy`` that keeps the planes it
has read (keyed by voxel axis, index, volume ``t`` and the in-plane ranges) in a
``PlaneStore`` (``volview.io.plane_store``: byte-bounded, least recently used out
first), and the reads on its worker thread. When reads
of one axis step through consecutive indices, the cache itself notices the direction
and asks its single daemon worker thread to read the next planes ahead (and one
behind) so that the next step finds them ready; a newer request replaces the pending
ones. Without random access (gzip) only planes of the last axis, contiguous in the
stream, are read ahead. Planes handed out are copies: a caller cannot change what the cache holds.

Without waiting: ``plane_nowait`` returns a cached plane or None, and then reads
the plane on the worker thread (before any read ahead) and calls the listeners added
with ``add_ready_listener`` when it is there (on the worker thread: a GUI marshals the
call to its own). Requests arriving within ``COALESCE_S`` of each other are read
together: a proxy with ``read_planes`` (gzip) reads a sagittal and a coronal plane in
one pass over the stream. A newer request of the same kind (axis, volume, in-plane
ranges) replaces an older one, and stops a pass that has not delivered it yet.

Coordinate space: voxel indices, exactly as ``volview.io.proxy`` (planes of axis 0, 1
or 2; in-plane ranges along the two other voxel axes in ascending order).

Thread safety: the cache is guarded by one lock. An inner proxy without
``random_access`` (nibabel over gzip) is not safe to read from two threads, so every
read of it (foreground, prefetch, ``bypass``) holds a second lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np

from volview.io.plane_store import PlaneStore
from volview.io.proxy import FULL, ArrayProxy, VolumeProxy, check_voxel_args
from volview.io.uncached import UncachedView

#: planes read ahead in the direction of motion, and behind it
AHEAD = 3
BEHIND = 1
#: seconds the worker waits for more requests to read together (stream-only proxies)
COALESCE_S = 0.02
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
        self._lock = threading.Lock()  # the cache, the queue and the motion record
        self._wake = threading.Condition(self._lock)
        self._read_lock = threading.Lock() if not inner.random_access else None
        self._inflight: dict[Key, threading.Event] = {}
        self._pending: list[tuple] = []  # (key, axis, index, t, in_plane) to prefetch
        self._wanted: list[tuple] = []  # the same, asked for by plane_nowait
        self._wanted_at = 0.0  # time.monotonic() of the last plane_nowait request
        self._ready: dict[Key, np.ndarray | BaseException] = {}  # plane_nowait's results
        self._awaited: set[Key] = set()  # keys plane_nowait returned None for
        self._listeners: list[Callable[[], None]] = []
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
        return self._planes.nbytes

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        if self._whole_planes(in_plane):
            return np.array(self.plane(axis, index, t)[in_plane])
        key = self.key(axis, index, t, in_plane)
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
        with self._lock:
            found = self._ready.get(key)
            if found is not None and not isinstance(found, BaseException):
                del self._ready[key]  # an error stays: asking again would only fail again
            if found is None:
                found = self._planes.get(key)
            if found is None:
                self._want((key, axis, index, t, in_plane))
                return None
            self.hits += 1
        if isinstance(found, BaseException):
            raise found
        self._note_motion(key, axis, index, t, in_plane)
        return np.array(found)

    def add_ready_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_ready_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

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
        """Forget every cached plane and every pending prefetch."""
        with self._lock:
            self._planes.clear()
            self._pending.clear()
            self._wanted.clear()
            self._ready.clear()
            self._last.clear()

    def stop(self) -> None:
        """Stop the prefetch worker (waits for it) and empty the cache."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._wanted.clear()
            self._wake.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)
        self.clear()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no prefetch is pending or running; False on timeout."""
        with self._lock:
            return self._wake.wait_for(
                lambda: self._closed or not (self._pending or self._wanted or self._inflight),
                timeout,
            )

    @property
    def reads_asked_for(self) -> bool:
        """Whether a plane asked for by ``plane_nowait`` is still to be handed over."""
        with self._lock:
            return bool(self._wanted or self._awaited)

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
    def guard(self):
        """The lock every read of ``inner`` holds (a no-op for random-access proxies)."""
        return self._read_lock if self._read_lock is not None else contextlib.nullcontext()

    def _whole_planes(self, in_plane: tuple[slice, slice]) -> bool:
        """A stream-only inner decompresses the whole plane for any part of it: cache
        the whole plane, and later crops and strides come from memory."""
        return not self.inner.random_access and tuple(in_plane) != (FULL, FULL)

    def _lookup(self, key: Key) -> np.ndarray | None:
        """The cached plane (now most recent), waiting for a read already asked for."""
        with self._lock:
            self._wake.wait_for(lambda: all(job[0] != key for job in self._wanted))
            event = self._inflight.get(key)
        if event is not None:
            event.wait()
        with self._lock:
            plane = self._planes.get(key)
            if plane is not None:
                self.hits += 1
            else:
                self.misses += 1
            return plane

    def _read_and_store(self, key: Key, axis, index, t, in_plane) -> np.ndarray:
        with self.guard():
            plane = self.inner.plane(axis, index, t, in_plane)
        plane.flags.writeable = False
        self._store(key, plane)
        return plane

    def _store(self, key: Key, plane: np.ndarray) -> None:
        with self._lock:
            if not self._closed:
                self._planes.put(key, plane)

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

    def _want(self, job: tuple) -> None:
        """Queue a plane_nowait read (lock held), replacing one of the same kind."""
        if self._closed:
            return
        self._awaited.add(job[0])
        if job[0] in self._inflight:
            return  # a read ahead is reading it: its end resolves the wait
        self._wanted = [old for old in self._wanted if _kind(old) != _kind(job)]
        self._wanted.append(job)
        self._wanted_at = time.monotonic()
        self._start_worker()
        self._wake.notify_all()

    def _next_jobs(self) -> list[tuple] | None:
        """The planes to read next (marked in flight): every plane asked for by
        plane_nowait, else one plane to read ahead; None when closing."""
        with self._lock:
            while not self._closed:
                if self._wanted:
                    wait = self._wanted_at + COALESCE_S - time.monotonic()
                    if wait > 0 and not self.inner.random_access:
                        self._wake.wait(wait)  # let the other views ask too
                        continue
                    jobs, self._wanted = self._wanted, []
                else:
                    jobs, self._pending = self._pending[:1], self._pending[1:]
                jobs = [job for job in jobs if job[0] not in self._inflight]
                if jobs:
                    for job in jobs:
                        self._inflight[job[0]] = threading.Event()
                    return jobs
                if not (self._wanted or self._pending):
                    self._wake.wait()
            return None

    def _work(self) -> None:  # the worker thread
        while (jobs := self._next_jobs()) is not None:
            jobs_by_key = {job[0]: job for job in jobs}
            done: set[Key] = set()

            def deliver(args, plane, jobs_by_key=jobs_by_key, done=done) -> None:
                key = self.key(*args)
                plane.flags.writeable = False
                self._store(key, plane)
                done.add(key)
                self._finish(jobs_by_key[key], plane)

            try:
                self._read_jobs(jobs, deliver, lambda jobs=jobs, done=done: self._stale(jobs, done))
            except Exception as exc:  # reported to plane_nowait; a read ahead just fails
                for job in jobs:
                    if job[0] not in done:
                        done.add(job[0])
                        self._finish(job, exc)
            for job in jobs:  # dropped for a newer request
                if job[0] not in done:
                    self._finish(job, None)

    def _read_jobs(self, jobs, deliver, cancelled) -> None:
        with self._lock:
            known = [(job, self._planes.get(job[0])) for job in jobs]
        jobs = [job for job, plane in known if plane is None]
        for job, plane in known:
            if plane is not None:  # read ahead meanwhile
                deliver(job[1:], plane)
        read_planes = getattr(self.inner, "read_planes", None)
        if len(jobs) > 1 and read_planes is not None:
            read_planes([job[1:] for job in jobs], deliver, cancelled)
            return
        for job in jobs:
            if cancelled():
                return
            with self.guard():
                plane = self.inner.plane(*job[1:])
            deliver(job[1:], plane)

    def _stale(self, jobs, done: set) -> bool:
        """True when closing, or when a newer request waits (it replaces a plane of
        its kind not yet read, and it goes before any read ahead)."""
        with self._lock:
            kinds = {_kind(job) for job in self._wanted}
            return self._closed or any(
                _kind(job) in kinds or job[0] not in self._awaited
                for job in jobs
                if job[0] not in done and kinds
            )

    def _finish(self, job: tuple, result) -> None:
        """A read of ``job`` ended with a plane, an error or nothing (dropped)."""
        key = job[0]
        with self._lock:
            event = self._inflight.pop(key, None)
            awaited = key in self._awaited
            if awaited and result is None:  # still wanted: read it next
                if not self._closed and all(_kind(w) != _kind(job) for w in self._wanted):
                    self._wanted.append(job)
                awaited = False
            elif awaited:
                self._awaited.discard(key)
                if isinstance(result, BaseException):
                    result = result.with_traceback(None)  # kept: hold no frames
                self._ready[key] = result
            self._wake.notify_all()  # wait_idle, and the worker for a re-queued job
            listeners = list(self._listeners) if awaited else []
        if event is not None:
            event.set()
        for listener in listeners:
            try:
                listener()
            except Exception:  # e.g. its view is gone (a deleted Qt object): never kill
                self.remove_ready_listener(listener)  # the worker others wait on


def _kind(job: tuple) -> tuple:
    """What a newer request replaces: the same axis, volume and in-plane ranges."""
    key = job[0]
    return (key[0], key[2], key[3])


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
