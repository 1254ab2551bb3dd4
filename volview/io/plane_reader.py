"""PlaneReader: the plane cache's worker thread (reads asked for without waiting, reads ahead).

Owns: the two queues and the one daemon worker thread that serves them, for a
``ReadTarget`` (the ``CachedProxy``):

- ``want(job)``: a plane asked for by ``plane_nowait``. Requests arriving within
  ``COALESCE_S`` of each other are read together (a target with ``read_many``, gzip,
  reads a sagittal and a coronal plane in one pass over the stream). A newer request
  of the same kind (axis, volume, in-plane ranges) replaces an older one, and stops a
  pass that has not delivered it yet. Once read, the result waits in ``take_ready``
  and the listeners (``add_listener``) are called on the worker thread; an error
  stays there, so that asking again does not start another failing pass. While a
  pass streams a wanted plane, the part read so far is published every
  ``PARTIAL_INTERVAL_S`` (``partial``) and the listeners are called then too.
- ``read_ahead(jobs)``: planes next to the last one read; they go after any wanted
  plane, one at a time, and a newer list replaces the old one.

A job is ``(key, axis, index, t, in_plane)``. Coordinate space: voxel indices, as
``volview.io.proxy``. Thread safety: one lock guards the queues; the target's own
lock guards its planes, and is never taken while this one is held.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

#: seconds the worker waits for more requests to read together (stream-only proxies)
COALESCE_S = 0.02
#: seconds between two publications of a streamed plane's part read so far
PARTIAL_INTERVAL_S = 0.25

Key = tuple
Deliver = Callable[[tuple, np.ndarray], None]
#: ``progress(args, values, n_read)``: the first ``n_read`` columns of ``values`` are read
Progress = Callable[[tuple, np.ndarray, int], None]


class ReadTarget(Protocol):
    """What the worker reads for: keys, the planes already held, storing, reading."""

    def key(self, axis: int, index: int, t: int, in_plane: tuple[slice, slice]) -> Key: ...

    def stored(self, key: Key) -> np.ndarray | None: ...

    def store(self, key: Key, plane: np.ndarray) -> None: ...

    def read_one(self, args: tuple) -> np.ndarray: ...

    def read_many(self, jobs: list[tuple], deliver: Deliver, cancelled, progress: Progress) -> bool:
        """Read several planes in one pass; False if the target cannot."""
        ...


class PlaneReader:
    """The worker of one ``ReadTarget`` (see the module docstring)."""

    def __init__(self, target: ReadTarget, coalesce: bool) -> None:
        self.target = target
        self.coalesce = coalesce  # wait COALESCE_S for more requests (stream-only inner)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._inflight: dict[Key, threading.Event] = {}
        self._pending: list[tuple] = []  # jobs to read ahead
        self._wanted: list[tuple] = []  # jobs asked for by plane_nowait
        self._wanted_at = 0.0  # time.monotonic() of the last want()
        self._ready: dict[Key, np.ndarray | BaseException] = {}  # read for want()
        self._awaited: set[Key] = set()  # keys want() was called for, not yet ready
        self._partial: dict[Key, tuple[np.ndarray, int]] = {}  # streamed, part read
        self._listeners: list[Callable[[], None]] = []
        self._worker: threading.Thread | None = None
        self._closed = False

    # -- requests ----------------------------------------------------------------------
    def want(self, job: tuple) -> None:
        """Read ``job`` before any read ahead, replacing a wanted job of its kind."""
        with self._lock:
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

    def take_ready(self, key: Key) -> np.ndarray | BaseException | None:
        """The plane read for ``want``, handed over once; or its error, kept."""
        with self._lock:
            found = self._ready.get(key)
            if found is not None and not isinstance(found, BaseException):
                del self._ready[key]
            return found

    def partial(self, key: Key) -> tuple[np.ndarray, int] | None:
        """While a wanted plane is streamed: its columns read so far (a read-only
        copy, ``(rows, n_read)``) and ``n_read``; else None."""
        with self._lock:
            return self._partial.get(key)

    def read_ahead(self, jobs: list[tuple]) -> None:
        """Read ``jobs`` when nothing is wanted; replaces the jobs not yet read."""
        with self._lock:
            if self._closed:
                return
            self._pending = list(jobs)
            if self._pending:
                self._start_worker()
                self._wake.notify_all()

    def wait_for(self, key: Key) -> None:
        """Return once a wanted or running read of ``key`` has ended."""
        with self._lock:
            self._wake.wait_for(lambda: all(job[0] != key for job in self._wanted))
            event = self._inflight.get(key)
        if event is not None:
            event.wait()

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # -- state -------------------------------------------------------------------------
    @property
    def asked_for(self) -> bool:
        """Whether a wanted plane is still to be handed over."""
        with self._lock:
            return bool(self._wanted or self._awaited)

    @property
    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being read; False on timeout."""
        with self._lock:
            return self._wake.wait_for(
                lambda: self._closed or not (self._pending or self._wanted or self._inflight),
                timeout,
            )

    def clear(self) -> None:
        """Forget the queues and the results (errors included)."""
        with self._lock:
            self._pending.clear()
            self._wanted.clear()
            self._ready.clear()
            self._partial.clear()

    def stop(self) -> None:
        """Stop the worker and wait for it."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._wanted.clear()
            self._wake.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)
        self.clear()

    # -- the worker thread -------------------------------------------------------------
    def _start_worker(self) -> None:  # lock held
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="volview-prefetch", daemon=True)
            self._worker.start()

    def _next_jobs(self) -> list[tuple] | None:
        """The jobs to read next (marked in flight): every wanted one, else one to read
        ahead; None when closing."""
        with self._lock:
            while not self._closed:
                if self._wanted:
                    wait = self._wanted_at + COALESCE_S - time.monotonic()
                    if wait > 0 and self.coalesce:
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

    def _work(self) -> None:
        while (jobs := self._next_jobs()) is not None:
            jobs_by_key = {job[0]: job for job in jobs}
            done: set[Key] = set()

            def deliver(args, plane, jobs_by_key=jobs_by_key, done=done) -> None:
                key = self.target.key(*args)
                plane.flags.writeable = False
                self.target.store(key, plane)
                done.add(key)
                self._finish(jobs_by_key[key], plane)

            try:
                stale = functools.partial(self._stale, jobs, done)
                self._read(jobs, deliver, stale, self._publisher())
            except Exception as exc:  # reported to want(); a read ahead just fails
                for job in jobs:
                    if job[0] not in done:
                        done.add(job[0])
                        self._finish(job, exc)
            for job in jobs:  # dropped for a newer request
                if job[0] not in done:
                    self._finish(job, None)

    def _read(self, jobs: list[tuple], deliver: Deliver, cancelled, progress: Progress) -> None:
        known = [(job, self.target.stored(job[0])) for job in jobs]
        jobs = [job for job, plane in known if plane is None]
        for job, plane in known:
            if plane is not None:  # read ahead meanwhile
                deliver(job[1:], plane)
        args = [job[1:] for job in jobs]
        if len(jobs) > 1 and self.target.read_many(args, deliver, cancelled, progress):
            return
        for job in jobs:
            if cancelled():
                return
            deliver(job[1:], self.target.read_one(job[1:]))

    def _publisher(self) -> Progress:
        """The ``progress`` of one pass: publishes a wanted plane's part read so far,
        at most every ``PARTIAL_INTERVAL_S``, and tells the listeners."""
        published_at: dict[Key, float] = {}
        started = time.monotonic()

        def progress(args: tuple, values: np.ndarray, n_read: int) -> None:
            key, now = self.target.key(*args), time.monotonic()
            if now - published_at.get(key, started) < PARTIAL_INTERVAL_S or n_read <= 0:
                return
            published_at[key] = now
            part = np.array(values[:, :n_read])
            part.flags.writeable = False
            with self._lock:
                if key not in self._awaited or self._closed:
                    return
                self._partial[key] = (part, n_read)
                listeners = list(self._listeners)
            self._tell(listeners)

        return progress

    def _stale(self, jobs: list[tuple], done: set) -> bool:
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
            self._partial.pop(key, None)
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
        self._tell(listeners)

    def _tell(self, listeners: list[Callable[[], None]]) -> None:
        for listener in listeners:
            try:
                listener()
            except Exception:  # e.g. its view is gone (a deleted Qt object): never kill
                self.remove_listener(listener)  # the worker others wait on


def _kind(job: tuple) -> tuple:
    """What a newer request replaces: the same axis, volume and in-plane ranges."""
    key = job[0]
    return (key[0], key[2], key[3])
