"""The fields of NIfTI-1, NIfTI-2 and Analyze 7.5 headers, and what a value of each may be.

Owns: ``HeaderKind``, ``ValueKind``, ``FieldSpec``, ``field_specs(kind)`` (every byte of
the 348- or 540-byte block, in file order, offsets taken from nibabel's
``header_dtype``), the code tables shown to users (qform/sform, intent, slice order,
units, data types) and per-element descriptions. The rules for one value of a field
(parse, check, encode) are in ``header_values``.

Invariants: a ``FieldSpec.dtype`` carries no byte order; the byte order belongs to
the header (``RawHeader.byteorder``). Editable fields are exactly those that do not
move or reinterpret voxel bytes (reference/data-and-formats.md §2.9).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum, StrEnum

import nibabel.analyze
import nibabel.nifti1
import nibabel.nifti2
import numpy as np


class HeaderKind(StrEnum):
    NIFTI1 = "NIfTI-1"
    NIFTI2 = "NIfTI-2"
    ANALYZE = "Analyze 7.5"


class ValueKind(Enum):
    INT = "int"
    FLOAT = "float"
    TEXT = "text"
    CODE = "code"
    BYTES = "bytes"  # raw bytes shown as hex or escaped text (magic, eol_check, unused)


@dataclass(frozen=True)
class FieldSpec:
    """One named field of a header block (an array field is one spec with ``count > 1``)."""

    name: str  # nibabel's field name: 'pixdim', 'qform_code', 'descrip', ...
    dtype: np.dtype  # base dtype without byte order, e.g. int16, float32, S80, uint8
    count: int  # elements (1 for scalars, 8 for dim/pixdim, 4 for srow_x)
    offset: int  # byte offset in the header block
    description: str  # one line, user words
    kind: ValueKind
    editable: bool
    readonly_reason: str = ""  # why not editable
    codes: tuple[tuple[int, str], ...] = ()  # for CODE fields: (code, label)

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * self.count

    def code_label(self, code: int) -> str | None:
        return next((label for c, label in self.codes if c == code), None)


# -- code tables -----------------------------------------------------------------


def _recoder_codes(recoder) -> tuple[tuple[int, str], ...]:
    return tuple((int(c), str(recoder.label[c])) for c in sorted(recoder.value_set("code")))


XFORM_CODES = _recoder_codes(nibabel.nifti1.xform_codes)
SLICE_CODES = _recoder_codes(nibabel.nifti1.slice_order_codes)
INTENT_CODES = _recoder_codes(nibabel.nifti1.intent_codes)
SPACE_UNITS = ((0, "unknown"), (1, "meter"), (2, "mm"), (3, "micron"))
TIME_UNITS = (
    (0, "unknown"),
    (8, "sec"),
    (16, "msec"),
    (24, "usec"),
    (32, "hz"),
    (40, "ppm"),
    (48, "rads"),
)
DATATYPE_WORDS = {
    0: ("none", "no data type"),
    1: ("binary", "binary (1 bit per voxel)"),
    2: ("uint8", "unsigned 8-bit integer (uint8)"),
    4: ("int16", "signed 16-bit integer (int16)"),
    8: ("int32", "signed 32-bit integer (int32)"),
    16: ("float32", "32-bit float (float32)"),
    32: ("complex64", "complex, two 32-bit floats (complex64)"),
    64: ("float64", "64-bit float (float64)"),
    128: ("RGB24", "RGB colour, 8 bits per channel (RGB24)"),
    255: ("all", "all types (255)"),
    256: ("int8", "signed 8-bit integer (int8)"),
    512: ("uint16", "unsigned 16-bit integer (uint16)"),
    768: ("uint32", "unsigned 32-bit integer (uint32)"),
    1024: ("int64", "signed 64-bit integer (int64)"),
    1280: ("uint64", "unsigned 64-bit integer (uint64)"),
    1536: ("float128", "128-bit float (float128)"),
    1792: ("complex128", "complex, two 64-bit floats (complex128)"),
    2048: ("complex256", "complex, two 128-bit floats (complex256)"),
    2304: ("RGBA32", "RGBA colour, 8 bits per channel (RGBA32)"),
}
DATATYPE_CODES = tuple((code, short) for code, (short, _) in DATATYPE_WORDS.items())


def xyzt_label(code: int) -> str:
    """``"mm, sec"`` for 10; ``"mm"`` for 2; ``"unknown"`` for 0; units of the xyzt_units byte."""
    space = dict(SPACE_UNITS).get(code & 0x07, "?")
    time = dict(TIME_UNITS).get(code & 0x38, "?")
    if code & 0x38 == 0:
        return space
    return f"{'unknown space' if code & 0x07 == 0 else space}, {time}"


XYZT_CODES = tuple((s | t, xyzt_label(s | t)) for t, _ in TIME_UNITS for s, _ in SPACE_UNITS)

# -- descriptions and reasons ----------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


LAYOUT = "it changes how the voxel bytes are laid out or read"
UNUSED = "unused legacy Analyze field; NIfTI readers ignore it"
ANALYZE_ONLY = "volview edits only descrip, aux_file, voxel sizes and cal_min/cal_max in Analyze"
READONLY = {
    "sizeof_hdr": "it is fixed by the format (348 or 540 bytes)",
    "dim": f"{LAYOUT} (the image shape)",
    "datatype": f"{LAYOUT} (the voxel type)",
    "bitpix": "it follows from datatype",
    "vox_offset": "it moves where the voxel data starts in the file",
    "magic": "it says single file or pair and the format version; use Save As to convert",
    "eol_check": "it detects files damaged by text-mode transfers; it stays 0D 0A 1A 0A",
    "unused_str": "unused padding of the NIfTI-2 header",
}
DESCRIPTIONS = {
    "sizeof_hdr": "size of the header block in bytes (348 or 540)",
    "data_type": "unused Analyze field (10 characters)",
    "db_name": "unused Analyze field (18 characters)",
    "extents": "unused Analyze field",
    "session_error": "unused Analyze field",
    "regular": "unused Analyze field ('r')",
    "dim_info": "which axes are frequency, phase and slice encoded (2 bits each)",
    "dim": "image dimensions: number of axes, then the size of each",
    "intent_p1": "first parameter of the statistic in intent_code",
    "intent_p2": "second parameter of the statistic in intent_code",
    "intent_p3": "third parameter of the statistic in intent_code",
    "intent_code": "what the voxel values mean (a statistic, labels, vectors, ...)",
    "datatype": "type of each stored voxel value",
    "bitpix": "bits per voxel",
    "slice_start": "first slice of the slice timing pattern",
    "pixdim": "qfac, then voxel sizes and time step, in xyzt_units",
    "vox_offset": "byte offset of the voxel data in the data file",
    "scl_slope": "data scaling: value = scl_slope * stored + scl_inter (0 = no scaling)",
    "scl_inter": "data scaling intercept: value = scl_slope * stored + scl_inter",
    "slice_end": "last slice of the slice timing pattern",
    "slice_code": "order in which slices were acquired",
    "xyzt_units": "units of the voxel sizes and of the time step",
    "cal_max": "display range maximum (0 = unset)",
    "cal_min": "display range minimum (0 = unset)",
    "slice_duration": "time to acquire one slice, in xyzt_units",
    "toffset": "time of the first volume, in xyzt_units",
    "glmax": "unused Analyze field (global maximum)",
    "glmin": "unused Analyze field (global minimum)",
    "descrip": "free text description (80 characters)",
    "aux_file": "auxiliary file name, e.g. a colour table (24 characters)",
    "qform_code": "what the qform (voxel to world from the quaternion) refers to",
    "sform_code": "what the sform (general voxel to world matrix) refers to",
    "quatern_b": "qform rotation: quaternion b",
    "quatern_c": "qform rotation: quaternion c",
    "quatern_d": "qform rotation: quaternion d",
    "qoffset_x": "qform: world x of voxel (0, 0, 0)",
    "qoffset_y": "qform: world y of voxel (0, 0, 0)",
    "qoffset_z": "qform: world z of voxel (0, 0, 0)",
    "srow_x": "sform: first row of the voxel to world matrix",
    "srow_y": "sform: second row of the voxel to world matrix",
    "srow_z": "sform: third row of the voxel to world matrix",
    "intent_name": "name or meaning of the data (16 characters)",
    "magic": "format marker: n+1/n+2 single file, ni1/ni2 pair",
    "eol_check": "bytes that detect text-mode transfer damage (0D 0A 1A 0A)",
    "unused_str": "unused padding",
    # Analyze 7.5 only
    "hkey_un0": "unused Analyze field",
    "vox_units": "spatial units as text (Analyze)",
    "cal_units": "units of the calibrated values as text (Analyze)",
    "unused1": "unused Analyze field",
    "dim_un0": "unused Analyze field",
    "funused1": "SPM scale factor of the stored values (0 = none)",
    "funused2": "unused Analyze field (SPM: intercept)",
    "funused3": "unused Analyze field",
    "compressed": "unused Analyze field",
    "verified": "unused Analyze field",
    "orient": "slice orientation code (Analyze)",
    "originator": "SPM: voxel coordinates of the origin (5 16-bit integers)",
    "generated": "who generated the file",
    "scannum": "scan number",
    "patient_id": "patient identifier",
    "exp_date": "experiment date",
    "exp_time": "experiment time",
    "hist_un0": "unused Analyze field",
    "views": "number of views",
    "vols_added": "volumes added",
    "start_field": "start field",
    "field_skip": "field skip",
    "omax": "original maximum",
    "omin": "original minimum",
    "smax": "scaled maximum",
    "smin": "scaled minimum",
}
NIFTI_EDITABLE = _names(
    "descrip aux_file intent_code intent_name intent_p1 intent_p2 intent_p3 pixdim "
    "xyzt_units qform_code sform_code quatern_b quatern_c quatern_d qoffset_x qoffset_y "
    "qoffset_z srow_x srow_y srow_z scl_slope scl_inter cal_min cal_max dim_info "
    "slice_code slice_start slice_end slice_duration toffset"
)
ANALYZE_EDITABLE = frozenset({"descrip", "aux_file", "pixdim", "cal_min", "cal_max"})
CODE_TABLES = {
    "qform_code": XFORM_CODES,
    "sform_code": XFORM_CODES,
    "intent_code": INTENT_CODES,
    "slice_code": SLICE_CODES,
    "xyzt_units": XYZT_CODES,
    "datatype": DATATYPE_CODES,
}
BYTES_FIELDS = _names(
    "magic eol_check unused_str data_type db_name regular hkey_un0 orient originator hist_un0"
)
HEADER_DTYPES = {
    HeaderKind.NIFTI1: nibabel.nifti1.header_dtype,
    HeaderKind.NIFTI2: nibabel.nifti2.header_dtype,
    HeaderKind.ANALYZE: nibabel.analyze.header_dtype,
}

# -- specs -----------------------------------------------------------------------


@functools.cache
def field_specs(kind: HeaderKind) -> tuple[FieldSpec, ...]:
    """Every field of a ``kind`` header in file order; together they cover every byte."""
    header_dtype = HEADER_DTYPES[HeaderKind(kind)]
    specs = [_spec(kind, name, *header_dtype.fields[name][:2]) for name in header_dtype.names]
    return tuple(sorted(specs, key=lambda spec: spec.offset))


@functools.cache
def spec_map(kind: HeaderKind) -> dict[str, FieldSpec]:
    """``{name: FieldSpec}`` of a ``kind`` header."""
    return {spec.name: spec for spec in field_specs(kind)}


def _spec(kind: HeaderKind, name: str, dtype: np.dtype, offset: int) -> FieldSpec:
    base, count = (dtype.base, int(np.prod(dtype.shape))) if dtype.shape else (dtype, 1)
    base = base.newbyteorder("=") if base.kind in "iuf" else base
    analyze = kind == HeaderKind.ANALYZE
    editable = name in (ANALYZE_EDITABLE if analyze else NIFTI_EDITABLE)
    reason = ""
    if not editable:
        reason = ANALYZE_ONLY if analyze and name not in READONLY else READONLY.get(name, UNUSED)
    return FieldSpec(
        name=name,
        dtype=np.dtype(base),
        count=count,
        offset=int(offset),
        description=DESCRIPTIONS.get(name, name),
        kind=_value_kind(name, base, analyze),
        editable=editable,
        readonly_reason=reason,
        codes=() if analyze and name != "datatype" else CODE_TABLES.get(name, ()),
    )


def _value_kind(name: str, base: np.dtype, analyze: bool) -> ValueKind:
    if name in BYTES_FIELDS:
        return ValueKind.BYTES
    if name in CODE_TABLES and (not analyze or name == "datatype"):
        return ValueKind.CODE
    if base.kind == "S":
        return ValueKind.TEXT
    return ValueKind.FLOAT if base.kind == "f" else ValueKind.INT


AXES = "ijk"


def element_readonly_reason(kind: HeaderKind, spec: FieldSpec, index: int | None) -> str:
    """Why element ``index`` of ``spec`` is read-only ("" when it is editable)."""
    if kind == HeaderKind.ANALYZE and spec.name == "pixdim" and index == 0:
        return "it is unused in Analyze 7.5 headers"
    return "" if spec.editable else spec.readonly_reason


def element_description(kind: HeaderKind, spec: FieldSpec, index: int) -> str:
    """One line for element ``index`` of an array field, e.g. ``pixdim[1]: voxel width ...``."""
    key = f"{spec.name}[{index}]"
    if spec.name == "dim":
        what = "number of dimensions (1 to 7)" if index == 0 else _dim_words(index)
    elif spec.name == "pixdim":
        what = _pixdim_words(kind, index)
    elif spec.name.startswith("srow_"):
        world = spec.name[-1]
        what = (
            f"sform: world {world} of voxel (0, 0, 0), in mm"
            if index == 3
            else f"sform: change of world {world} per step along {AXES[index]}"
        )
    else:
        what = f"element {index} of {spec.name}: {spec.description}"
    return f"{key}: {what}"


def _dim_words(index: int) -> str:
    names = {1: "i", 2: "j", 3: "k", 4: "time (volumes)", 5: "5th axis (e.g. vector components)"}
    return f"size along {names.get(index, f'axis {index}')}"


def _pixdim_words(kind: HeaderKind, index: int) -> str:
    if index == 0:
        if kind == HeaderKind.ANALYZE:
            return "unused in Analyze"
        return "qfac, -1 or 1: handedness of the qform (flips the k axis)"
    if index <= 3:
        return f"voxel width along {AXES[index - 1]}, in xyzt_units"
    if index == 4:
        return "time between volumes (TR), in xyzt_units"
    return f"step along axis {index}"
