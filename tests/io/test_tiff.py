"""TIFF stacks: planes equal tifffile.imread, memory-mapped or page by page."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from volview.errors import CorruptFileError, ImageReadError
from volview.io.images import open_image
from volview.io.tiff import PAGE_ACCESS, TiffPageProxy

CROPS = [(slice(None), slice(None)), (slice(1, None, 2), slice(None, None, 3))]


def stack(shape=(5, 6, 7), dtype=np.uint16) -> np.ndarray:
    """A ``(z, y, x)`` stack of distinct values."""
    return (np.arange(int(np.prod(shape))) % 60000).reshape(shape).astype(dtype)


def assert_planes_equal(image, zyx: np.ndarray, t: int = 0) -> None:
    """Every plane along i (x), j (y) and k (z), with strided crops, equals numpy's."""
    xyz = zyx.transpose(2, 1, 0)
    assert image.shape[:3] == xyz.shape
    for axis in range(3):
        for index in range(xyz.shape[axis]):
            for crop in CROPS:
                where = [*crop]
                where.insert(axis, index)
                expected = xyz[tuple(where)].astype(np.float32)
                got = image.proxy.plane(axis, index, t, crop)
                np.testing.assert_array_equal(got, expected, err_msg=f"{axis=} {index=}")


@pytest.fixture
def opened():
    images = []

    def open_(path):
        images.append(open_image(path))
        return images[-1]

    yield open_
    for image in images:
        image.close()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, ">u2", np.float32])
def test_uncompressed_stack_is_memory_mapped(tmp_path, opened, dtype):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack(dtype=dtype))
    image = opened(path)
    assert image.proxy.access == "memory-mapped"
    assert image.shape == (7, 6, 5, 1)
    assert_planes_equal(image, tifffile.imread(path))
    assert image.proxy.value((6, 0, 4)) == tifffile.imread(path)[4, 0, 6]


@pytest.mark.parametrize(
    "options", [{"compression": "zlib"}, {"compression": "zlib", "tile": (16, 16)}]
)
def test_compressed_stack_is_read_page_by_page(tmp_path, opened, options):
    path = tmp_path / "stack.tiff"
    tifffile.imwrite(path, stack((4, 20, 33)), photometric="minisblack", **options)
    image = opened(path)
    assert isinstance(image.proxy, TiffPageProxy)
    assert image.proxy.access == PAGE_ACCESS
    assert not image.proxy.random_access
    assert_planes_equal(image, tifffile.imread(path))


def test_pages_written_one_by_one_are_read_page_by_page(tmp_path, opened):
    path = tmp_path / "pages.tif"
    data = stack()
    with tifffile.TiffWriter(path) as writer:
        for page in data:
            writer.write(page, metadata=None)
    image = opened(path)
    assert image.proxy.access == PAGE_ACCESS
    assert_planes_equal(image, data)


def test_page_cache_stays_within_its_byte_bound(tmp_path, opened):
    path = tmp_path / "stack.tif"
    data = stack((6, 10, 10))
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib")
    proxy = opened(path).proxy
    proxy.cache_bytes = 2 * data[0].nbytes
    np.testing.assert_array_equal(proxy.plane(1, 3), data[:, 3, :].T.astype(np.float32))
    assert proxy._cached_bytes() <= proxy.cache_bytes


def test_imagej_hyperstack_time_and_spacing(tmp_path, opened):
    path = tmp_path / "hyper.tif"
    data = stack((3, 4, 5, 6))  # t, z, y, x
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),  # pixels per micron
        metadata={"axes": "TZYX", "spacing": 2.0, "unit": "um"},
    )
    image = opened(path)
    assert image.shape == (6, 5, 4, 3)
    assert image.proxy.access == "memory-mapped"
    np.testing.assert_allclose(image.voxel_sizes, (0.25e-3, 0.5e-3, 2.0e-3))
    np.testing.assert_allclose(np.diag(image.affine)[:3], (0.25e-3, 0.5e-3, 2.0e-3))
    assert not image.orientation_known
    for t in range(3):
        assert_planes_equal(image, data[t], t)
    np.testing.assert_array_equal(image.proxy.series((5, 3, 2)), data[:, 2, 3, 5])


