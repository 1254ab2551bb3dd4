"""Proxy building blocks: slicers, in-RAM arrays, page-span planning, closing."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from tests.factories import random_data, write_nifti
from volview.io.images import open_image
from volview.io.proxy import (
    FULL,
    ArrayProxy,
    MemmapProxy,
    VolumeProxy,
    dense_span,
    plane_slicer,
)

PAGE = mmap.PAGESIZE


def test_plane_slicer():
    assert plane_slicer(0, 3, 1, (FULL, slice(2))) == (3, FULL, slice(2), 1)
    assert plane_slicer(1, 3, 0, (slice(1), FULL)) == (slice(1), 3, FULL, 0)
    assert plane_slicer(2, 0, 2, (FULL, FULL)) == (FULL, FULL, 0, 2)
    with pytest.raises(ValueError, match="axis"):
        plane_slicer(3, 0, 0, (FULL, FULL))


@pytest.mark.parametrize("shape", [(5,), (5, 4), (5, 4, 3), (5, 4, 3, 2)])
def test_array_proxy_pads_to_four_dimensions(shape):
    data = random_data(shape, "int16")
    proxy = ArrayProxy(data)
    assert isinstance(proxy, VolumeProxy)
    full = data.reshape(shape + (1,) * (4 - len(shape)))
    assert proxy.shape == full.shape
    np.testing.assert_array_equal(proxy.plane(2, 0), full[:, :, 0, 0])
    assert proxy.plane(0, 1, 0, (slice(None, None, 2), FULL)).shape == full[1, ::2, :, 0].shape
    assert proxy.value((1, 0, 0)) == float(full[1, 0, 0, 0])
    proxy.close()
    assert proxy.shape == full.shape  # the shape stays; the data is released


@pytest.mark.parametrize("shape", [(), (1, 1, 1, 1, 2)])
def test_array_proxy_rejects_other_ranks(shape):
    with pytest.raises(ValueError, match="1-D to 4-D"):
        ArrayProxy(np.zeros(shape))


def test_dense_span_of_planes():
    """An axial plane is contiguous; sagittal rows shorter than a page abut; coronal rows don't."""
    volume = np.zeros((2048, 2048, 4), dtype=np.uint16, order="F")
    axial = volume[:, :, 1]
    sagittal = volume[5, :, :]
    coronal = volume[:, 5, :]
    assert dense_span(axial) == 2048 * 2048 * 2
    assert dense_span(sagittal) == (2048 * 4 - 1) * 2048 * 2 + 2
    assert dense_span(coronal) is None  # 4 KiB rows 8 MiB apart: most pages unneeded
    assert dense_span(axial[::16, ::16]) is None  # a sparse sample: rows far apart
    assert dense_span(axial[::-1]) is None
    assert dense_span(np.zeros((3, 1), np.float32)) == 12


def test_dense_span_small_rows():
    """Rows of a 256^3 int16 volume are 512 bytes: a sagittal plane needs every page."""
    volume = np.zeros((256, 256, 256), dtype=np.int16, order="F")
    assert dense_span(volume[100, :, :]) == (256 * 256 * 256 - 256) * 2 + 2
    assert dense_span(volume[:, 100, :]) is None
    big_rows = np.zeros((PAGE, 4, 4), dtype=np.int16, order="F")
    assert dense_span(big_rows[3, :, :]) is None  # 8 KiB between samples: pages skipped


@pytest.mark.parametrize("name", ["x.nii", "x.nii.gz"])
def test_planes_after_reads_of_every_kind(tmp_path, name):
    """Mixed dense and sparse reads on the same map all return the right data."""
    data = random_data((64, 48, 10, 2), "uint16", seed=21)
    image = open_image(write_nifti(tmp_path / name, data))
    proxy = image.proxy
    for t in range(2):
        for axis, index in [(0, 7), (2, 3), (1, 40), (0, 63), (2, 9), (1, 0)]:
            expected = np.take(data[..., t], index, axis=axis)
            np.testing.assert_array_equal(proxy.plane(axis, index, t), expected)
        np.testing.assert_array_equal(
            proxy.plane(2, 5, t, (slice(1, None, 4), slice(0, 30, 3))), data[1::4, 0:30:3, 5, t]
        )
    image.close()


