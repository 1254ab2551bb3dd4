"""RawHeader.warnings: one test per rule, on a clean generated header that has none."""

from __future__ import annotations

import numpy as np
import pytest

from tests.io.test_header import AFFINE, make_analyze, make_image
from volview.io.header import HeaderWarning, RawHeader
from volview.io.header_file import read_header


@pytest.fixture
def raw(tmp_path) -> RawHeader:
    return read_header(make_image(tmp_path)).raw


def found(raw: RawHeader, key: str | None, words: str) -> bool:
    """A warning about ``key`` whose message contains ``words``."""
    return any(w.key == key and words in w.message for w in raw.warnings())


def test_clean_header_has_no_warnings(raw):
    assert raw.warnings() == ()


def test_clean_nifti2_and_analyze_have_no_warnings(tmp_path):
    assert read_header(make_image(tmp_path, "nifti2-be-pair.hdr")).raw.warnings() == ()
    assert read_header(make_analyze(tmp_path)).raw.warnings() == ()


def test_warnings_are_frozen(raw):
    warning = raw.with_value("cal_min", 5.0).with_value("cal_max", 1.0).warnings()[0]
    assert isinstance(warning, HeaderWarning)
    with pytest.raises(AttributeError):
        warning.key = "x"  # type: ignore[misc]


def test_qform_and_sform_disagree(raw):
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.01
    assert found(raw.with_sform(shifted), None, "qform and sform disagree")
    close = AFFINE.copy()
    close[0, 3] += 1e-4
    assert raw.with_sform(close).warnings() == ()
    assert raw.with_sform(shifted).with_value("sform_code", 0).warnings()[0].key == "sform_code"


def test_non_unit_quaternion(raw):
    edited = raw.with_value("quatern_b", 0.9).with_value("quatern_c", 0.9)
    edited = edited.with_value("quatern_d", 0.0)
    assert found(edited, "quatern_b", "the quaternion is not a rotation: b²+c²+d² = 1.62 > 1")
    assert edited.derived().qform is None  # no rotation to show
    assert not found(raw.with_value("quatern_b", 0.0), "quatern_b", "")


@pytest.mark.parametrize("size", [0.0, -2.0, float("nan"), float("inf")])
def test_bad_voxel_size(raw, size):
    edited = raw.with_fields_unchecked(pixdim=[1, 2, size, 4, 2, 1, 1, 1])
    assert found(edited, "pixdim[2]", "voxel size pixdim[2] is")


@pytest.mark.parametrize(
    ("slope", "inter", "key", "words"),
    [
        (float("inf"), 0.0, "scl_slope", "scl_slope is infinite"),
        (float("nan"), 3.0, "scl_slope", "scl_slope is NaN, so scl_inter is ignored"),
        (2.0, float("nan"), "scl_inter", "nibabel refuses to scale"),
        (2.0, float("inf"), "scl_inter", "scl_inter is inf with a valid scl_slope"),
        (0.0, float("inf"), "scl_inter", "scl_inter is infinite"),
    ],
)
def test_bad_scaling(raw, slope, inter, key, words):
    assert found(raw.with_fields_unchecked(scl_slope=slope, scl_inter=inter), key, words)


def test_nan_scaling_as_nibabel_writes_it_is_not_a_problem(raw):
    edited = raw.with_fields_unchecked(scl_slope=float("nan"), scl_inter=float("nan"))
    assert edited.warnings() == ()


@pytest.mark.parametrize(
    ("units", "pixdim", "words"),
    [
        (8, None, "spatial units are unknown"),
        (2, None, "time units are unknown but the TR (pixdim[4]) is 2"),
        (1 | 8, None, "units are metres but a voxel is 5 cm or more"),
        (3 | 8, [1, 1, 1, 1, 2, 1, 1, 1], "look like a brain in mm"),
        (2 | 8, [1, 2, 3, 4, 2000, 1, 1, 1], "a TR of 2000 s looks like milliseconds"),
        (2 | 16, None, "a TR of 2 ms looks like seconds"),
    ],
)
def test_units_that_contradict_pixdim(raw, units, pixdim, words):
    assert not found(raw, "xyzt_units", "")
    if pixdim is not None:  # a 100-voxel field of view for the micron rule
        raw = raw.with_value("pixdim", pixdim)
    if words.endswith("brain in mm"):
        raw = raw.with_fields_unchecked(dim=[4, 150, 180, 160, 3, 1, 1, 1])
    edited = raw.with_value("xyzt_units", units)
    assert found(edited, "xyzt_units", words), edited.warnings()


