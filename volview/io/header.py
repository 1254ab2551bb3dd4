"""A NIfTI-1, NIfTI-2 or Analyze 7.5 header as the file's own bytes, and edits of it.

Owns: ``RawHeader`` (an immutable 348- or 540-byte block plus its byte order: field
values, display text, validated edits, derived geometry and warnings) and
``HeaderItem`` (one row of the header table). Reading one from a file is
``header_file.read_header``.

Invariants: values are read from and written to the block in the header's own byte
order; an edit changes exactly the bytes of the edited field and nothing else; an
edit that a field cannot hold raises ``HeaderValueError`` (nothing is clamped).
Nothing here writes files (see ``header_save``). Geometry: ``DerivedInfo`` matrices
map voxel indices ``ijk`` to world ``xyz`` (RAS+, in the header's spatial units).

Derived geometry and the warning rules live in ``header_meaning``; file naming, kind
and byte-order detection and the extension chain in ``header_layout``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import nibabel.nifti1
import nibabel.nifti2
import numpy as np
from nibabel.spatialimages import HeaderDataError
from nibabel.spm2analyze import Spm2AnalyzeHeader

from volview.errors import (
    HeaderValueError,
)
from volview.io.header_fields import (
    FieldSpec,
    HeaderKind,
    ValueKind,
    element_description,
    element_readonly_reason,
    field_specs,
    spec_map,
)
from volview.io.header_layout import (
    BLOCK_SIZES,
    MAGICS,
)
from volview.io.header_meaning import DerivedInfo, HeaderWarning, derive_info, header_warnings
from volview.io.header_values import check_field, encode_field, parse_field

__all__ = [
    "DerivedInfo",
    "HeaderItem",
    "HeaderKind",
    "HeaderValueError",
    "HeaderWarning",
    "RawHeader",
]


@dataclass(frozen=True)
class HeaderItem:
    """One table row: a scalar field or one element of an array field."""

    key: str  # 'descrip', 'pixdim[1]', 'srow_x[3]', 'dim[0]'
    spec: FieldSpec  # for Analyze pixdim[0], a read-only copy of pixdim's spec
    index: int | None  # element index for array fields, None for scalars
    description: str  # element-specific one-liner for the tooltip

    @property
    def offset(self) -> int:
        """Byte offset of this item in the block."""
        return self.spec.offset + (self.index or 0) * self.spec.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.spec.nbytes if self.index is None else self.spec.dtype.itemsize

    @property
    def editable(self) -> bool:
        return self.spec.editable


@functools.cache
def header_items(kind: HeaderKind) -> tuple[HeaderItem, ...]:
    """The table rows of a ``kind`` header, in file order."""
    items = []
    for spec in field_specs(kind):
        if spec.count == 1 or spec.kind == ValueKind.BYTES:
            items.append(HeaderItem(spec.name, spec, None, f"{spec.name}: {spec.description}"))
            continue
        for index in range(spec.count):
            reason = element_readonly_reason(kind, spec, index)
            item_spec = spec
            if reason and spec.editable:
                item_spec = dataclasses.replace(spec, editable=False, readonly_reason=reason)
            description = element_description(kind, spec, index)
            items.append(HeaderItem(f"{spec.name}[{index}]", item_spec, index, description))
    return tuple(items)


@functools.cache
def _item_map(kind: HeaderKind) -> dict[str, HeaderItem]:
    return {item.key: item for item in header_items(kind)}


@dataclass(frozen=True)
class RawHeader:
    """The header block exactly as stored, with typed, validated access to its fields."""

    kind: HeaderKind
    byteorder: str  # '<' or '>'
    block: bytes  # exactly 348 (NIfTI-1/Analyze) or 540 (NIfTI-2) bytes
    #: extensions that follow the block in the file (informational, not compared)
    n_extensions: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.byteorder not in "<>" or len(self.byteorder) != 1:
            raise ValueError(f"byteorder must be '<' or '>', not {self.byteorder!r}")
        if len(self.block) != BLOCK_SIZES[self.kind]:
            raise ValueError(f"a {self.kind} block has {BLOCK_SIZES[self.kind]} bytes")

    # -- reading ------------------------------------------------------------------

    def items(self) -> tuple[HeaderItem, ...]:
        return header_items(self.kind)

    def item(self, key: str) -> HeaderItem:
        """The row called ``key``; raises HeaderValueError for a key this kind lacks."""
        try:
            return _item_map(self.kind)[key]
        except KeyError:
            raise HeaderValueError(key, f"no such field in a {self.kind} header") from None

    def value(self, key: str) -> int | float | str | bytes:
        """The stored value (scl_slope as stored: it may be NaN)."""
        item = self.item(key)
        raw = self.block[item.offset : item.offset + item.nbytes]
        if item.spec.kind == ValueKind.BYTES:
            return raw
        if item.spec.kind == ValueKind.TEXT:
            return raw.rstrip(b"\0").decode("latin-1")
        number = np.frombuffer(raw, dtype=item.spec.dtype.newbyteorder(self.byteorder))[0]
        return float(number) if item.spec.kind == ValueKind.FLOAT else int(number)

    def values(self, name: str) -> tuple:
        """All elements of the array field ``name`` (e.g. ``values('dim')``)."""
        spec = spec_map(self.kind)[name]
        return tuple(self.value(f"{name}[{i}]") for i in range(spec.count))

    def text(self, key: str) -> str:
        """The value as the table shows it: codes as ``1 (scanner)``, bytes escaped."""
        item, value = self.item(key), self.value(key)
        kind = item.spec.kind
        if kind == ValueKind.FLOAT:
            return str(item.spec.dtype.type(value))
        if kind == ValueKind.CODE:
            return f"{value} ({item.spec.code_label(value) or 'not a valid code'})"
        if kind == ValueKind.TEXT:
            return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)
        if kind == ValueKind.BYTES:
            return _bytes_text(value)
        return str(value)

    # -- editing ------------------------------------------------------------------

    def parse(self, key: str, text: str) -> int | float | str:
        """User text -> typed value, checked as ``with_value`` would; raises HeaderValueError.

        The text ``text(key)`` shows stands for the stored value (escapes included).
        """
        item = self.item(key)
        if not item.editable:
            check_field(self.kind, item.spec, item.index, None)  # raises: read-only
        if item.spec.kind == ValueKind.TEXT and text == self.text(key):
            return self.value(key)
        value = parse_field(item.spec, item.index, text)
        check_field(self.kind, item.spec, item.index, value)
        return value

    def with_value(self, key: str, value) -> RawHeader:
        """A copy with one item (or a whole array field, from a sequence) set; validated."""
        spec = spec_map(self.kind).get(key)
        if spec is not None and key not in _item_map(self.kind):
            return self._with_array(spec, value)
        item = self.item(key)
        check_field(self.kind, item.spec, item.index, value)
        return self._with_bytes(item.offset, encode_field(item.spec, value, self.byteorder))

    def _with_array(self, spec: FieldSpec, values) -> RawHeader:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise HeaderValueError(spec.name, f"expected {spec.count} values, got {values!r}")
        if len(values) != spec.count:
            raise HeaderValueError(spec.name, f"expected {spec.count} values, got {len(values)}")
        new = self
        for index, value in enumerate(values):
            item = self.item(f"{spec.name}[{index}]")
            if not self._same_bytes(item, value):  # unchanged elements are not re-checked
                new = new.with_value(item.key, value)
        return new

    def _same_bytes(self, item: HeaderItem, value) -> bool:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                data = encode_field(item.spec, value, self.byteorder)
        except (TypeError, ValueError, OverflowError, UnicodeError):
            return False
        return data == self.block[item.offset : item.offset + item.nbytes]

    def _with_bytes(self, offset: int, data: bytes) -> RawHeader:
        block = self.block[:offset] + data + self.block[offset + len(data) :]
        return dataclasses.replace(self, block=block)

    def with_fields_unchecked(self, **values) -> RawHeader:
        """A copy with whole fields set WITHOUT validation (for savers: magic, vox_offset)."""
        new = self
        for name, value in values.items():
            spec = spec_map(self.kind)[name]
            data = encode_field(spec, value, self.byteorder, count=spec.count)
            new = new._with_bytes(spec.offset, data)
        return new

    def with_layout(self, *, single: bool, vox_offset: int) -> RawHeader:
        """The header re-targeted to a single file or a pair: magic and vox_offset set."""
        if self.kind == HeaderKind.ANALYZE:
            return self.with_fields_unchecked(vox_offset=vox_offset)
        magic = MAGICS[self.kind][0 if single else 1]
        return self.with_fields_unchecked(magic=magic, vox_offset=vox_offset)

    def with_qform(self, matrix: np.ndarray, *, strip_shears: bool = True) -> RawHeader:
        """Quaternion, qoffset, qfac and pixdim[1..3] from a 4x4 (qform_code kept).

        Like nibabel's ``set_qform``: shears are stripped (the closest rotation is
        stored) unless ``strip_shears=False``, which refuses them.
        """
        self._require_nifti("qform")
        matrix = _checked_affine("qform", matrix)
        header = self.nibabel_header()
        try:
            header.set_qform(matrix, code=int(header["qform_code"]), strip_shears=strip_shears)
        except HeaderDataError:
            raise HeaderValueError(
                "qform", "the matrix has shears, which a qform cannot store; use the sform"
            ) from None
        block = header.binaryblock
        new = self
        for name in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z"):
            new = new._copy_field(name, block)
        pixdim = spec_map(self.kind)["pixdim"]
        end = pixdim.offset + 4 * pixdim.dtype.itemsize  # qfac and the three voxel sizes
        new = new._with_bytes(pixdim.offset, block[pixdim.offset : end])
        if not all(np.isfinite(new.value(k)) for k in ("qoffset_x", "pixdim[1]", "pixdim[3]")):
            raise HeaderValueError("qform", "the matrix does not fit the header's number type")
        return new

    def _copy_field(self, name: str, block: bytes) -> RawHeader:
        spec = spec_map(self.kind)[name]
        return self._with_bytes(spec.offset, block[spec.offset : spec.offset + spec.nbytes])

    def with_sform(self, matrix: np.ndarray) -> RawHeader:
        """srow_x/y/z from the first three rows of a 4x4 (sform_code kept)."""
        self._require_nifti("sform")
        matrix = _checked_affine("sform", matrix)
        new = self
        for row, name in enumerate(("srow_x", "srow_y", "srow_z")):
            try:
                new = new.with_value(name, [float(v) for v in matrix[row]])
            except HeaderValueError as exc:
                raise HeaderValueError("sform", f"{exc.key}: {exc.message}") from None
        return new

    def _require_nifti(self, key: str) -> None:
        if self.kind == HeaderKind.ANALYZE:
            raise HeaderValueError(key, f"Analyze 7.5 headers have no {key}")

    # -- meaning ------------------------------------------------------------------

    def nibabel_header(self):
        """Nifti1Header/Nifti2Header(/Pair)/AnalyzeHeader from the block, unchecked."""
        return _nibabel_class(self)(binaryblock=self.block, endianness=self.byteorder, check=False)

    def slope_inter(self) -> tuple[float, float]:
        """The scaling a reader applies: (1, 0) when there is none (slope 0, NaN or inf).

        Analyze follows nibabel's SPM2 reading (what ``nib.load`` uses): funused1 as
        the slope, else glmax/glmin with cal_max/cal_min.
        """
        if self.kind == HeaderKind.ANALYZE:
            spm2 = Spm2AnalyzeHeader(self.block, endianness=self.byteorder, check=False)
            slope, inter = spm2.get_slope_inter()
            return (1.0, 0.0) if slope is None else (float(slope), float(inter))
        slope, inter = float(self.value("scl_slope")), float(self.value("scl_inter"))
        if slope == 0 or not np.isfinite(slope):
            return 1.0, 0.0
        return slope, inter if np.isfinite(inter) else 0.0

    def derived(self) -> DerivedInfo:
        """What the header means: qform, sform, orientation, sizes, TR, data type."""
        return derive_info(self)

    def warnings(self) -> tuple[HeaderWarning, ...]:
        """Problems of the whole header (rules: ``volview.io.header_meaning``)."""
        return header_warnings(self)

    def changed_keys(self, other: RawHeader) -> tuple[str, ...]:
        """Keys of the items whose bytes differ between ``self`` and ``other``."""
        if other.kind != self.kind:
            raise ValueError(f"cannot compare a {self.kind} header with a {other.kind} header")
        a, b = self.block, other.block
        return tuple(
            item.key
            for item in self.items()
            if a[item.offset : item.offset + item.nbytes]
            != b[item.offset : item.offset + item.nbytes]
        )


def _bytes_text(raw: bytes) -> str:
    """``n+1\\0`` for text-like bytes, ``0d 0a 1a 0a`` otherwise, "(N zero bytes)" if blank."""
    if not any(raw):
        return f"({len(raw)} zero bytes)"
    body = raw.rstrip(b"\0")
    if all(32 <= c < 127 for c in body):
        return body.decode("ascii") + "\\0" * (len(raw) - len(body))
    return raw.hex(" ")


def _checked_affine(key: str, matrix) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise HeaderValueError(key, f"expected a 4x4 matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise HeaderValueError(key, "the matrix has values that are not finite numbers")
    if not np.allclose(matrix[3], [0, 0, 0, 1]):
        raise HeaderValueError(key, "the last row of the matrix must be 0 0 0 1")
    zooms = np.sqrt((matrix[:3, :3] ** 2).sum(axis=0))
    if not (zooms > 0).all() or abs(np.linalg.det(matrix[:3, :3] / zooms)) < 1e-6:
        raise HeaderValueError(key, "the matrix is singular (it flattens the voxel grid)")
    return matrix


def _nibabel_class(raw: RawHeader):
    if raw.kind == HeaderKind.ANALYZE:
        return nib.AnalyzeHeader
    single = raw.value("magic") != MAGICS[raw.kind][1]
    if raw.kind == HeaderKind.NIFTI1:
        return nib.Nifti1Header if single else nibabel.nifti1.Nifti1PairHeader
    return nib.Nifti2Header if single else nibabel.nifti2.Nifti2PairHeader
