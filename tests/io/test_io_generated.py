"""Files written by nibabel in every supported flavour, read back through volview's proxies."""

from __future__ import annotations

import gzip
import struct

import nibabel as nib
import numpy as np
import pytest

from tests.factories import (
    NIFTI_DTYPES,
    assert_planes_match,
    fdata4,
    patch_header,
    random_data,
    write_image,
    write_nifti,
)
from volview.io.images import open_image

SHAPE3 = (7, 6, 5)
SHAPE4 = (6, 5, 4, 3)
AFFINE = np.array(
    [[-2.0, 0.0, 0.0, 30.0], [0.0, 1.5, 0.0, -20.0], [0.0, 0.0, 3.0, -10.0], [0.0, 0.0, 0.0, 1.0]]
)
IN_PLANE = (slice(1, None, 3), slice(0, 5, 2))
#: byte offsets in a NIfTI-1 header
QFORM_CODE_OFFSET = 252
SROW_Y_OFFSET = 296


def check_against_nibabel(path, access: str, format_name: str | None = None) -> None:
    """Open ``path`` with volview; planes, strided planes and values equal nibabel's."""
    img = nib.load(path)
    data4 = fdata4(img)
    image = open_image(path)
    try:
        assert image.shape == data4.shape
        assert image.proxy.access == access
        if format_name is not None:
            assert image.format_name == format_name
        np.testing.assert_allclose(image.affine, img.affine)
        assert_planes_match(image.proxy, data4)
        assert_planes_match(image.proxy, data4, in_plane=IN_PLANE)
        ijk = tuple(n // 2 for n in data4.shape[:3])
        for t in range(data4.shape[3]):
            assert image.proxy.value(ijk, t) == pytest.approx(data4[(*ijk, t)], rel=1e-6)
    finally:
        image.close()


def header_is_big_endian(path) -> bool:
    """sizeof_hdr (348 or 540) tells a NIfTI header's byte order."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        first = f.read(4)
    big, little = struct.unpack(">i", first)[0], struct.unpack("<i", first)[0]
    assert {big, little} & {348, 540}, "not a NIfTI header"
    return big in (348, 540)


@pytest.mark.parametrize("endianness", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("dtype", NIFTI_DTYPES)
def test_every_nifti_dtype_and_byte_order(tmp_path, dtype, endianness):
    data = random_data(SHAPE3, dtype, seed=len(dtype))
    path = write_nifti(tmp_path / "img.nii", data, AFFINE, endianness=endianness)
    assert header_is_big_endian(path) == (endianness == ">")
    assert nib.load(path).get_data_dtype() == np.dtype(dtype).newbyteorder(endianness)
    check_against_nibabel(path, "memory-mapped", "NIfTI-1")


@pytest.mark.parametrize("endianness", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint64", "float64"])
def test_compressed_dtypes_and_byte_orders(tmp_path, dtype, endianness):
    data = random_data(SHAPE4, dtype, seed=3)
    path = write_nifti(tmp_path / "img.nii.gz", data, AFFINE, endianness=endianness)
    assert header_is_big_endian(path) == (endianness == ">")
    check_against_nibabel(path, "gzip-indexed", "NIfTI-1")


@pytest.mark.parametrize("endianness", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("name", ["scaled.nii", "scaled.nii.gz"])
def test_scaled_int16(tmp_path, name, endianness):
    data = random_data(SHAPE4, "int16", seed=5)
    path = write_nifti(tmp_path / name, data, AFFINE, endianness=endianness, slope_inter=(0.5, -10))
    proxy = nib.load(path).dataobj
    assert (proxy.slope, proxy.inter) == (0.5, -10.0)  # really stored scaled
    access = "gzip-indexed" if name.endswith(".gz") else "memory-mapped"
    check_against_nibabel(path, access)
    image = open_image(path)
    expected = float(data[1, 2, 3, 2]) * 0.5 - 10
    assert image.proxy.value((1, 2, 3), 2) == expected
    assert image.proxy.plane(2, 3, 2)[1, 2] == np.float32(expected)
    image.close()


@pytest.mark.parametrize("name", ["two.nii", "two.nii.gz"])
def test_nifti2(tmp_path, name):
    data = random_data(SHAPE4, "float32", seed=7)
    path = write_nifti(tmp_path / name, data, AFFINE, image_class=nib.Nifti2Image)
    assert type(nib.load(path)) is nib.Nifti2Image
    access = "gzip-indexed" if name.endswith(".gz") else "memory-mapped"
    check_against_nibabel(path, access, "NIfTI-2")


@pytest.mark.parametrize("endianness", ["<", ">"], ids=["little", "big"])
def test_nifti1_pair_opens_from_either_file(tmp_path, endianness):
    data = random_data(SHAPE3, "int16", seed=9)
    write_nifti(
        tmp_path / "pair.hdr", data, AFFINE, endianness=endianness, image_class=nib.Nifti1Pair
    )
    assert (tmp_path / "pair.img").is_file()
    assert header_is_big_endian(tmp_path / "pair.hdr") == (endianness == ">")
    for name in ("pair.hdr", "pair.img"):
        check_against_nibabel(tmp_path / name, "memory-mapped", "NIfTI-1 pair")


def test_nifti2_pair(tmp_path):
    data = random_data(SHAPE4, "uint16", seed=10)
    write_nifti(tmp_path / "pair2.hdr", data, AFFINE, image_class=nib.Nifti2Pair)
    check_against_nibabel(tmp_path / "pair2.hdr", "memory-mapped", "NIfTI-2 pair")


def test_compressed_pair(tmp_path):
    """nibabel writes ``x.img.gz`` as a gzipped pair: ``x.hdr.gz`` + ``x.img.gz``."""
    data = random_data(SHAPE4, "int32", seed=11)
    write_nifti(tmp_path / "pair.img.gz", data, AFFINE, image_class=nib.Nifti1Pair)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair.hdr.gz", "pair.img.gz"]
    assert (tmp_path / "pair.img.gz").read_bytes()[:2] == b"\x1f\x8b"
    for name in ("pair.img.gz", "pair.hdr.gz"):
        check_against_nibabel(tmp_path / name, "gzip-indexed", "NIfTI-1 pair")


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32", "float64"])
def test_analyze(tmp_path, dtype):
    data = random_data(SHAPE3, dtype, seed=12)
    path = write_image(tmp_path / "ana.hdr", nib.AnalyzeImage(data, AFFINE))
    check_against_nibabel(path, "memory-mapped", "Analyze 7.5")
    image = open_image(path)
    assert not image.orientation_known  # Analyze has no trusted orientation
    image.close()


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32"])
@pytest.mark.parametrize(
    ("name", "access"), [("img.mgh", "memory-mapped"), ("img.mgz", "gzip-indexed")]
)
def test_mgh(tmp_path, dtype, name, access):
    data = random_data(SHAPE4, dtype, seed=13)
    path = write_image(tmp_path / name, nib.MGHImage(data, AFFINE))
    check_against_nibabel(path, access, "MGH")
    image = open_image(path)
    assert image.orientation_known
    image.close()


@pytest.mark.parametrize(
    "shape",
    [(9,), (8, 7), (6, 5, 4, 1), (6, 5, 4, 3, 1), (5, 4, 3, 2, 1, 1)],
    ids=["1d", "2d", "4d-single", "5d-trailing", "6d-trailing"],
)
@pytest.mark.parametrize("name", ["img.nii", "img.nii.gz"])
def test_fewer_or_trailing_dimensions(tmp_path, shape, name):
    data = random_data(shape, "int16", seed=14)
    path = write_nifti(tmp_path / name, data, np.eye(4))
    access = "gzip-indexed" if name.endswith(".gz") else "memory-mapped"
    check_against_nibabel(path, access)


@pytest.mark.parametrize(
    ("name", "access"), [("four.nii", "memory-mapped"), ("four.nii.gz", "gzip-indexed")]
)
def test_4d_access_path(tmp_path, name, access):
    data = random_data((8, 7, 6, 5), "float32", seed=15)
    path = write_nifti(tmp_path / name, data, AFFINE)
    image = open_image(path)
    assert image.shape == (8, 7, 6, 5)
    assert image.proxy.access == access
    assert image.proxy.random_access == (access == "memory-mapped")
    image.close()
    check_against_nibabel(path, access)


def test_cal_range_and_geometry_from_header(tmp_path):
    data = random_data(SHAPE3, "int16", seed=16)
    path = write_nifti(tmp_path / "cal.nii", data, AFFINE, cal=(-100.0, 250.0))
    image = open_image(path)
    assert image.cal_range == (-100.0, 250.0)
    assert image.voxel_sizes == pytest.approx((2.0, 1.5, 3.0))
    assert image.orientation_known
    assert image.notes == ()
    image.close()


@pytest.mark.parametrize("cal", [(0.0, 0.0), (5.0, 1.0), (float("nan"), 3.0)])
def test_implausible_cal_range_is_ignored(tmp_path, cal):
    data = random_data(SHAPE3, "int16", seed=17)
    path = write_nifti(tmp_path / "cal.nii", data, AFFINE, cal=cal)
    image = open_image(path)
    assert image.cal_range is None
    image.close()


def test_unknown_orientation_without_qform_or_sform(tmp_path):
    data = random_data(SHAPE3, "int16", seed=18)
    path = write_nifti(tmp_path / "noform.nii", data, AFFINE)
    patch_header(path, QFORM_CODE_OFFSET, "<hh", 0, 0)  # qform_code, sform_code
    image = open_image(path)
    assert not image.orientation_known
    assert image.notes == ()
    image.close()


def test_singular_affine_falls_back_to_voxel_axes(tmp_path):
    data = random_data(SHAPE3, "int16", seed=19)
    path = write_nifti(tmp_path / "singular.nii", data, AFFINE)
    patch_header(path, QFORM_CODE_OFFSET, "<hh", 0, 2)  # sform only
    patch_header(path, SROW_Y_OFFSET, "<4f", 0.0, 0.0, 0.0, 0.0)  # a zero row: singular
    assert np.linalg.det(nib.load(path).affine[:3, :3]) == 0
    image = open_image(path)
    np.testing.assert_allclose(image.affine, np.diag([2.0, 1.5, 3.0, 1.0]))
    assert image.voxel_sizes == (2.0, 1.5, 3.0)
    assert not image.orientation_known
    assert any("invalid" in note for note in image.notes)
    image.close()