def test_microscopy_in_microns_is_fine(raw):
    edited = raw.with_value("pixdim", [1, 0.5, 0.5, 0.5, 2, 1, 1, 1]).with_value("xyzt_units", 11)
    assert not found(edited, "xyzt_units", "")


def test_sform_rows_set_with_code_zero(raw):
    assert found(raw.with_value("sform_code", 0), "sform_code", "readers ignore the sform")
    identity = raw.with_sform(np.eye(4)).with_value("sform_code", 0)
    assert not found(identity, "sform_code", "")
    zeros = raw.with_value("sform_code", 0)
    for axis in "xyz":
        zeros = zeros.with_value(f"srow_{axis}", [0.0] * 4)
    assert zeros.warnings() == ()


def test_quaternion_set_with_code_zero(raw):
    assert found(raw.with_value("qform_code", 0), "qform_code", "readers ignore the quaternion")


def test_cal_min_above_cal_max(raw):
    edited = raw.with_value("cal_min", 5.0).with_value("cal_max", 1.0)
    assert found(edited, "cal_min", "cal_min (5) is above cal_max (1)")


def test_slice_range_outside_dim(raw):
    # generated image: 4 slices along k (dim_info 0: slice axis taken as k)
    assert found(raw.with_value("slice_start", 4), "slice_start", "outside 0..3")
    assert found(raw.with_value("slice_end", 9), "slice_end", "slice_end 9 is outside 0..3")
    assert found(raw.with_value("slice_start", -1), "slice_start", "outside")
    ok = raw.with_value("slice_start", 1).with_value("slice_end", 3)
    assert ok.warnings() == ()
    # dim_info says slices run along j (5 of them)
    along_j = raw.with_value("dim_info", 2 << 4).with_value("slice_end", 4)
    assert along_j.warnings() == ()


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"pixdim": [0, 2, 3, 4, 2, 1, 1, 1]}, "pixdim[0]", "nibabel: pixdim[0] (qfac) should be"),
        ({"sform_code": 9}, "sform_code", "nibabel: sform_code 9 not valid"),
        ({"qform_code": -1}, "qform_code", "nibabel: qform_code -1 not valid"),
        ({"datatype": 999}, "datatype", "nibabel: data code 999 not recognized"),
        ({"bitpix": 32}, "bitpix", "nibabel: bitpix does not match datatype"),
        ({"vox_offset": 300}, "vox_offset", "nibabel: vox offset 300 too low"),
        ({"vox_offset": 360}, "vox_offset", "not divisible by 16"),
        ({"magic": b"xx1\0"}, "magic", "nibabel: magic string"),
        ({"sizeof_hdr": 350}, "sizeof_hdr", "nibabel: sizeof_hdr should be 348"),
        ({"pixdim": [1, -2, 3, 4, 2, 1, 1, 1]}, "pixdim[1]", "nibabel: pixdim[1,2,3] should be"),
    ],
)
def test_nibabel_checks_are_reported(raw, fields, key, words):
    assert found(raw.with_fields_unchecked(**fields), key, words)


def test_nibabel_eol_check(tmp_path):
    raw = read_header(make_image(tmp_path, "nifti2-le.nii")).raw
    edited = raw.with_fields_unchecked(eol_check=b"\0\0\0\0")
    assert found(edited, "eol_check", "nibabel: EOL check all 0")


def test_real_files_warnings():
    from nibabel.testing import data_path

    raw = read_header(f"{data_path}/example4d.nii.gz").raw
    assert found(raw, "xyzt_units", "a TR of 2000 s looks like milliseconds")
    raw = read_header(f"{data_path}/example_nifti2.nii.gz").raw
    assert found(raw, "slice_end", "slice_end 23 is outside 0..11")
    assert read_header(f"{data_path}/anatomical.nii").raw.warnings() == ()
