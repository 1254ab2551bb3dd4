"""The field tables of NIfTI-1, NIfTI-2 and Analyze 7.5 headers against nibabel's dtypes."""

from __future__ import annotations

import nibabel.analyze
import nibabel.nifti1
import nibabel.nifti2
import numpy as np
import pytest

from volview.io.header_fields import (
    HEADER_DTYPES,
    XYZT_CODES,
    FieldSpec,
    HeaderKind,
    ValueKind,
    field_specs,
    spec_map,
    xyzt_label,
)

NIFTI_EDITABLE = {
    "descrip",
    "aux_file",
    "intent_code",
    "intent_name",
    "intent_p1",
    "intent_p2",
    "intent_p3",
    "pixdim",
    "xyzt_units",
    "qform_code",
    "sform_code",
    "quatern_b",
    "quatern_c",
    "quatern_d",
    "qoffset_x",
    "qoffset_y",
    "qoffset_z",
    "srow_x",
    "srow_y",
    "srow_z",
    "scl_slope",
    "scl_inter",
    "cal_min",
    "cal_max",
    "dim_info",
    "slice_code",
    "slice_start",
    "slice_end",
    "slice_duration",
    "toffset",
}
LAYOUT_FIELDS = {"dim", "datatype", "bitpix", "vox_offset", "magic", "sizeof_hdr"}


@pytest.mark.parametrize("kind", list(HeaderKind))
def test_specs_cover_every_byte_in_file_order(kind):
    offset = 0
    for spec in field_specs(kind):
        assert spec.offset == offset, spec.name
        offset += spec.nbytes
    assert offset == HEADER_DTYPES[kind].itemsize == {"NIfTI-2": 540}.get(kind, 348)


@pytest.mark.parametrize(
    ("kind", "header_dtype"),
    [
        (HeaderKind.NIFTI1, nibabel.nifti1.header_dtype),
        (HeaderKind.NIFTI2, nibabel.nifti2.header_dtype),
        (HeaderKind.ANALYZE, nibabel.analyze.header_dtype),
    ],
)
def test_specs_match_nibabel_header_dtype(kind, header_dtype):
    specs = spec_map(kind)
    assert list(specs) == list(header_dtype.names)
    for name in header_dtype.names:
        dtype, offset = header_dtype.fields[name][:2]
        spec = specs[name]
        assert spec.offset == offset, name
        assert spec.nbytes == dtype.itemsize, name
        assert spec.dtype.byteorder in "=|", name
        assert spec.dtype == dtype.base.newbyteorder("="), name


@pytest.mark.parametrize("kind", [HeaderKind.NIFTI1, HeaderKind.NIFTI2])
def test_nifti_editable_fields_are_those_of_the_issue(kind):
    editable = {spec.name for spec in field_specs(kind) if spec.editable}
    assert editable == NIFTI_EDITABLE


def test_analyze_editable_fields():
    editable = {spec.name for spec in field_specs(HeaderKind.ANALYZE) if spec.editable}
    assert editable == {"descrip", "aux_file", "pixdim", "cal_min", "cal_max"}


@pytest.mark.parametrize("kind", list(HeaderKind))
def test_every_read_only_field_says_why(kind):
    for spec in field_specs(kind):
        assert spec.description and spec.description != spec.name, spec.name
        assert bool(spec.readonly_reason) != spec.editable, spec.name
    for name in LAYOUT_FIELDS & set(spec_map(kind)):
        assert not spec_map(kind)[name].editable


def test_layout_reasons_are_in_user_words():
    specs = spec_map(HeaderKind.NIFTI1)
    assert "laid out" in specs["dim"].readonly_reason
    assert "where the voxel data starts" in specs["vox_offset"].readonly_reason
    assert "Save As" in specs["magic"].readonly_reason
    assert "unused" in specs["glmax"].readonly_reason
    assert "0D 0A 1A 0A" in spec_map(HeaderKind.NIFTI2)["eol_check"].readonly_reason


def test_value_kinds():
    specs = spec_map(HeaderKind.NIFTI1)
    expected = {
        "descrip": ValueKind.TEXT,
        "intent_name": ValueKind.TEXT,
        "magic": ValueKind.BYTES,
        "data_type": ValueKind.BYTES,
        "qform_code": ValueKind.CODE,
        "xyzt_units": ValueKind.CODE,
        "datatype": ValueKind.CODE,
        "slice_code": ValueKind.CODE,
        "intent_code": ValueKind.CODE,
        "pixdim": ValueKind.FLOAT,
        "dim": ValueKind.INT,
        "dim_info": ValueKind.INT,
    }
    assert {name: specs[name].kind for name in expected} == expected
    assert spec_map(HeaderKind.NIFTI2)["eol_check"].kind == ValueKind.BYTES
    assert spec_map(HeaderKind.ANALYZE)["datatype"].kind == ValueKind.CODE


def test_array_fields_have_counts():
    specs = spec_map(HeaderKind.NIFTI2)
    assert (specs["dim"].count, specs["dim"].dtype) == (8, np.dtype("int64"))
    assert (specs["pixdim"].count, specs["srow_x"].count) == (8, 4)
    assert specs["descrip"].dtype == np.dtype("S80")


def test_xform_codes_include_nibabel_template():
    codes = dict(spec_map(HeaderKind.NIFTI1)["qform_code"].codes)
    assert codes == {
        0: "unknown",
        1: "scanner",
        2: "aligned",
        3: "talairach",
        4: "mni",
        5: "template",
    }


def test_intent_and_slice_codes_are_nibabels():
    specs = spec_map(HeaderKind.NIFTI1)
    assert {c for c, _ in specs["intent_code"].codes} == set(
        nibabel.nifti1.intent_codes.value_set("code")
    )
    assert dict(specs["slice_code"].codes)[3] == "alternating increasing"


def test_xyzt_codes_are_every_space_time_combination():
    assert len(XYZT_CODES) == 4 * 7
    codes = dict(XYZT_CODES)
    assert codes[10] == "mm, sec"
    assert codes[2] == "mm"
    assert codes[0] == "unknown"
    assert codes[8] == "unknown space, sec"
    assert codes[3 | 16] == "micron, msec"
    units = nibabel.nifti1.unit_codes
    for code, _ in XYZT_CODES:
        assert code & 0x07 in units.value_set("code")
        assert code & 0x38 in units.value_set("code")


def test_xyzt_label_of_invalid_bits():
    assert "?" in xyzt_label(7)


def test_datatype_codes_are_words():
    specs = spec_map(HeaderKind.NIFTI1)
    assert specs["datatype"].code_label(4) == "int16"
    assert specs["datatype"].code_label(999) is None


def test_field_spec_is_frozen():
    spec = spec_map(HeaderKind.NIFTI1)["descrip"]
    assert isinstance(spec, FieldSpec)
    with pytest.raises(AttributeError):
        spec.editable = False  # type: ignore[misc]
