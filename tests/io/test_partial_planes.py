"""Side planes of a .nii.gz shown as they are read: ``read_planes`` reports how far
each plane has got, and ``CachedProxy.partial_plane`` hands out the part read so far
while the plane cache's worker streams it."""

from __future__ import annotations

import threading

import nibabel as nib
import numpy as np
import pytest

from tests.io.test_gzip_stream import scaled_4d  # noqa: F401 (a fixture)
from volview.io import nibabel_proxy, plane_reader
from volview.io.images import open_image
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.plane_cache import CachedProxy

FULL = slice(None)
PLANE_BYTES = 64 * 48 * 2  # one axial plane of ``scaled_4d`` (int16)


@pytest.fixture(autouse=True)
def small_slabs(monkeypatch):
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", PLANE_BYTES * 7)  # 7 planes


def test_read_planes_reports_each_side_plane_as_it_grows(scaled_4d):  # noqa: F811
    want = nib.load(scaled_4d).get_fdata()
    jobs = [(0, 10, 1, (FULL, FULL)), (1, 47, 1, (slice(3, 40, 2), slice(5, 190, 3)))]
    expected = [want[10, :, :, 1], want[3:40:2, 47, 5:190:3, 1]]
    seen: dict[int, list[int]] = {0: [], 1: []}
    image = open_image(scaled_4d)

    def progress(job, values, n_read):
        seen[job[0]].append(n_read)
        np.testing.assert_allclose(values[:, :n_read], expected[job[0]][:, :n_read], rtol=1e-6)

    try:
        image.proxy.read_planes(jobs, lambda job, plane: None, progress=progress)
    finally:
        image.close()
    # a report after each slab of 7 axial indices (the last one read is 6, 13, ...)
    # that does not end the plane: the sagittal plane runs to 199, the coronal to 188
    assert seen[0] == [last + 1 for last in range(6, 199, 7)]
    assert seen[1] == [len(range(5, last + 1, 3)) for last in range(6, 188, 7)]


class PassHold:
    """Holds a pass over the stream once a side plane has ``n`` axial indices read,
    until ``release`` is set; ``reached`` says it got there."""

    def __init__(self, monkeypatch, n: int) -> None:
        self.n, self.reached, self.release = n, threading.Event(), threading.Event()
        real = NibabelProxy.read_planes

        def held(proxy, jobs, deliver, cancelled=lambda: False, progress=None):
            def report_then_hold(job, values, n_read):
                if progress is not None:
                    progress(job, values, n_read)
                if n_read >= self.n and not self.release.is_set():
                    self.reached.set()
                    self.release.wait(timeout=30)

            return real(proxy, jobs, deliver, cancelled, report_then_hold)

        monkeypatch.setattr(NibabelProxy, "read_planes", held)
        monkeypatch.setattr(plane_reader, "PARTIAL_INTERVAL_S", 0.0)


@pytest.fixture
def held_at(monkeypatch):
    """The worker's pass held at 100 axial indices (see ``PassHold``)."""
    hold = PassHold(monkeypatch, n=100)
    yield hold
    hold.release.set()


def test_the_part_read_so_far_is_handed_out_while_the_pass_runs(scaled_4d, held_at):  # noqa: F811
    want = nib.load(scaled_4d).get_fdata()
    cache = CachedProxy(open_image(scaled_4d).proxy, 2**30, prefetch=False)
    calls = threading.Semaphore(0)
    cache.add_ready_listener(calls.release)
    try:
        assert cache.partial_plane(0, 10) is None
        assert cache.plane_nowait(0, 10) is None and cache.plane_nowait(1, 20) is None
        assert held_at.reached.wait(timeout=30)
        assert calls.acquire(timeout=10)  # the listeners heard of the part
        part = cache.partial_plane(0, 10)
        n_read = part.shape[1]
        assert held_at.n <= n_read < 200
        np.testing.assert_allclose(part, want[10, :, :n_read, 0], rtol=1e-6)
        n_coronal = cache.partial_plane(1, 20).shape[1]  # reported after the sagittal
        assert n_read - 7 <= n_coronal <= n_read
        crop = cache.partial_plane(1, 20, 0, (slice(3, 40, 2), slice(5, 190, 3)))
        np.testing.assert_allclose(crop, want[3:40:2, 20, 5:n_coronal:3, 0], rtol=1e-6)
        assert cache.partial_plane(1, 20, 0, (FULL, slice(n_coronal, 200))) is None
        assert cache.partial_plane(2, 100) is None  # axial planes arrive whole
        assert cache.partial_plane(0, 11) is None  # not asked for
        assert cache.plane_nowait(0, 10) is None  # still not read whole
    finally:
        held_at.release.set()
    assert cache.wait_idle(timeout=30)
    np.testing.assert_allclose(cache.plane_nowait(0, 10), want[10, :, :, 0], rtol=1e-6)
    assert cache.partial_plane(0, 10) is None and cache.partial_plane(1, 20) is None
    cache.close()
