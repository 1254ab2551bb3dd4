"""RawHeader: reading fields, validated edits, qform/sform, scaling, derived values, read_header.

nibabel is the oracle: values are compared with ``<Header>.from_fileobj(check=False)``
on nibabel's own test files and on files nibabel writes here. Helpers at the top are
shared with test_header_save.py and test_header_warnings.py.
"""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.openers import ImageOpener
from nibabel.testing import data_path

from tests.factories import random_data
from volview.errors import CorruptFileError, FileAccessError, UnsupportedFormatError, VolviewError
from volview.io.header import HeaderKind, HeaderValueError, RawHeader
from volview.io.header_fields import ValueKind
from volview.io.header_file import read_header

DATA = Path(data_path)
SHAPE4 = (6, 5, 4, 3)
#: rotation about z by 30 degrees, zooms 2, 3, 4 and a flipped k axis (det < 0)
_THETA = np.radians(30.0)
AFFINE = np.array(
    [
        [2 * np.cos(_THETA), -3 * np.sin(_THETA), 0.0, 10.0],
        [2 * np.sin(_THETA), 3 * np.cos(_THETA), 0.0, -20.0],
        [0.0, 0.0, -4.0, 30.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
#: name -> (image class, byte order, file name) of the generated test images
LAYOUTS = {
    "nifti1-le.nii": (nib.Nifti1Image, "<", "img.nii"),
    "nifti1-be.nii": (nib.Nifti1Image, ">", "img.nii"),
    "nifti2-le.nii": (nib.Nifti2Image, "<", "img.nii"),
    "nifti1-pair.hdr": (nib.Nifti1Pair, "<", "img.hdr"),
    "nifti2-be-pair.hdr": (nib.Nifti2Pair, ">", "img.hdr"),
    "nifti1.nii.gz": (nib.Nifti1Image, "<", "img.nii.gz"),
    "nifti1-pair.img.gz": (nib.Nifti1Pair, "<", "img.img.gz"),
}
#: nibabel's real headers: file -> (kind, byte order)
REAL_HEADERS = {
    "anatomical.nii": (HeaderKind.NIFTI1, ">"),
    "functional.nii": (HeaderKind.NIFTI1, "<"),
    "reoriented_anat_moved.nii": (HeaderKind.NIFTI1, ">"),
    "resampled_anat_moved.nii": (HeaderKind.NIFTI1, ">"),
    "standard.nii.gz": (HeaderKind.NIFTI1, "<"),
    "example4d.nii.gz": (HeaderKind.NIFTI1, "<"),
    "example_nifti2.nii.gz": (HeaderKind.NIFTI2, "<"),
    "row_major.dconn.nii": (HeaderKind.NIFTI2, "<"),
    "nifti1.hdr": (HeaderKind.NIFTI1, "<"),
    "nifti2.hdr": (HeaderKind.NIFTI2, "<"),
    "analyze.hdr": (HeaderKind.ANALYZE, ">"),
}
NIBABEL_HEADERS = {
    HeaderKind.NIFTI1: nib.Nifti1Header,
    HeaderKind.NIFTI2: nib.Nifti2Header,
    HeaderKind.ANALYZE: nib.AnalyzeHeader,
}
#: a valid value, different from the generated image's, for every editable NIfTI item
EDITS = {
    "descrip": "edited by volview",
    "aux_file": "colours.lut",
    "intent_code": 1002,
    "intent_name": "labels",
    "intent_p1": 1.5,
    "intent_p2": 2.5,
    "intent_p3": -3.25,
    "pixdim[0]": 1.0,
    **{f"pixdim[{i}]": 0.25 * i + 0.5 for i in range(1, 8)},
    "xyzt_units": 18,
    "qform_code": 3,
    "sform_code": 4,
    "quatern_b": 0.125,
    "quatern_c": -0.25,
    "quatern_d": 0.5,
    "qoffset_x": -11.5,
    "qoffset_y": 12.25,
    "qoffset_z": 13.0,
    **{f"srow_{axis}[{i}]": 0.5 + i + 10 * n for n, axis in enumerate("xyz") for i in range(4)},
    "scl_slope": 2.0,
    "scl_inter": -7.5,
    "cal_min": -1.0,
    "cal_max": 99.0,
    "dim_info": 0b00_11_10_01,
    "slice_code": 3,
    "slice_start": 1,
    "slice_end": 2,
    "slice_duration": 0.0625,
    "toffset": 1.25,
}
ANALYZE_EDITS = {
    "descrip": "analyze edited",
    "aux_file": "aux",
    **{f"pixdim[{i}]": 0.25 * i + 0.5 for i in range(1, 8)},
    "cal_min": 5.0,
    "cal_max": 50.0,
}


def make_image(folder: Path, layout: str = "nifti1-le.nii") -> Path:
    """A small 4-D int16 image: q=s=1 (AFFINE), mm + sec, TR 2; returns the path opened."""
    image_class, byteorder, name = LAYOUTS[layout]
    header = image_class.header_class(endianness=byteorder)
    header.set_data_dtype(np.dtype("int16").newbyteorder(byteorder))
    img = image_class(random_data(SHAPE4, "int16"), AFFINE, header)
    img.header.set_zooms((2.0, 3.0, 4.0, 2.0))
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(AFFINE, code=1)
    img.set_sform(AFFINE, code=1)
    img.header["descrip"] = b"made by the volview tests"
    path = folder / name
    img.to_filename(path)
    return path


def make_analyze(folder: Path, byteorder: str = ">") -> Path:
    header = nib.AnalyzeHeader(endianness=byteorder)
    header.set_data_dtype(np.dtype("int16").newbyteorder(byteorder))
    img = nib.AnalyzeImage(random_data(SHAPE4[:3], "int16"), np.diag([2.0, 3.0, 4.0, 1.0]), header)
    path = folder / "analyze.hdr"
    img.to_filename(path)
    return path


def nibabel_header(path: Path, kind: HeaderKind):
    """The on-disk header as nibabel reads it (no checks, no scaling reset)."""
    with ImageOpener(path) as f:
        return NIBABEL_HEADERS[kind].from_fileobj(f, check=False)


def nibabel_value(header, item):
    value = header[item.spec.name]
    return value if item.index is None else value[item.index]


def assert_same_value(ours, theirs, item) -> None:
    if item.spec.kind == ValueKind.BYTES:
        assert ours.rstrip(b"\0") == np.asarray(theirs).tobytes().rstrip(b"\0"), item.key
    elif item.spec.kind == ValueKind.TEXT:
        assert ours == np.asarray(theirs).item().decode("latin-1"), item.key
    elif item.spec.kind == ValueKind.FLOAT:
        assert ours == float(theirs) or (math.isnan(ours) and math.isnan(theirs)), item.key
    else:
        assert ours == int(theirs), item.key


def file_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed for .gz."""
    with ImageOpener(path) as f:
        return f.read()


@pytest.fixture
def raw(tmp_path) -> RawHeader:
    return read_header(make_image(tmp_path)).raw


# -- nibabel's real headers ---------------------------------------------------------


def test_every_nifti_or_analyze_file_of_nibabel_is_listed():
    names = {p.name for p in DATA.iterdir() if p.name.endswith((".nii", ".nii.gz", ".hdr"))}
    assert names == set(REAL_HEADERS)


@pytest.fixture(params=sorted(REAL_HEADERS))
def real(request):
    path = DATA / request.param
    return path, read_header(path)


def test_real_header_kind_and_byte_order(real):
    path, hf = real
    assert (hf.raw.kind, hf.raw.byteorder) == REAL_HEADERS[path.name]
    assert hf.compressed == path.name.endswith(".gz")
    assert len(hf.raw.block) == (540 if hf.raw.kind == HeaderKind.NIFTI2 else 348)


def test_real_values_equal_nibabel(real):
    path, hf = real
    header = nibabel_header(path, hf.raw.kind)
    for item in hf.raw.items():
        assert isinstance(hf.raw.text(item.key), str)
        assert_same_value(hf.raw.value(item.key), nibabel_value(header, item), item)


def test_real_text_parses_back_to_the_same_bytes(real):
    _, hf = real
    raw, checked = hf.raw, 0
    for item in raw.items():
        if not item.editable:
            continue
        try:
            value = raw.parse(item.key, raw.text(item.key))
        except HeaderValueError:  # the stored value is invalid (e.g. qfac 0, NaN slope)
            continue
        assert raw.with_value(item.key, value).block == raw.block, item.key
        checked += 1
    assert checked >= 10


def test_real_derived_matches_nibabel_load(real):
    path, hf = real
    info = hf.raw.derived()
    img = nib.load(path)
    if isinstance(img, nib.Cifti2Image):  # not a volume: read it as the NIfTI-2 it is
        img = nib.Nifti2Image.from_filename(path)
    np.testing.assert_allclose(info.best_affine, img.affine, atol=1e-5)
    assert hf.raw.slope_inter() == pytest.approx(
        (float(img.dataobj.slope), float(img.dataobj.inter))
    )


def test_functional_values():
    raw = read_header(DATA / "functional.nii").raw
    assert raw.value("scl_slope") == pytest.approx(0.07541, rel=1e-4)
    assert raw.slope_inter() == pytest.approx((0.0754070, 3100.7617), rel=1e-5)
    info = raw.derived()
    assert info.voxel_sizes == "4 \N{MULTIPLICATION SIGN} 4 \N{MULTIPLICATION SIGN} 8 mm"
    assert info.tr == "2 s"
    assert info.data_type == "signed 16-bit integer (int16)"
    assert (info.qform_orientation, info.sform_orientation) == ("LAS", "LAS")
    assert raw.text("qform_code") == "2 (aligned)"
    assert raw.text("xyzt_units") == "10 (mm, sec)"
    assert raw.text("magic") == "n+1\\0"


def test_example4d_extensions():
    hf = read_header(DATA / "example4d.nii.gz")
    assert hf.raw.n_extensions == hf.raw.derived().n_extensions == 2
    assert len(hf.extensions) == 416 - 348
    assert b"extcomment1" in hf.extensions and b"extlongcomment2" in hf.extensions


def test_nifti2_eol_check_is_shown_as_hex():
    raw = read_header(DATA / "example_nifti2.nii.gz").raw
    assert raw.text("eol_check") == "0d 0a 1a 0a"
    assert raw.value("eol_check") == b"\r\n\x1a\n"


def test_analyze_header():
    raw = read_header(DATA / "analyze.hdr").raw
    assert raw.kind == HeaderKind.ANALYZE and raw.byteorder == ">"
    assert raw.text("descrip") == "ICBM AVG 152 T1 TAL LIN"
    assert not raw.item("pixdim[0]").spec.editable
    assert raw.item("pixdim[1]").spec.editable
    info = raw.derived()
    assert info.qform is None and info.sform is None and info.qform_orientation == ""
    assert info.voxel_sizes.endswith(" mm")  # vox_units


# -- items --------------------------------------------------------------------------


def test_items_are_rows_of_scalars_and_elements(raw):
    keys = [item.key for item in raw.items()]
    assert keys[:3] == ["sizeof_hdr", "data_type", "db_name"]
    assert "dim[0]" in keys and "pixdim[7]" in keys and "srow_z[3]" in keys
    assert "pixdim" not in keys and "magic" in keys
    total = sum(item.nbytes for item in raw.items())
    assert total == 348


def test_item_descriptions_are_element_specific(raw):
    assert raw.item("pixdim[1]").description.startswith("pixdim[1]: voxel width along i")
    assert "TR" in raw.item("pixdim[4]").description
    assert "qfac" in raw.item("pixdim[0]").description
    assert "world x of voxel (0, 0, 0)" in raw.item("srow_x[3]").description
    assert raw.item("dim[0]").description == "dim[0]: number of dimensions (1 to 7)"


def test_item_offsets(raw):
    assert raw.item("pixdim[1]").offset == 80
    assert raw.item("srow_y[2]").offset == 296 + 8
    assert raw.item("descrip").nbytes == 80


# -- edits ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["nifti1-le.nii", "nifti1-be.nii", "nifti2-le.nii"])
@pytest.mark.parametrize("key", sorted(EDITS))
def test_with_value_changes_only_that_items_bytes(tmp_path, layout, key):
    raw = read_header(make_image(tmp_path, layout)).raw
    edited = raw.with_value(key, EDITS[key])
    item = raw.item(key)
    assert (
        edited.value(key) == pytest.approx(EDITS[key])
        if item.spec.kind == ValueKind.FLOAT
        else (edited.value(key) == EDITS[key])
    )
    start, end = item.offset, item.offset + item.nbytes
    assert edited.block[:start] == raw.block[:start]
    assert edited.block[end:] == raw.block[end:]
    assert edited.changed_keys(raw) == ((key,) if raw.value(key) != EDITS[key] else ())
    assert raw.with_value(key, raw.value(key)).block == raw.block


def test_values_are_written_in_the_headers_byte_order(tmp_path):
    raw = read_header(make_image(tmp_path, "nifti1-be.nii")).raw
    edited = raw.with_value("slice_start", 3).with_value("cal_max", 1.0)
    assert edited.block[74:76] == b"\x00\x03"
    assert edited.block[124:128] == np.array(1.0, ">f4").tobytes()


def test_text_fields_are_nul_padded(raw):
    edited = raw.with_value("descrip", "short")
    assert edited.block[148:228] == b"short".ljust(80, b"\0")
    assert edited.with_value("descrip", "x" * 80).value("descrip") == "x" * 80
    assert raw.with_value("aux_file", "café").value("aux_file") == "café"
    embedded = raw.with_value("descrip", "FSL3.3\0 v2.25")  # as example4d.nii.gz has it
    assert embedded.text("descrip") == "FSL3.3\\x00 v2.25"
    assert embedded.parse("descrip", embedded.text("descrip")) == "FSL3.3\0 v2.25"


def test_whole_array_field(raw):
    edited = raw.with_value("pixdim", [-1, 1.5, 2.5, 3.5, 2, 0, 0, 0])
    assert edited.values("pixdim") == (-1.0, 1.5, 2.5, 3.5, 2.0, 0.0, 0.0, 0.0)
    with pytest.raises(HeaderValueError) as info:
        raw.with_value("pixdim", [1, 1.5, 0.0, 3.5, 2, 0, 0, 0])
    assert info.value.key == "pixdim[2]"
    with pytest.raises(HeaderValueError, match="expected 8 values, got 3"):
        raw.with_value("pixdim", [1, 2, 3])
    with pytest.raises(HeaderValueError, match="expected 4 values"):
        raw.with_value("srow_x", "1 2 3 4")
    edited = raw.with_value("srow_x", np.array([1.0, 0.0, 0.0, -5.0]))
    assert edited.values("srow_x") == (1.0, 0.0, 0.0, -5.0)


def test_whole_array_keeps_unchanged_read_only_elements(tmp_path):
    raw = read_header(make_analyze(tmp_path)).raw
    pixdim = list(raw.values("pixdim"))
    pixdim[2] = 7.0
    assert raw.with_value("pixdim", pixdim).values("pixdim")[2] == 7.0
    pixdim[0] += 1.0
    with pytest.raises(HeaderValueError, match="pixdim\\[0\\]: cannot be edited"):
        raw.with_value("pixdim", pixdim)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("descrip", "x" * 81, "too long: 81 characters, at most 80 fit"),
        ("intent_name", "y" * 17, "too long: 17 characters, at most 16 fit"),
        ("descrip", "tick \u2713", "can only hold ASCII/Latin-1 characters; '\u2713' is not one"),
        ("descrip", 5, "expected text, got 5"),
        ("intent_code", 7777, "7777 is not a known code; valid codes are 59 known values"),
        ("qform_code", 9, "9 is not a known code; valid codes: 0 (unknown), 1 (scanner)"),
        ("xyzt_units", 7, "7 is not a known code"),
        ("slice_code", 7, "7 is not a known code"),
        ("slice_start", 40000, "must be between -32768 and 32767 (int16 field)"),
        ("dim_info", 256, "must be between 0 and 255 (uint8 field)"),
        ("slice_end", -1.5, "expected a whole number, got -1.5"),
        ("slice_end", True, "expected a whole number, got True"),
        ("scl_slope", float("nan"), "must be a finite number, got nan"),
        ("cal_max", float("inf"), "must be a finite number, got inf"),
        ("toffset", 1e39, "too large for a 32-bit float (largest is 3.4e+38)"),
        ("toffset", 1e-50, "too close to 0 for a 32-bit float (it would be 0)"),
        ("toffset", "abc", "expected a number, got 'abc'"),
        ("pixdim[0]", 0.5, "qfac must be -1 or 1, got 0.5"),
        ("pixdim[1]", 0.0, "a voxel size must be greater than 0, got 0"),
        ("pixdim[3]", -2.0, "a voxel size must be greater than 0, got -2"),
        ("dim[1]", 7, "cannot be edited: it changes how the voxel bytes are laid out or read"),
        ("datatype", 16, "cannot be edited: it changes how the voxel bytes"),
        ("bitpix", 32, "cannot be edited: it follows from datatype"),
        ("vox_offset", 400.0, "cannot be edited: it moves where the voxel data starts"),
        ("magic", b"ni1\0", "cannot be edited: it says single file or pair"),
        ("sizeof_hdr", 348, "cannot be edited: it is fixed by the format"),
        ("glmax", 1, "cannot be edited: unused legacy Analyze field"),
        ("nonsense", 1, "no such field in a NIfTI-1 header"),
    ],
)
def test_invalid_edits_are_refused(raw, key, value, message):
    before = raw.block
    with pytest.raises(HeaderValueError) as info:
        raw.with_value(key, value)
    assert info.value.key == key
    assert info.value.message.startswith(message), info.value.message
    assert str(info.value) == f"{key}: {info.value.message}"
    assert isinstance(info.value, VolviewError)
    assert raw.block == before


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("slice_start", "abc", "expected a whole number, got 'abc'"),
        ("slice_start", "1.5", "expected a whole number, got '1.5'"),
        ("toffset", "abc", "expected a number, got 'abc'"),
        ("pixdim[1]", "1e-50", "too close to 0 for a 32-bit float (it would be 0)"),
        ("toffset", "nan", "must be a finite number, got nan"),
        ("toffset", "-inf", "must be a finite number, got -inf"),
        ("qform_code", "bogus", "expected a code number or one of its names, got 'bogus'"),
        ("qform_code", "7", "7 is not a known code"),
        ("dim[1]", "3", "cannot be edited"),
        ("pixdim[2]", "0", "a voxel size must be greater than 0"),
    ],
)
def test_invalid_text_is_refused(raw, key, text, message):
    with pytest.raises(HeaderValueError) as info:
        raw.parse(key, text)
    assert info.value.key == key
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("qform_code", "scanner", 1),
        ("qform_code", "3 (talairach)", 3),
        ("sform_code", " 4 ", 4),
        ("xyzt_units", "mm, sec", 10),
        ("xyzt_units", "18 (mm, msec)", 18),
        ("intent_code", "label", 1002),
        ("descrip", " spaces kept ", " spaces kept "),
        ("pixdim[1]", " 2.5 ", 2.5),
        ("slice_start", "+3", 3),
        ("scl_inter", "-1e3", -1000.0),
    ],
)
def test_parse(raw, key, text, value):
    parsed = raw.parse(key, text)
    assert parsed == value and type(parsed) is type(value)


def test_analyze_edits(tmp_path):
    raw = read_header(make_analyze(tmp_path)).raw
    for key, value in ANALYZE_EDITS.items():
        assert raw.with_value(key, value).changed_keys(raw) == (key,)
    for key, value in [("pixdim[0]", 1.0), ("funused1", 2.0), ("glmax", 3), ("orient", b"\1")]:
        with pytest.raises(HeaderValueError, match="cannot be edited"):
            raw.with_value(key, value)
    with pytest.raises(HeaderValueError, match=r"no such field in a Analyze 7\.5 header"):
        raw.with_value("qform_code", 1)
    for method in (raw.with_qform, raw.with_sform):
        with pytest.raises(HeaderValueError, match=r"Analyze 7\.5 headers have no"):
            method(np.eye(4))


def test_raw_header_is_immutable_and_checked(raw):
    with pytest.raises(AttributeError):
        raw.block = b""  # type: ignore[misc]
    with pytest.raises(ValueError, match="348 bytes"):
        RawHeader(HeaderKind.NIFTI1, "<", b"\0" * 540)
    with pytest.raises(ValueError, match="byteorder"):
        RawHeader(HeaderKind.NIFTI1, "=", b"\0" * 348)


def test_changed_keys(raw):
    edited = raw.with_value("descrip", "new").with_value("srow_y[3]", 5.0)
    assert edited.changed_keys(raw) == ("descrip", "srow_y[3]")
    assert raw.changed_keys(raw) == ()
    other = RawHeader(HeaderKind.NIFTI2, "<", bytes(540))
    with pytest.raises(ValueError, match="cannot compare"):
        raw.changed_keys(other)


# -- qform and sform ------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["nifti1-le.nii", "nifti1-be.nii", "nifti2-le.nii"])
def test_with_qform_round_trips_rotation_zoom_flip(tmp_path, layout):
    raw = read_header(make_image(tmp_path, layout)).raw
    raw = raw.with_qform(np.eye(4))
    assert raw.value("pixdim[0]") == 1.0
    edited = raw.with_qform(AFFINE)
    np.testing.assert_allclose(edited.nibabel_header().get_qform(), AFFINE, atol=1e-5)
    np.testing.assert_allclose(edited.derived().qform, AFFINE, atol=1e-5)
    assert edited.value("pixdim[0]") == -1.0
    assert edited.values("pixdim")[1:4] == pytest.approx((2.0, 3.0, 4.0))
    assert edited.value("qform_code") == raw.value("qform_code")
    allowed = {"quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z"}
    allowed |= {f"pixdim[{i}]" for i in range(4)}
    assert set(edited.changed_keys(raw)) <= allowed


def test_with_qform_keeps_code_zero(raw):
    raw = raw.with_value("qform_code", 0)
    assert raw.with_qform(AFFINE).value("qform_code") == 0


def test_with_qform_shears(raw):
    sheared = AFFINE.copy()
    sheared[0, 1] += 0.5
    with pytest.raises(HeaderValueError, match="qform: the matrix has shears"):
        raw.with_qform(sheared, strip_shears=False)
    stripped = raw.with_qform(sheared).derived().qform  # nibabel's default: nearest rotation
    assert stripped is not None and not np.allclose(stripped, sheared, atol=1e-3)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.diag([1.0, 1.0, 0.0, 1.0]), "the matrix is singular"),
        (np.full((4, 4), np.nan), "not finite"),
        (np.eye(3), "expected a 4x4 matrix"),
        (np.ones((4, 4)), "the last row of the matrix must be 0 0 0 1"),
    ],
)
@pytest.mark.parametrize("which", ["qform", "sform"])
def test_bad_matrices_are_refused(raw, matrix, message, which):
    method = raw.with_qform if which == "qform" else raw.with_sform
    with pytest.raises(HeaderValueError, match=message) as info:
        method(matrix)
    assert info.value.key == which


def test_with_sform(raw):
    matrix = AFFINE.copy()
    matrix[0, 1] += 0.5  # shears are fine in an sform
    edited = raw.with_sform(matrix)
    np.testing.assert_allclose(edited.nibabel_header().get_sform(), matrix, rtol=1e-6)
    assert set(edited.changed_keys(raw)) <= {f"srow_{a}[{i}]" for a in "xyz" for i in range(4)}
    assert edited.value("sform_code") == raw.value("sform_code")
    big = np.eye(4)
    big[0, 3] = 1e39
    with pytest.raises(HeaderValueError, match="sform: srow_x\\[3\\]: too large"):
        raw.with_sform(big)


# -- scaling and derived ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("slope", "inter", "expected"),
    [
        (2.0, 3.0, (2.0, 3.0)),
        (-1.0, 0.0, (-1.0, 0.0)),
        (0.0, 5.0, (1.0, 0.0)),
        (float("nan"), 5.0, (1.0, 0.0)),
        (float("inf"), 0.0, (1.0, 0.0)),
        (2.0, float("nan"), (2.0, 0.0)),
    ],
)
def test_slope_inter(raw, slope, inter, expected):
    edited = raw.with_fields_unchecked(scl_slope=slope, scl_inter=inter)
    assert edited.slope_inter() == expected
    if not math.isnan(slope):
        assert edited.value("scl_slope") == slope
    else:
        assert math.isnan(edited.value("scl_slope"))


def test_derived_of_generated_image(raw):
    info = raw.derived()
    np.testing.assert_allclose(info.best_affine, AFFINE, atol=1e-5)
    np.testing.assert_allclose(info.sform, AFFINE, atol=1e-5)
    assert info.tr == "2 s"
    assert info.voxel_sizes == "2 \N{MULTIPLICATION SIGN} 3 \N{MULTIPLICATION SIGN} 4 mm"
    unknown = raw.with_value("xyzt_units", 0).derived()
    assert unknown.voxel_sizes.endswith("(units unknown)") and unknown.tr == "2 (units unknown)"
    assert raw.with_value("xyzt_units", 18).derived().tr == "2 ms"
    none = raw.with_value("sform_code", 0).with_value("qform_code", 0).derived()
    assert none.qform is None and none.sform is None and none.sform_orientation == ""
    np.testing.assert_allclose(none.best_affine, raw.nibabel_header().get_base_affine())


def test_derived_qform_with_qfac_zero_reads_it_as_one(raw):
    edited = raw.with_fields_unchecked(pixdim=[0, 2, 3, 4, 2, 1, 1, 1])
    assert edited.derived().qform is not None
    assert edited.derived().best_affine.shape == (4, 4)


# -- read_header ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_read_header_layouts(tmp_path, layout):
    path = make_image(tmp_path, layout)
    hf = read_header(path)
    single = ".nii" in path.name
    assert hf.path == path and hf.single == single
    assert hf.compressed == path.name.endswith(".gz")
    if single:
        assert hf.header_path == hf.data_path == path
        assert hf.extensions == b"\0" * 4
    else:
        assert hf.header_path.name == path.name.replace(".img", ".hdr")
        assert hf.data_path.name == path.name.replace(".hdr", ".img")
    assert hf.raw.value("descrip") == "made by the volview tests"
    assert hf.raw.byteorder == LAYOUTS[layout][1]


def test_read_header_from_img_of_pair(tmp_path):
    path = make_image(tmp_path, "nifti1-pair.hdr")
    hf = read_header(path.with_suffix(".img"))
    assert hf.header_path == path and hf.raw == read_header(path).raw


def assert_error(error: VolviewError, path: Path, *words: str) -> None:
    message = str(error)
    assert message.startswith(f"{path.name}: "), message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    ("name", "make", "error", "words"),
    [
        ("missing.nii", lambda p: None, FileAccessError, ["not found"]),
        ("folder.nii", lambda p: p.mkdir(), FileAccessError, ["folder"]),
        ("empty.nii", lambda p: p.touch(), FileAccessError, ["empty"]),
        ("short.nii", lambda p: p.write_bytes(b"\1" * 100), CorruptFileError, ["too short"]),
        (
            "noise.hdr",
            lambda p: p.write_bytes(bytes(range(256)) * 2),
            UnsupportedFormatError,
            ["not a NIfTI or Analyze 7.5 header"],
        ),
        ("bad.nii.gz", lambda p: p.write_bytes(b"not gzip" * 60), CorruptFileError, ["header"]),
        ("brain.mgz", lambda p: p.write_bytes(b"\0" * 400), UnsupportedFormatError, [".nii"]),
        ("lonely.img", lambda p: p.write_bytes(b"\0" * 400), FileAccessError, ["lonely.hdr"]),
    ],
)
def test_read_header_errors(tmp_path, name, make, error, words):
    path = tmp_path / name
    make(path)
    with pytest.raises(error) as info:
        read_header(path)
    assert_error(info.value, path, *words)


def test_truncated_gzip_header(tmp_path):
    source = make_image(tmp_path, "nifti1.nii.gz")
    truncated = tmp_path / "cut.nii.gz"
    truncated.write_bytes(gzip.compress(file_bytes(source)[:200]))
    with pytest.raises(CorruptFileError, match="too short for a NIfTI or Analyze header: 200 b"):
        read_header(truncated)


def test_header_only_pair_reads_without_data(tmp_path):
    shutil.copy(DATA / "nifti1.hdr", tmp_path / "x.hdr")
    hf = read_header(tmp_path / "x.hdr")
    assert hf.data_path == tmp_path / "x.img" and not hf.data_path.exists()
