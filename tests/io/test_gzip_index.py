"""The background gzip seek index: built on its own file object, adopted by the proxy."""

from __future__ import annotations

import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from volview.errors import CorruptFileError, OpenCancelled
from volview.io import gzip_index
from volview.io.gzip_index import adopt_index, build_index, gzip_proxy, index_target
from volview.io.images import open_image
from volview.io.proxy import RescaledProxy

NIBABEL_GZ = ["standard.nii.gz", "example4d.nii.gz", "example_nifti2.nii.gz", "test.mgz"]


def anatomy(shape, seed=0) -> np.ndarray:
    """Smooth blob plus noise: compresses like an image, not like zeros."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    blob = 1000 * np.exp(-3 * sum(a**2 for a in axes))
    return (blob + rng.normal(0, 30, shape)).clip(0).astype(np.uint16)


@pytest.fixture
def big_gz(tmp_path) -> Path:
    """About 12 MB uncompressed: several seek points at gzip_index.SPACING."""
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


def indexed_up_to(proxy) -> int:
    """Uncompressed offset of the proxy's last seek point."""
    points = list(gzip_proxy(proxy).gzip_file().seek_points())
    return points[-1][0] if points else 0


@pytest.mark.parametrize("name", NIBABEL_GZ)
def test_adopted_index_gives_nibabel_planes_on_nibabel_test_files(name):
    path = Path(data_path) / name
    image = open_image(path)
    try:
        image.proxy.plane(2, 0)  # a first view, read before the index exists
        target_path, expected = index_target(image.proxy)
        adopt_index(image.proxy, build_index(target_path, expected))
        planes_equal_nibabel(path, image.proxy)
    finally:
        image.close()


def test_adopted_index_covers_the_whole_file(big_gz):
    image = open_image(big_gz)
    try:
        image.proxy.plane(2, 3)
        before = indexed_up_to(image.proxy)
        progress = []
        index = build_index(*index_target(image.proxy), progress=lambda d, n: progress.append(d))
        adopt_index(image.proxy, index)
        _, expected = index_target(image.proxy)
        assert before < expected - gzip_index.SPACING
        assert indexed_up_to(image.proxy) > expected - gzip_index.SPACING
        assert progress[-1] == expected and progress == sorted(progress)
        planes_equal_nibabel(big_gz, image.proxy)
    finally:
        image.close()


def test_index_reaches_a_proxy_under_wrappers(big_gz):
    image = open_image(big_gz)
    try:
        wrapped = RescaledProxy(image.proxy, (1.0, 0.0), (2.0, 1.0))
        assert gzip_proxy(wrapped) is image.proxy
        assert index_target(wrapped) == (big_gz, image.proxy.stored_bytes)
    finally:
        image.close()


def test_uncompressed_image_has_no_index_target(tmp_path):
    path = tmp_path / "plain.nii"
    nib.save(nib.Nifti1Image(anatomy((8, 8, 8)), np.eye(4)), path)
    image = open_image(path)
    try:
        assert gzip_proxy(image.proxy) is None and index_target(image.proxy) is None
    finally:
        image.close()


def test_cancel_stops_early_and_leaves_the_proxy_working(big_gz, monkeypatch):
    monkeypatch.setattr(gzip_index, "STEP", 2**20)
    image = open_image(big_gz)
    try:
        target_path, expected = index_target(image.proxy)
        progress = []
        with pytest.raises(OpenCancelled, match=r"anatomy\.nii\.gz"):
            build_index(
                target_path,
                expected,
                progress=lambda done, total: progress.append(done),
                cancelled=lambda: len(progress) >= 3,
            )
        assert progress[-1] < expected // 2
        planes_equal_nibabel(big_gz, image.proxy)
    finally:
        image.close()


def test_truncated_file_is_named_in_a_clear_error(big_gz, tmp_path):
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(big_gz.read_bytes()[: big_gz.stat().st_size // 2])
    image = open_image(cut)
    try:
        target_path, expected = index_target(image.proxy)
        with pytest.raises(CorruptFileError, match=r"cut\.nii\.gz: the file is truncated"):
            build_index(target_path, expected)
    finally:
        image.close()


def test_reads_during_adoption_stay_correct(big_gz):
    image = open_image(big_gz)
    want = nib.load(big_gz).get_fdata()
    index = build_index(*index_target(image.proxy))
    errors: list[BaseException] = []
    done = threading.Event()

    def read_planes() -> None:
        try:
            for k in range(0, 512, 37):
                np.testing.assert_array_equal(image.proxy.plane(2, k), want[:, :, k])
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            done.set()

    reader = threading.Thread(target=read_planes)
    reader.start()
    try:
        adopt_index(image.proxy, index)
        reader.join(timeout=60)
        assert done.is_set() and errors == []
        np.testing.assert_array_equal(image.proxy.plane(2, 500), want[:, :, 500])
    finally:
        image.close()
