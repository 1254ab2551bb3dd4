"""The rules for one value of a header field: parse, check, encode.

Owns: ``parse_field`` (user text to a typed value), ``check_field`` (refuse what the
field cannot hold, with a message naming the field; never clamp) and ``encode_field``
(typed value to the field's bytes in a given byte order). What the fields are lives
in ``header_fields``.
"""

from __future__ import annotations

import numpy as np

from volview.errors import HeaderValueError
from volview.io.header_fields import FieldSpec, HeaderKind, ValueKind, element_readonly_reason


def parse_field(spec: FieldSpec, index: int | None, text: str) -> int | float | str:
    """User text -> typed value for one element of ``spec``; raises HeaderValueError."""
    key = item_key(spec, index)
    if spec.kind in (ValueKind.TEXT, ValueKind.BYTES):
        return text
    stripped = text.strip()
    if spec.kind == ValueKind.CODE:
        value = _parse_code(spec, key, stripped)
    elif spec.kind == ValueKind.INT:
        try:
            value = int(stripped, 10)
        except ValueError:
            raise HeaderValueError(key, f"expected a whole number, got {text!r}") from None
    else:
        try:
            value = float(stripped)
        except ValueError:
            raise HeaderValueError(key, f"expected a number, got {text!r}") from None
    return value


def _parse_code(spec: FieldSpec, key: str, text: str) -> int:
    head = text.split("(", 1)[0].strip()  # "1 (scanner)" as text() shows it
    try:
        return int(head, 10)
    except ValueError:
        pass
    wanted = text.strip("() ").lower()
    for code, label in spec.codes:
        if label.lower() == wanted:
            return code
    raise HeaderValueError(key, f"expected a code number or one of its names, got {text!r}")


def item_key(spec: FieldSpec, index: int | None) -> str:
    return spec.name if index is None else f"{spec.name}[{index}]"


def check_field(kind: HeaderKind, spec: FieldSpec, index: int | None, value) -> None:
    """Raise HeaderValueError unless ``value`` fits element ``index`` of ``spec`` as is."""
    key = item_key(spec, index)
    reason = element_readonly_reason(kind, spec, index)
    if reason:
        raise HeaderValueError(key, f"cannot be edited: {reason}")
    if spec.kind == ValueKind.TEXT:
        _check_text(spec, key, value)
    elif spec.kind in (ValueKind.INT, ValueKind.CODE):
        _check_int(spec, key, value)
    elif spec.kind == ValueKind.FLOAT:
        _check_float(spec, key, value)
    if spec.name == "pixdim" and index is not None:
        _check_pixdim(key, index, float(value))


def _check_text(spec: FieldSpec, key: str, value) -> None:
    if not isinstance(value, str):
        raise HeaderValueError(key, f"expected text, got {value!r}")
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise HeaderValueError(
            key, f"can only hold ASCII/Latin-1 characters; {bad!r} is not one"
        ) from None
    if len(encoded) > spec.dtype.itemsize:
        raise HeaderValueError(
            key, f"too long: {len(encoded)} characters, at most {spec.dtype.itemsize} fit"
        )


def _check_int(spec: FieldSpec, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise HeaderValueError(key, f"expected a whole number, got {value!r}")
    info = np.iinfo(spec.dtype)
    if not info.min <= int(value) <= info.max:
        raise HeaderValueError(
            key, f"must be between {info.min} and {info.max} ({spec.dtype.name} field)"
        )
    if spec.kind == ValueKind.CODE and spec.code_label(int(value)) is None:
        raise HeaderValueError(key, f"{int(value)} is not a known code; {_code_hint(spec)}")


def _code_hint(spec: FieldSpec) -> str:
    if len(spec.codes) <= 10:
        return "valid codes: " + ", ".join(f"{c} ({label})" for c, label in spec.codes)
    return f"valid codes are {len(spec.codes)} known values such as " + ", ".join(
        f"{c} ({label})" for c, label in spec.codes[:4]
    )


def _check_float(spec: FieldSpec, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise HeaderValueError(key, f"expected a number, got {value!r}")
    if not np.isfinite(float(value)):
        raise HeaderValueError(key, f"must be a finite number, got {float(value)}")
    limit = float(np.finfo(spec.dtype).max)
    if abs(float(value)) > limit:
        raise HeaderValueError(
            key, f"too large for a {spec.dtype.itemsize * 8}-bit float (largest is {limit:.3g})"
        )
    if float(value) != 0 and float(spec.dtype.type(value)) == 0:
        raise HeaderValueError(
            key, f"too close to 0 for a {spec.dtype.itemsize * 8}-bit float (it would be 0)"
        )


def _check_pixdim(key: str, index: int, value: float) -> None:
    if index == 0 and value not in (-1.0, 1.0):
        raise HeaderValueError(key, f"qfac must be -1 or 1, got {value:g}")
    if 1 <= index <= 3 and not value > 0:
        raise HeaderValueError(key, f"a voxel size must be greater than 0, got {value:g}")


def encode_field(spec: FieldSpec, value, byteorder: str, *, count: int = 1) -> bytes:
    """Bytes of ``count`` elements of ``spec`` holding ``value`` (a scalar or a sequence)."""
    if isinstance(value, bytes) and spec.dtype.kind != "S":
        return value
    if spec.dtype.kind == "S":
        raw = value if isinstance(value, bytes) else str(value).encode("latin-1")
        return raw.ljust(spec.dtype.itemsize, b"\0")
    array = np.asarray(value, dtype=spec.dtype.newbyteorder(byteorder)).reshape(count)
    return array.tobytes()
