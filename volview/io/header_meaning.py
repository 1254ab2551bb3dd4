"""What a header means: derived geometry and the warnings about the whole header.

Owns: ``DerivedInfo`` and ``derive_info`` (qform/sform, orientation letters, voxel
size and TR text, data type words), ``HeaderWarning`` and ``header_warnings``.
Both read a ``RawHeader`` through its public accessors only; nothing here edits it.
Geometry: matrices map voxel indices ``ijk`` to world ``xyz`` (RAS+, header units).

Warning rules, besides every problem nibabel's own checks report (prefixed
"nibabel: ", mapped to a field key where the check is about one field):

- qform and sform both coded (> 0) but a corner of the grid differs by > 1e-3 units;
- a quaternion with b² + c² + d² > 1 (beyond 3 eps of the header's float type);
- voxel size pixdim[1..3] zero, negative or not finite;
- scl_slope/scl_inter infinite, or NaN where it matters (a NaN intercept with a
  usable slope; a NaN slope with a non-zero intercept). Both NaN is how nibabel
  writes "no scaling", and is not reported;
- units: spatial unit unknown; a time series (dim[4] > 1, TR > 0) without a time
  unit; metres with a voxel of 5 cm or more; microns whose voxels (0.5 to 5) and
  field of view (100 to 400 on every axis) look like a brain in millimetres;
  seconds with a TR of 100 or more; milliseconds with a TR below 10;
- sform_code 0 with srow rows that are neither zero nor the identity; qform_code 0
  with a non-zero quaternion or qoffset;
- cal_min > cal_max; slice_start/slice_end outside the slice axis (dim_info's slice
  dimension, else k). Analyze headers get the nibabel, voxel size and cal rules only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from nibabel.orientations import aff2axcodes
from nibabel.spatialimages import HeaderDataError
from nibabel.spm2analyze import Spm2AnalyzeHeader

from volview.io.header_fields import DATATYPE_WORDS, HeaderKind

if TYPE_CHECKING:
    from volview.io.header import RawHeader

TIMES = "\N{MULTIPLICATION SIGN}"
QFORM_SFORM_TOLERANCE = 1e-3  # world units, at the corners of the voxel grid
SPACE_UNIT_WORDS = {1: "m", 2: "mm", 3: "µm"}
TIME_UNIT_WORDS = {8: "s", 16: "ms", 24: "µs", 32: "Hz", 40: "ppm", 48: "rad/s"}


@dataclass(frozen=True)
class HeaderWarning:
    """A problem of the whole header; ``key`` names the item to highlight, if one does."""

    key: str | None
    message: str


@dataclass(frozen=True, eq=False)
class DerivedInfo:
    """What the header means, computed from its fields (for the summary above the table)."""

    qform: np.ndarray | None  # 4x4, None when qform_code is 0
    sform: np.ndarray | None  # 4x4, None when sform_code is 0
    qform_orientation: str  # e.g. "RAS", "" when none
    sform_orientation: str
    voxel_sizes: str  # pixdim[1..3] joined by multiplication signs, then the unit
    tr: str  # "2 s" or ""
    data_type: str  # "signed 16-bit integer (int16)"
    n_extensions: int
    best_affine: np.ndarray  # sform if coded, else qform if coded, else from pixdim


def derive_info(raw: RawHeader) -> DerivedInfo:
    """What ``raw`` means (see ``RawHeader.derived``)."""
    qform, sform = coded_xform(raw, "qform"), coded_xform(raw, "sform")
    if raw.kind == HeaderKind.ANALYZE:
        spm2 = Spm2AnalyzeHeader(raw.block, endianness=raw.byteorder, check=False)
        best = spm2.get_best_affine()
    else:
        best = sform if sform is not None else qform
        best = _base_affine(raw) if best is None else best
    return DerivedInfo(
        qform=qform,
        sform=sform,
        qform_orientation=_orientation(qform),
        sform_orientation=_orientation(sform),
        voxel_sizes=_voxel_sizes_text(raw),
        tr=_tr_text(raw),
        data_type=_datatype_words(int(raw.value("datatype"))),
        n_extensions=raw.n_extensions,
        best_affine=np.asarray(best, dtype=np.float64),
    )


def coded_xform(raw: RawHeader, which: str) -> np.ndarray | None:
    """The coded qform/sform; None when its code is 0 or the quaternion is not a rotation.

    qfac 0 is read as 1 and voxel sizes as their absolute value, as niftilib does.
    """
    if raw.kind == HeaderKind.ANALYZE or int(raw.value(f"{which}_code")) <= 0:
        return None
    header = raw.nibabel_header()
    if which == "sform":
        return header.get_sform()
    pixdim = header["pixdim"]
    pixdim[0] = -1.0 if pixdim[0] < 0 else 1.0
    pixdim[1:4] = [abs(v) if v != 0 else 1.0 for v in pixdim[1:4]]
    header["pixdim"] = pixdim
    try:
        with np.errstate(invalid="ignore"):
            return header.get_qform()
    except (ValueError, HeaderDataError):  # b²+c²+d² > 1: no rotation (reported by warnings)
        return None


def _base_affine(raw: RawHeader) -> np.ndarray:
    try:
        return raw.nibabel_header().get_base_affine()
    except (HeaderDataError, ValueError):
        return np.eye(4)


def _voxel_sizes_text(raw: RawHeader) -> str:
    sizes = f" {TIMES} ".join(f"{float(v):g}" for v in raw.values("pixdim")[1:4])
    if raw.kind == HeaderKind.ANALYZE:
        unit = str(raw.value("vox_units")).strip()
    else:
        unit = SPACE_UNIT_WORDS.get(int(raw.value("xyzt_units")) & 0x07, "")
    return f"{sizes} {unit or '(units unknown)'}"


def _tr_text(raw: RawHeader) -> str:
    dim, tr = raw.values("dim"), float(raw.value("pixdim[4]"))
    if dim[0] < 4 or dim[4] <= 1 or not tr > 0 or not np.isfinite(tr):
        return ""
    unit = ""
    if raw.kind != HeaderKind.ANALYZE:
        unit = TIME_UNIT_WORDS.get(int(raw.value("xyzt_units")) & 0x38, "")
    return f"{tr:g} {unit or '(units unknown)'}"


def _orientation(affine: np.ndarray | None) -> str:
    if affine is None:
        return ""
    try:
        return "".join(str(c) for c in aff2axcodes(affine))
    except (ValueError, TypeError, np.linalg.LinAlgError):
        return ""


def _datatype_words(code: int) -> str:
    words = DATATYPE_WORDS.get(code)
    return words[1] if words else f"unknown data type (code {code})"


# -- warning rules --------------------------------------------------------------


def header_warnings(raw: RawHeader) -> tuple[HeaderWarning, ...]:
    """Problems of the whole header (see the module docstring for the rules)."""
    rules = [_nibabel_checks, _voxel_size_rule, _cal_rule]
    if raw.kind != HeaderKind.ANALYZE:
        rules += [_scaling_rule, _quaternion_rule, _qform_sform_rule, _unit_rules]
        rules += [_unused_xform_rule, _slice_rule]
    return tuple(w for rule in rules for w in rule(raw))


#: nibabel check -> the item key it is about
CHECK_KEYS = {
    "_chk_sizeof_hdr": "sizeof_hdr",
    "_chk_datatype": "datatype",
    "_chk_bitpix": "bitpix",
    "_chk_qfac": "pixdim[0]",
    "_chk_magic": "magic",
    "_chk_offset": "vox_offset",
    "_chk_qform_code": "qform_code",
    "_chk_sform_code": "sform_code",
    "_chk_eol_check": "eol_check",
}


def _nibabel_checks(raw: RawHeader) -> list[HeaderWarning]:
    header = raw.nibabel_header()
    get_checks = getattr(header, "_get_checks", None)  # nibabel's (private) list of checks
    if get_checks is None:  # fall back on its text report, not mapped to fields
        text = type(header).diagnose_binaryblock(raw.block, raw.byteorder)
        return [HeaderWarning(None, f"nibabel: {line}") for line in text.splitlines() if line]
    found = []
    for check in get_checks():
        _, report = check(header.copy(), fix=False)
        if report.problem_level > 0 and report.problem_msg:
            key = CHECK_KEYS.get(check.__name__)
            if check.__name__ == "_chk_pixdims":
                key = next((f"pixdim[{i}]" for i in (1, 2, 3) if not header["pixdim"][i] > 0), None)
            found.append(HeaderWarning(key, f"nibabel: {report.problem_msg}"))
    return found


def _voxel_size_rule(raw: RawHeader) -> list[HeaderWarning]:
    found = []
    for i in (1, 2, 3):
        size = float(raw.value(f"pixdim[{i}]"))
        if not np.isfinite(size):
            found.append(HeaderWarning(f"pixdim[{i}]", f"voxel size pixdim[{i}] is {size}"))
        elif size <= 0:
            found.append(
                HeaderWarning(f"pixdim[{i}]", f"voxel size pixdim[{i}] is {size:g}, not > 0")
            )
    return found


def _cal_rule(raw: RawHeader) -> list[HeaderWarning]:
    lo, hi = float(raw.value("cal_min")), float(raw.value("cal_max"))
    if lo > hi:
        return [HeaderWarning("cal_min", f"cal_min ({lo:g}) is above cal_max ({hi:g})")]
    return []


def _scaling_rule(raw: RawHeader) -> list[HeaderWarning]:
    slope, inter = float(raw.value("scl_slope")), float(raw.value("scl_inter"))
    usable = slope != 0 and np.isfinite(slope)
    found = []
    if np.isinf(slope):
        found.append(HeaderWarning("scl_slope", "scl_slope is infinite: no scaling is applied"))
    elif np.isnan(slope) and np.isfinite(inter) and inter != 0:
        found.append(
            HeaderWarning("scl_slope", "scl_slope is NaN, so scl_inter is ignored (no scaling)")
        )
    if usable and not np.isfinite(inter):
        found.append(
            HeaderWarning(
                "scl_inter",
                f"scl_inter is {inter} with a valid scl_slope: readers disagree "
                "(nibabel refuses to scale)",
            )
        )
    elif np.isinf(inter):
        found.append(HeaderWarning("scl_inter", "scl_inter is infinite"))
    return found


def _quaternion_rule(raw: RawHeader) -> list[HeaderWarning]:
    b, c, d = (float(raw.value(k)) for k in ("quatern_b", "quatern_c", "quatern_d"))
    norm = b * b + c * c + d * d
    eps = np.finfo(np.float32 if raw.kind == HeaderKind.NIFTI1 else np.float64).eps
    if not np.isfinite(norm):
        return [HeaderWarning("quatern_b", "the quaternion has values that are not finite")]
    if norm > 1 + 3 * eps:
        message = f"the quaternion is not a rotation: b²+c²+d² = {norm:.6g} > 1"
        return [HeaderWarning("quatern_b", message)]
    return []


def _corners(raw: RawHeader) -> np.ndarray:
    """Homogeneous voxel coordinates of the 8 corners of the grid, shape (4, 8)."""
    dim = raw.values("dim")
    ends = [max(int(n), 1) - 1 for n in dim[1:4]]
    grid = np.array(np.meshgrid(*[[0, e] for e in ends], indexing="ij")).reshape(3, -1)
    return np.vstack([grid, np.ones((1, grid.shape[1]))])


def _qform_sform_rule(raw: RawHeader) -> list[HeaderWarning]:
    qform, sform = coded_xform(raw, "qform"), coded_xform(raw, "sform")
    if qform is None or sform is None:
        return []
    corners = _corners(raw)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(qform @ corners - sform @ corners).max()
    if gap > QFORM_SFORM_TOLERANCE or not np.isfinite(gap):
        message = f"qform and sform disagree: voxel positions differ by up to {gap:.3g}"
        return [HeaderWarning(None, message)]
    return []


def _unit_rules(raw: RawHeader) -> list[HeaderWarning]:
    units = int(raw.value("xyzt_units"))
    space, time = units & 0x07, units & 0x38
    sizes = np.array([float(raw.value(f"pixdim[{i}]")) for i in (1, 2, 3)])
    dim = raw.values("dim")
    fov = sizes * np.maximum(np.array(dim[1:4], dtype=float), 1)
    tr = float(raw.value("pixdim[4]"))
    series = dim[0] >= 4 and dim[4] > 1 and np.isfinite(tr) and tr > 0
    checks = [
        (space == 0, "spatial units are unknown; readers assume millimetres"),
        (series and time == 0, f"time units are unknown but the TR (pixdim[4]) is {tr:g}"),
        (space == 1 and (sizes >= 0.05).any(), "units are metres but a voxel is 5 cm or more"),
        (
            space == 3
            and ((sizes >= 0.5) & (sizes <= 5)).all()
            and ((fov >= 100) & (fov <= 400)).all(),
            "units are microns but the voxel sizes and field of view look like a brain in mm",
        ),
        (series and time == 8 and tr >= 100, f"a TR of {tr:g} s looks like milliseconds"),
        (series and time == 16 and tr < 10, f"a TR of {tr:g} ms looks like seconds"),
    ]
    return [HeaderWarning("xyzt_units", message) for hit, message in checks if hit]


def _unused_xform_rule(raw: RawHeader) -> list[HeaderWarning]:
    found = []
    srows = np.array([raw.values(name) for name in ("srow_x", "srow_y", "srow_z")])
    if (
        int(raw.value("sform_code")) == 0
        and srows.any()
        and not np.array_equal(srows, np.eye(3, 4))
    ):
        message = "sform_code is 0 (unknown), so readers ignore the sform rows that are set"
        found.append(HeaderWarning("sform_code", message))
    qkeys = ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")
    if int(raw.value("qform_code")) == 0 and any(float(raw.value(k)) != 0 for k in qkeys):
        message = "qform_code is 0 (unknown), so readers ignore the quaternion and qoffset set"
        found.append(HeaderWarning("qform_code", message))
    return found


def _slice_rule(raw: RawHeader) -> list[HeaderWarning]:
    dim = raw.values("dim")
    axis = (int(raw.value("dim_info")) >> 4) & 0x03 or 3
    count = int(dim[axis]) if axis <= dim[0] else 1
    start, end = int(raw.value("slice_start")), int(raw.value("slice_end"))
    found = []
    if start != 0 and not 0 <= start < count:
        found.append(HeaderWarning("slice_start", f"slice_start {start} is outside 0..{count - 1}"))
    if end != 0 and not start <= end < count:
        message = f"slice_end {end} is outside {start}..{count - 1}"
        found.append(HeaderWarning("slice_end", message))
    return found