def held_by_process(path: Path) -> bool:
    maps = Path("/proc/self/maps").read_text()
    return str(path.resolve()) in maps


def test_memmap_close_unmaps_even_after_planes_were_read(tmp_path):
    path = write_nifti(tmp_path / "m.nii", random_data((16, 16, 16), "int16"))
    image = open_image(path)
    planes = [image.proxy.plane(axis, 8) for axis in range(3)]
    assert held_by_process(path)
    image.close()
    assert not held_by_process(path)
    assert all(p.shape == (16, 16) for p in planes)  # the planes are copies, still valid


def test_voxel_value_outside_the_image_raises(tmp_path):
    image = open_image(write_nifti(tmp_path / "v.nii", np.zeros((3, 4, 5), np.int16)))
    for ijk, t in (((-1, 0, 0), 0), ((0, 4, 0), 0), ((0, 0, 0), 1)):
        with pytest.raises(IndexError, match="outside the image"):
            image.proxy.value(ijk, t)


@pytest.mark.parametrize("block_planes", [1, 3, 100])
@pytest.mark.parametrize(
    "in_plane",
    [(FULL, FULL), (slice(None, None, 2), slice(None, None, 3)), (slice(2, 7), slice(1, 10, 4))],
)
def test_compressed_side_planes_stream_in_axial_slabs(
    tmp_path, monkeypatch, block_planes, in_plane
):
    """A sagittal/coronal plane of a .nii.gz is read as whole axial slabs (of any
    size) and still equals nibabel, strided, cropped, scaled and at t > 0."""
    import nibabel as nib

    from volview.io import nibabel_proxy

    data = random_data((9, 11, 13, 3), "int16", seed=5)
    path = write_nifti(tmp_path / "side.nii.gz", data, np.eye(4), slope_inter=(0.5, -2.0))
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", block_planes * 9 * 11 * 2)
    want = nib.load(path).get_fdata()
    image = open_image(path)
    try:
        for axis, index in ((0, 4), (1, 10)):
            got = image.proxy.plane(axis, index, 2, in_plane)
            expected = np.take(want[..., 2], index, axis=axis)[in_plane]
            np.testing.assert_allclose(got, expected, rtol=1e-6)
    finally:
        image.close()


def mapped_file_kib() -> int:
    """Resident file-backed pages of this process (``RssFile``), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status on this platform")


def memmap_proxy(path: Path, resident_bytes: int) -> MemmapProxy:
    """The memory map of an uncompressed NIfTI file, with a chosen resident limit."""
    image = open_image(path)
    proxy = image.proxy
    kwargs = dict(offset=proxy.offset, slope=proxy.slope, inter=proxy.inter)
    image.close()
    return MemmapProxy(path, proxy.shape, proxy.dtype, **kwargs, resident_bytes=resident_bytes)


@pytest.mark.parametrize(
    ("axis", "in_plane"),
    [(0, (FULL, FULL)), (1, (FULL, FULL)), (2, (FULL, FULL)), (0, (slice(3, None, 5), FULL))],
)
def test_a_map_over_its_resident_limit_unmaps_what_a_plane_read(tmp_path, axis, in_plane):
    """A 32 MiB map read under a 1 MiB limit gives nibabel's values, in pieces, and
    leaves none of the plane's pages mapped; without the limit they stay mapped."""
    import nibabel as nib

    data = random_data((256, 256, 256), "int16", seed=3)
    path = write_nifti(tmp_path / "big.nii", data, np.eye(4), slope_inter=(2.0, -1.0))
    expected = np.take(nib.load(path).get_fdata(), 100, axis=axis)[in_plane]
    grown = {}
    for limit in (2**20, 2**30):
        proxy = memmap_proxy(path, limit)
        before = mapped_file_kib()
        got = proxy.plane(axis, 100, 0, in_plane)
        grown[limit] = mapped_file_kib() - before
        proxy.close()
        np.testing.assert_array_equal(got, expected)
    assert grown[2**20] < 2 * 1024  # at most a piece's pages, and they were dropped
    if axis == 0:  # a sagittal plane of 512-byte rows needs every page of the file
        assert grown[2**30] > 16 * 1024
