"""The background gzip seek index: the proxy's own stream read to its end, step by step."""

from __future__ import annotations

import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from volview.errors import CorruptFileError, OpenCancelled
from volview.io import gzip_index
from volview.io.gzip_index import build_index, gzip_proxy
from volview.io.images import open_image
from volview.io.proxy import RescaledProxy

NIBABEL_GZ = ["standard.nii.gz", "example4d.nii.gz", "example_nifti2.nii.gz", "test.mgz"]


def anatomy(shape, seed=0, dtype=np.uint16) -> np.ndarray:
    """Smooth blob plus noise: compresses like an image, not like zeros."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    blob = 1000 * np.exp(-3 * sum(a**2 for a in axes))
    return (blob + rng.normal(0, 30, shape)).clip(0).astype(dtype)


@pytest.fixture
def big_gz(tmp_path) -> Path:
    """About 12 MB uncompressed: several build steps and several rapidgzip chunks."""
    path = tmp_path / "anatomy.nii.gz"
    nib.save(nib.Nifti1Image(anatomy((128, 96, 512)), np.diag([1, 1, 2, 1])), path)
    return path


def planes_equal_nibabel(path: Path, proxy) -> None:
    data = nib.load(path).get_fdata(dtype=np.float64)
    data = data.reshape((*data.shape[:3], -1))
    for axis in range(3):
        for index in (0, data.shape[axis] // 2, data.shape[axis] - 1):
            for t in {0, data.shape[3] - 1}:
                want = np.take(data[..., t], index, axis=axis)
                np.testing.assert_allclose(proxy.plane(axis, index, t), want, rtol=1e-6)


def frontier(proxy) -> int:
    return gzip_proxy(proxy).stream.frontier


@pytest.mark.parametrize("name", NIBABEL_GZ)
def test_index_gives_nibabel_planes_on_nibabel_test_files(name):
    path = Path(data_path) / name
    image = open_image(path)
    try:
        image.proxy.plane(2, 0)  # a first view, read before the index exists
        build_index(image.proxy)
        assert frontier(image.proxy) >= image.proxy.stored_bytes
        planes_equal_nibabel(path, image.proxy)
    finally:
        image.close()


def test_index_covers_the_whole_file_with_monotonic_progress(big_gz, monkeypatch):
    monkeypatch.setattr(gzip_index, "STEP", 2**20)
    image = open_image(big_gz)
    try:
        image.proxy.plane(2, 3)
        expected = image.proxy.stored_bytes
        assert frontier(image.proxy) < expected // 4
        progress = []
        build_index(image.proxy, progress=lambda done, total: progress.append((done, total)))
        assert frontier(image.proxy) >= expected
        assert progress[-1] == (expected, expected) and len(progress) > 4
        assert [d for d, _ in progress] == sorted(d for d, _ in progress)
        planes_equal_nibabel(big_gz, image.proxy)
    finally:
        image.close()


def test_index_reaches_a_proxy_under_wrappers(big_gz):
    image = open_image(big_gz)
    try:
        wrapped = RescaledProxy(image.proxy, (1.0, 0.0), (2.0, 1.0))
        assert gzip_proxy(wrapped) is image.proxy
    finally:
        image.close()


def test_uncompressed_image_has_no_gzip_proxy(tmp_path):
    path = tmp_path / "plain.nii"
    nib.save(nib.Nifti1Image(anatomy((8, 8, 8)), np.eye(4)), path)
    image = open_image(path)
    try:
        assert gzip_proxy(image.proxy) is None
    finally:
        image.close()


def test_cancel_stops_early_and_leaves_the_proxy_working(big_gz, monkeypatch):
    monkeypatch.setattr(gzip_index, "STEP", 2**20)
    image = open_image(big_gz)
    try:
        progress = []
        with pytest.raises(OpenCancelled, match=r"anatomy\.nii\.gz"):
            build_index(
                image.proxy,
                progress=lambda done, total: progress.append(done),
                cancelled=lambda: len(progress) >= 3,
            )
        assert progress[-1] < image.proxy.stored_bytes // 2
        planes_equal_nibabel(big_gz, image.proxy)
    finally:
        image.close()


def test_truncated_file_is_named_in_a_clear_error(big_gz, tmp_path):
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(big_gz.read_bytes()[: big_gz.stat().st_size // 2])
    image = open_image(cut)
    try:
        with pytest.raises(CorruptFileError, match=r"cut\.nii\.gz: the file is truncated"):
            build_index(image.proxy)
    finally:
        image.close()


def test_reads_during_the_build_stay_correct(big_gz, monkeypatch):
    monkeypatch.setattr(gzip_index, "STEP", 2**20)
    image = open_image(big_gz)
    want = nib.load(big_gz).get_fdata()
    errors: list[BaseException] = []

    def read_planes() -> None:
        try:
            for k in range(511, 0, -37):
                np.testing.assert_array_equal(image.proxy.plane(2, k), want[:, :, k])
            np.testing.assert_array_equal(image.proxy.plane(0, 64), want[64])
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    reader = threading.Thread(target=read_planes)
    reader.start()
    try:
        build_index(image.proxy)
        reader.join(timeout=60)
        assert not reader.is_alive() and errors == []
    finally:
        image.close()
