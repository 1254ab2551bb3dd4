"""CachedProxy: hits equal the inner planes, the byte budget holds, LRU order, prefetch
on a worker thread, concurrent readers and a clean stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.qt.conftest import write_image
from volview.io.images import open_image
from volview.io.plane_cache import (
    AHEAD,
    CachedProxy,
    budget_bytes_from_mb,
    with_plane_cache,
)
from volview.io.proxy import ArrayProxy, RescaledProxy
from volview.io.uncached import uncached

SHAPE = (6, 5, 40, 2)
PLANE_BYTES = 6 * 5 * 4  # one axis-2 plane of float32


class CountingProxy(ArrayProxy):
    """An in-RAM proxy that records every plane read (and can hold reads back)."""

    def __init__(self, array, random_access=True):
        super().__init__(array)
        self.random_access = random_access
        self.reads: list[tuple] = []
        self.reads_lock = threading.Lock()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()  # a read is waiting at the gate
        self.closed = False
        self.active = 0
        self.most_active = 0

    def plane(self, axis, index, t=0, in_plane=(slice(None), slice(None))):
        with self.reads_lock:
            self.reads.append((axis, index, t))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if self.gate is not None:
                self.entered.set()
                self.gate.wait(timeout=10)
            return super().plane(axis, index, t, in_plane)
        finally:
            with self.reads_lock:
                self.active -= 1

    def close(self):
        self.closed = True
        super().close()


@pytest.fixture
def data():
    return np.random.default_rng(3).normal(size=SHAPE).astype(np.float32)


def test_hit_returns_equal_plane_without_reading_again(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 10 * PLANE_BYTES, prefetch=False)
    first = cache.plane(2, 7, 1)
    second = cache.plane(2, 7, 1)
    np.testing.assert_array_equal(first, data[:, :, 7, 1])
    np.testing.assert_array_equal(second, data[:, :, 7, 1])
    assert inner.reads == [(2, 7, 1)]
    assert (cache.hits, cache.misses) == (1, 1)
    strided = (slice(0, 6, 2), slice(None))
    np.testing.assert_array_equal(cache.plane(2, 7, 1, strided), data[0:6:2, :, 7, 1])
    assert len(inner.reads) == 2  # another in-plane range is another plane
    np.testing.assert_array_equal(cache.plane(0, 2), data[2, :, :, 0])
    np.testing.assert_array_equal(cache.plane(1, 4, 1), data[:, 4, :, 1])


def test_callers_cannot_change_the_cached_plane(data):
    cache = CachedProxy(CountingProxy(data), 10 * PLANE_BYTES, prefetch=False)
    plane = cache.plane(2, 3)
    plane[:] = -1  # e.g. RescaledProxy scales the plane it gets in place
    np.testing.assert_array_equal(cache.plane(2, 3), data[:, :, 3, 0])


def test_byte_budget_is_never_exceeded_and_lru_goes_first(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 3 * PLANE_BYTES, prefetch=False)
    for k in (0, 1, 2):
        cache.plane(2, k)
    cache.plane(2, 0)  # 0 becomes the most recent: 1 is now the oldest
    cache.plane(2, 5)
    assert cache.cached_bytes <= 3 * PLANE_BYTES
    assert not cache.contains(2, 1)
    assert all(cache.contains(2, k) for k in (0, 2, 5))
    for k in np.random.default_rng(0).integers(0, 40, 200):
        cache.plane(2, int(k), int(k) % 2)
        assert cache.cached_bytes <= 3 * PLANE_BYTES


def test_plane_larger_than_the_budget_is_read_but_not_kept(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, PLANE_BYTES - 1, prefetch=False)
    cache.plane(2, 0)
    cache.plane(2, 0)
    assert len(inner.reads) == 2
    assert cache.cached_bytes == 0


def test_prefetch_reads_neighbours_in_the_background_and_a_later_read_hits(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES)
    try:
        cache.plane(2, 10)
        cache.plane(2, 11)  # one step up: read ahead 12..14 and 10 behind
        wanted = [11 + n for n in range(1, AHEAD + 1)]
        assert cache.wait_idle(timeout=10)
        assert cache.worker_alive
        assert all(cache.contains(2, k) for k in wanted)
        assert sorted(r[1] for r in inner.reads) == [10, 11, *wanted]
        hits = cache.hits
        for k in wanted:
            np.testing.assert_array_equal(cache.plane(2, k), data[:, :, k, 0])
        assert cache.hits - hits >= 1  # the first is a hit; stepping on prefetches more
        assert sorted(r[1] for r in inner.reads)[: 2 + len(wanted)] == [10, 11, *wanted]
        assert len({r[1] for r in inner.reads}) == len(inner.reads)  # nothing read twice
    finally:
        cache.close()


def test_prefetch_never_blocks_the_caller(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES)
    try:
        cache.plane(2, 20)
        inner.gate = threading.Event()  # the disk "hangs" for the worker
        cache.prefetch(2, 20, direction=-1)  # returns although the worker is stuck
        assert inner.entered.wait(timeout=10)  # the worker is reading plane 19
        assert cache.contains(2, 20)
        assert not cache.contains(2, 19)
        inner.gate.set()
        np.testing.assert_array_equal(cache.plane(2, 19), data[:, :, 19, 0])
        assert [r for r in inner.reads if r[1] == 19] == [(2, 19, 0)]
    finally:
        cache.close()


def test_stale_prefetch_requests_are_replaced(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES)
    try:
        inner.gate = threading.Event()
        cache.prefetch(2, 0, direction=1)  # the worker blocks on plane 1
        assert inner.entered.wait(timeout=10)
        cache.prefetch(2, 30, direction=1)  # planes 2 and 3 are no longer wanted
        inner.gate.set()
        assert cache.wait_idle(timeout=10)
        assert all(cache.contains(2, k) for k in (31, 32, 33, 29))
        read = {r[1] for r in inner.reads}
        assert {2, 3}.isdisjoint(read)
    finally:
        cache.close()


def test_concurrent_readers_get_the_right_planes(data):
    inner = CountingProxy(data, random_access=False)  # like gzip: reads are serialised
    cache = CachedProxy(inner, 8 * PLANE_BYTES)
    errors = []

    def reader(seed):
        rng = np.random.default_rng(seed)
        for _ in range(150):
            k, t = int(rng.integers(0, 40)), int(rng.integers(0, 2))
            if not np.array_equal(cache.plane(2, k, t), data[:, :, k, t]):
                errors.append((k, t))

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    assert errors == []
    assert inner.most_active == 1  # never two reads of the inner proxy at once
    assert cache.cached_bytes == 0


def test_close_stops_the_worker_and_closes_the_inner_proxy(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES)
    cache.plane(2, 4)
    cache.plane(2, 5)
    cache.plane(2, 6)  # a hit on a prefetched plane (or a read): the worker is running
    assert cache.worker_alive
    cache.close()
    assert not cache.worker_alive
    assert inner.closed
    cache.prefetch(2, 10)  # after close: ignored, no new worker
    assert not cache.worker_alive


def test_uncached_view_reads_without_touching_the_cache(data):
    inner = CountingProxy(data)
    cache = CachedProxy(inner, 100 * PLANE_BYTES, prefetch=False)
    view = uncached(cache)
    np.testing.assert_array_equal(view.plane(2, 8, 1), data[:, :, 8, 1])
    assert not cache.contains(2, 8, 1)
    rescaled = RescaledProxy(cache, (1.0, 0.0), (2.0, 1.0))
    np.testing.assert_allclose(uncached(rescaled).plane(2, 9), data[:, :, 9, 0] * 2 + 1)
    assert not cache.contains(2, 9)
    assert cache.hits == 0


def test_image_file_through_the_cache(tmp_path, data):
    path = write_image(tmp_path / "a.nii", data)
    image = with_plane_cache(open_image(path), 2**20)
    assert isinstance(image.proxy, CachedProxy)
    assert image.proxy.access == "memory-mapped"
    np.testing.assert_array_equal(image.proxy.plane(1, 3, 1), data[:, 3, :, 1])
    assert image.proxy.value((1, 2, 3), 1) == pytest.approx(float(data[1, 2, 3, 1]))
    np.testing.assert_array_equal(image.proxy.series((1, 2, 3)), data[1, 2, 3, :])
    assert with_plane_cache(image, 2**20) is image
    image.close()
    assert with_plane_cache(open_image(path), 0).proxy.__class__.__name__ == "MemmapProxy"


@pytest.mark.parametrize(("text", "expected"), [("64", 64 * 2**20), ("x", 1024 * 2**20)])
def test_budget_from_setting(text, expected):
    assert budget_bytes_from_mb(text) == expected


def test_without_random_access_only_contiguous_planes_are_read_ahead(data):
    inner = CountingProxy(data, random_access=False)
    cache = CachedProxy(inner, 100 * PLANE_BYTES)
    try:
        cache.plane(0, 1)
        cache.plane(0, 2)  # sagittal steps in a gzip stream: no read-ahead
        assert cache.wait_idle(timeout=10)
        assert inner.reads == [(0, 1, 0), (0, 2, 0)]
        cache.plane(2, 5)
        cache.plane(2, 6)
        assert cache.wait_idle(timeout=10)
        assert all(cache.contains(2, k) for k in (7, 8, 9))
    finally:
        cache.close()