def test_first_channel_of_an_imagej_stack(tmp_path, opened):
    path = tmp_path / "channels.tif"
    data = stack((4, 2, 6, 7))  # z, c, y, x
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZCYX"})
    image = opened(path)
    assert image.proxy.access == PAGE_ACCESS
    assert "2 channels: showing the first" in image.notes
    assert_planes_equal(image, data[:, 0])


def test_first_channel_of_an_rgb_stack(tmp_path, opened):
    path = tmp_path / "rgb.tif"
    data = np.random.default_rng(0).integers(0, 255, (3, 6, 7, 3), dtype=np.uint8)
    tifffile.imwrite(path, data, photometric="rgb")
    image = opened(path)
    assert "3 channels: showing the first" in image.notes
    assert_planes_equal(image, data[..., 0])


def test_resolution_tags_in_centimetres(tmp_path, opened):
    path = tmp_path / "cm.tif"
    tifffile.imwrite(path, stack(), resolution=(100, 50), resolutionunit="CENTIMETER")
    image = opened(path)
    np.testing.assert_allclose(image.voxel_sizes, (0.1, 0.2, 0.1))
    assert any("slice spacing unknown" in note for note in image.notes)


def test_without_a_pixel_size_voxels_are_1_mm(tmp_path, opened):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, stack())
    image = opened(path)
    assert image.voxel_sizes == (1.0, 1.0, 1.0)
    assert any("voxel size 1 mm" in note for note in image.notes)


def test_not_a_tiff_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "fake.tif"
    path.write_bytes(b"this is not a tiff file at all")
    with pytest.raises(CorruptFileError, match=r"fake\.tif: not a readable TIFF file"):
        open_image(path)


@pytest.mark.parametrize("options", [{}, {"imagej": True, "metadata": {"axes": "ZYX"}}])
def test_truncated_uncompressed_tiff_is_refused(tmp_path, options):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, stack((5, 60, 70)), **options)
    path.write_bytes(path.read_bytes()[:20000])
    with pytest.raises(CorruptFileError, match=r"cut\.tif: the file is truncated"):
        open_image(path)


def test_truncated_compressed_tiff_is_refused(tmp_path):
    path = tmp_path / "cut.tif"
    data = np.random.default_rng(0).integers(0, 60000, (5, 60, 70), dtype=np.uint16)
    tifffile.imwrite(path, data, compression="zlib", metadata=None)
    with tifffile.TiffFile(path) as tif:  # cut inside the last page's data, keep the IFDs
        last = tif.pages[-1]
        cut = last.dataoffsets[0] + last.databytecounts[0] // 2
    raw = bytearray(path.read_bytes())
    path.write_bytes(bytes(raw[:cut]))
    with pytest.raises(CorruptFileError, match=r"cut\.tif: the file is truncated: page 5"):
        open_image(path)


def test_corrupt_page_data_gives_a_read_error_naming_the_file(tmp_path, opened):
    path = tmp_path / "bad.tif"
    data = np.random.default_rng(0).integers(0, 60000, (3, 30, 30), dtype=np.uint16)
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[1].dataoffsets[0], tif.pages[1].databytecounts[0]
    raw = bytearray(path.read_bytes())
    raw[offset : offset + count] = b"\xff" * count
    path.write_bytes(bytes(raw))
    image = opened(path)
    np.testing.assert_array_equal(image.proxy.plane(2, 0), data[0].T.astype(np.float32))
    with pytest.raises(ImageReadError, match=r"bad\.tif: could not decode page 2"):
        image.proxy.plane(2, 1)
