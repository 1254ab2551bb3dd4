"""CachedProxy.plane_nowait: planes read on the worker thread for the views, the
listeners told when they are there, requests read together, newer requests first."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.io.test_plane_cache import PLANE_BYTES, SHAPE, CountingProxy
from volview.errors import ImageReadError
from volview.io.plane_cache import CachedProxy

FULL = (slice(None), slice(None))


class StreamProxy(CountingProxy):
    """A stream-only proxy with ``read_planes``, like a NibabelProxy over gzip."""

    def __init__(self, array):
        super().__init__(array, random_access=False)
        self.batches: list[list[tuple]] = []
        self.fail: Exception | None = None

    def read_planes(self, jobs, deliver, cancelled=lambda: False, progress=None):
        self.batches.append([job[:3] for job in jobs])
        for job in jobs:
            if cancelled():
                return
            if self.fail is not None:
                raise self.fail
            deliver(job, self.plane(*job))


@pytest.fixture
def data():
    return np.random.default_rng(5).normal(size=SHAPE).astype(np.float32)


def arrivals(cache) -> threading.Semaphore:
    arrived = threading.Semaphore(0)
    cache.add_ready_listener(arrived.release)
    return arrived


def test_a_missing_plane_is_read_in_the_background_then_handed_out(data):
    cache = CachedProxy(StreamProxy(data), 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        assert cache.plane_nowait(0, 2, 1) is None
        assert arrived.acquire(timeout=10)
        np.testing.assert_array_equal(cache.plane_nowait(0, 2, 1), data[2, :, :, 1])
    finally:
        cache.close()


def test_requests_made_together_are_read_in_one_batch(data):
    inner = StreamProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        for axis, index in ((0, 1), (1, 3), (2, 20)):
            assert cache.plane_nowait(axis, index) is None
        for _ in range(3):
            assert arrived.acquire(timeout=10)
        assert inner.batches == [[(0, 1, 0), (1, 3, 0), (2, 20, 0)]]
        np.testing.assert_array_equal(cache.plane_nowait(1, 3), data[:, 3, :, 0])
    finally:
        cache.close()


def test_a_strided_request_of_a_stream_is_cut_from_the_whole_plane(data):
    inner = StreamProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        strided = (slice(0, 6, 2), slice(1, 40, 3))
        assert cache.plane_nowait(1, 4, 0, strided) is None
        assert arrived.acquire(timeout=10)
        np.testing.assert_array_equal(
            cache.plane_nowait(1, 4, 0, strided), data[0:6:2, 4, 1:40:3, 0]
        )
        zoomed = (slice(2, 5), slice(10, 20))
        np.testing.assert_array_equal(cache.plane_nowait(1, 4, 0, zoomed), data[2:5, 4, 10:20, 0])
        assert inner.reads == [(1, 4, 0)]
    finally:
        cache.close()


def test_a_newer_request_of_the_same_kind_replaces_a_waiting_one(data):
    inner = StreamProxy(data)
    inner.gate = threading.Event()
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        cache.plane_nowait(2, 0)  # holds the worker at the gate
        assert inner.entered.wait(timeout=10)
        for k in (5, 6, 7):  # the user steps on while plane 0 is read
            cache.plane_nowait(2, k)
        inner.gate.set()
        assert arrived.acquire(timeout=10) and arrived.acquire(timeout=10)
        assert [read[1] for read in inner.reads] == [0, 7]
        np.testing.assert_array_equal(cache.plane_nowait(2, 7), data[:, :, 7, 0])
    finally:
        inner.gate.set()
        cache.close()


def test_a_newer_request_stops_a_batch_and_keeps_the_planes_still_wanted(data):
    inner = StreamProxy(data)
    inner.gate = threading.Event()
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        for job in ((0, 1), (1, 1), (2, 5)):
            cache.plane_nowait(*job)
        assert inner.entered.wait(timeout=10)  # the batch reads (0, 1) at the gate
        cache.plane_nowait(1, 4)  # replaces (1, 1), not read yet; (2, 5) is still wanted
        inner.gate.set()
        for _ in range(3):
            assert arrived.acquire(timeout=10)
        assert inner.batches[0] == [(0, 1, 0), (1, 1, 0), (2, 5, 0)]
        assert sorted(inner.batches[1]) == [(1, 4, 0), (2, 5, 0)]
        assert (1, 1, 0) not in inner.reads
        np.testing.assert_array_equal(cache.plane_nowait(1, 4), data[:, 4, :, 0])
        np.testing.assert_array_equal(cache.plane_nowait(2, 5), data[:, :, 5, 0])
    finally:
        inner.gate.set()
        cache.close()


def test_a_failed_background_read_is_raised_by_every_later_request(data):
    """A failed plane is not read again (a damaged stream would only fail again, and
    each reader that asks would start another pass) until the cache is cleared."""
    inner = StreamProxy(data)
    inner.fail = ImageReadError("brain.nii.gz: could not read the voxel data")
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        cache.plane_nowait(0, 1)
        cache.plane_nowait(1, 1)
        assert arrived.acquire(timeout=10) and arrived.acquire(timeout=10)
        passes = len(inner.batches)
        for _ in range(2):
            with pytest.raises(ImageReadError, match=r"brain\.nii\.gz: could not read"):
                cache.plane_nowait(0, 1)
        assert len(inner.batches) == passes  # no new pass over the stream
        inner.fail = None
        cache.clear()  # forgets the failure: the next request reads again
        assert cache.plane_nowait(0, 1) is None
        assert arrived.acquire(timeout=10)
        np.testing.assert_array_equal(cache.plane_nowait(0, 1), data[1, :, :, 0])
    finally:
        cache.close()


def test_a_blocking_read_waits_for_a_plane_already_asked_for(data):
    inner = StreamProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    try:
        cache.plane_nowait(0, 2)
        cache.plane_nowait(2, 9)
        np.testing.assert_array_equal(cache.plane(2, 9), data[:, :, 9, 0])
        assert sorted(inner.reads) == [(0, 2, 0), (2, 9, 0)]  # not read twice
    finally:
        cache.close()


def test_random_access_proxies_are_read_one_plane_at_a_time(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)
    try:
        assert cache.plane_nowait(2, 3) is None
        assert arrived.acquire(timeout=10)
        np.testing.assert_array_equal(cache.plane_nowait(2, 3), data[:, :, 3, 0])
    finally:
        cache.close()


def test_a_listener_of_a_deleted_view_is_dropped(data):
    cache = CachedProxy(StreamProxy(data), 100 * PLANE_BYTES, prefetch=False)
    arrived = arrivals(cache)

    def gone() -> None:
        raise RuntimeError("wrapped C/C++ object has been deleted")

    cache.add_ready_listener(gone)
    try:
        cache.plane_nowait(0, 0)
        assert arrived.acquire(timeout=10)
        cache.plane_nowait(0, 1)
        assert arrived.acquire(timeout=10)
        assert cache.plane_nowait(0, 1) is not None
    finally:
        cache.close()
