"""Reading .nii.gz through a GzipStream: planes equal nibabel's, side planes in one
pass, damaged streams named in a clear error, and no abort at interpreter exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.io.test_gzip_index import anatomy
from volview.errors import CorruptFileError, ImageReadError
from volview.io import nibabel_proxy
from volview.io.gzip_stream import open_gzip_stream
from volview.io.images import open_image
from volview.io.nibabel_proxy import NibabelProxy

FULL = slice(None)


@pytest.fixture
def scaled_4d(tmp_path) -> Path:
    """int16 with a slope and intercept, two volumes, 64 x 48 x 200."""
    path = tmp_path / "scaled.nii.gz"
    img = nib.Nifti1Image(
        np.stack([anatomy((64, 48, 200), s, np.int16) for s in (1, 2)], -1), np.eye(4)
    )
    img.header.set_slope_inter(0.5, -3.0)
    nib.save(img, path)
    return path


def test_read_planes_gives_nibabel_values_for_every_kind_of_plane(scaled_4d, monkeypatch):
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 7)  # 7 planes
    want = nib.load(scaled_4d).get_fdata()
    image = open_image(scaled_4d)
    jobs = [
        (0, 10, 1, (FULL, FULL)),
        (1, 47, 1, (slice(3, 40, 2), slice(5, 190, 3))),
        (2, 150, 1, (slice(0, 64, 4), FULL)),
        (2, 7, 0, (FULL, FULL)),
    ]
    got = []
    try:
        image.proxy.read_planes(jobs, lambda job, plane: got.append((job, plane)))
    finally:
        image.close()
    expected = [
        want[10, :, :, 1],
        want[3:40:2, 47, 5:190:3, 1],
        want[0:64:4, :, 150, 1],
        want[:, :, 7, 0],
    ]
    assert sorted(map(str, (job for job, _ in got))) == sorted(map(str, jobs))
    for job, plane in got:
        np.testing.assert_allclose(plane, expected[jobs.index(job)], rtol=1e-6)
        assert plane.dtype == np.float32


def test_side_planes_of_one_volume_share_one_pass(scaled_4d, monkeypatch):
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 10)
    slabs = []
    real = NibabelProxy._slab

    def counted(self, first, last, t):
        slabs.append((first, last, t))
        return real(self, first, last, t)

    monkeypatch.setattr(NibabelProxy, "_slab", counted)
    image = open_image(scaled_4d)
    try:
        jobs = [(0, 30, 0, (FULL, FULL)), (1, 20, 0, (FULL, FULL)), (2, 100, 0, (FULL, FULL))]
        image.proxy.read_planes(jobs, lambda job, plane: None)
    finally:
        image.close()
    assert [s[:2] for s in slabs] == [(k, k + 9) for k in range(0, 200, 10)]


def test_axial_plane_is_delivered_before_the_pass_ends(scaled_4d, monkeypatch):
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 10)
    image = open_image(scaled_4d)
    order = []
    try:
        jobs = [(0, 30, 0, (FULL, FULL)), (2, 20, 0, (FULL, FULL))]
        image.proxy.read_planes(jobs, lambda job, plane: order.append(job[0]))
    finally:
        image.close()
    assert order == [2, 0]


def test_a_cancelled_pass_delivers_nothing_more(scaled_4d, monkeypatch):
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 10)
    image = open_image(scaled_4d)
    polls, got = [], []
    try:
        jobs = [(0, 30, 0, (FULL, FULL)), (2, 150, 0, (FULL, FULL))]
        image.proxy.read_planes(
            jobs, lambda job, plane: got.append(job), lambda: polls.append(1) or len(polls) > 3
        )
        assert got == [] and len(polls) == 4
        np.testing.assert_allclose(
            image.proxy.plane(0, 30), nib.load(scaled_4d).dataobj[30, :, :, 0], rtol=1e-6
        )
    finally:
        image.close()


def test_damaged_deflate_data_is_a_read_error_naming_the_file(tmp_path):
    path = tmp_path / "damaged.nii.gz"
    nib.save(nib.Nifti1Image(anatomy((96, 96, 300), dtype=np.int16), np.eye(4)), path)
    data = bytearray(path.read_bytes())
    late = len(data) * 3 // 4  # the header still reads; the voxels near the end do not
    data[late : late + 2000] = bytes(2000)
    path.write_bytes(bytes(data))
    image = open_image(path)
    try:
        with pytest.raises(ImageReadError, match=r"damaged\.nii\.gz"):
            image.proxy.plane(0, 32)
    finally:
        image.close()


def test_a_file_that_is_not_gzip_is_refused_before_rapidgzip_sees_it(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(b"not gzip at all" * 10)
    with pytest.raises(CorruptFileError, match=r"plain\.gz: not a gzip file"):
        open_gzip_stream(path)


def test_exiting_without_closing_a_stream_does_not_abort(scaled_4d):
    """rapidgzip aborts the process when its threads outlive the interpreter."""
    script = (
        "import sys; from volview.io.images import open_image; "
        "image = open_image(sys.argv[1]); image.proxy.plane(0, 3); print('read')"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(scaled_4d)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "read"
