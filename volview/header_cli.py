"""``volview header FILE [--json] [--set FIELD=VALUE ...]``: the header editor for scripts.

Owns: printing a header (a table for people, ``--json`` for programs) and applying
validated edits through the same RawHeader checks and the same safe save as the
GUI. Exit codes: 0 ok, 1 the file cannot be read or an edit is invalid (the file is
then left unchanged), 2 bad arguments. No Qt is imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from volview.errors import VolviewError
from volview.io.header import HeaderValueError, RawHeader
from volview.io.header_file import HeaderFile, read_header
from volview.io.header_save import find_backup, restore_backup, save

#: pseudo-fields of --set that take a whole 4x4 (or 3x4) matrix, row by row
MATRIX_KEYS = ("qform", "sform")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="volview header",
        description="Print a NIfTI/Analyze header, or edit fields and save them safely "
        "(in place for .nii/.hdr: only the header bytes are written).",
    )
    parser.add_argument("file", help="a .nii, .nii.gz, .hdr/.img or .img.gz file")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--set",
        dest="edits",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a field, e.g. pixdim[1]=0.8, descrip='T1 fixed', sform_code=2, "
        "or qform=r11,r12,...,r34 (12 or 16 numbers); repeatable",
    )
    parser.add_argument(
        "--restore-backup",
        action="store_true",
        help="put back the header saved before an interrupted save",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        if args.restore_backup:
            restore_backup(args.file)
            print(f"restored the previous header of {args.file}")
        header_file = read_header(args.file)
        backup = find_backup(args.file)
        if backup is not None:
            print(
                f"warning: {backup.name} holds the header from an interrupted save; "
                "run with --restore-backup to put it back",
                file=sys.stderr,
            )
        if args.edits:
            return _apply_edits(header_file, args.edits)
    except VolviewError as exc:
        print(f"volview: {exc}", file=sys.stderr)
        return 1
    print(header_json(header_file) if args.json else header_table(header_file.raw))
    return 0


def _apply_edits(header_file: HeaderFile, edits: list[str]) -> int:
    raw = header_file.raw
    for edit in edits:
        key, sep, text = edit.partition("=")
        if not sep:
            print(f"volview: --set {edit!r}: expected FIELD=VALUE", file=sys.stderr)
            return 1
        raw = apply_edit(raw, key.strip(), text)
    save(header_file, raw)
    changed = ", ".join(raw.changed_keys(header_file.raw)) or "nothing changed"
    print(f"saved {header_file.path}: {changed}")
    return 0


def apply_edit(raw: RawHeader, key: str, text: str) -> RawHeader:
    """One ``FIELD=VALUE`` edit, validated; raises HeaderValueError."""
    if key in MATRIX_KEYS:
        matrix = _parse_matrix(key, text)
        return raw.with_qform(matrix) if key == "qform" else raw.with_sform(matrix)
    return raw.with_value(key, raw.parse(key, text))


def _parse_matrix(key: str, text: str) -> np.ndarray:
    try:
        values = [float(v) for v in text.replace(";", ",").replace(" ", ",").split(",") if v]
    except ValueError:
        raise HeaderValueError(key, f"{text!r} is not a list of numbers") from None
    if len(values) not in (12, 16):
        raise HeaderValueError(
            key, f"expected 12 or 16 numbers (rows of the matrix), got {len(values)}"
        )
    matrix = np.eye(4)
    matrix.flat[: len(values)] = values
    return matrix


def header_table(raw: RawHeader) -> str:
    """The header as aligned ``field  value  type`` lines, then warnings and derived values."""
    items = raw.items()
    width = max(len(item.key) for item in items)
    lines = [f"{raw.kind} header, {'little' if raw.byteorder == '<' else 'big'}-endian"]
    lines += [f"{item.key:<{width}}  {raw.text(item.key)}" for item in items]
    info = raw.derived()
    lines += ["", f"voxel sizes: {info.voxel_sizes}", f"data type: {info.data_type}"]
    lines += [f"qform: {info.qform_orientation or '-'}", f"sform: {info.sform_orientation or '-'}"]
    lines += [f"extensions: {info.n_extensions}"]
    lines += [f"warning: {_warning_text(w)}" for w in raw.warnings()]
    return "\n".join(lines)


def header_json(header_file: HeaderFile) -> str:
    raw = header_file.raw
    info = raw.derived()
    document = {
        "file": str(header_file.path),
        "kind": str(raw.kind),
        "byteorder": "little" if raw.byteorder == "<" else "big",
        "fields": {item.key: _jsonable(raw.value(item.key)) for item in raw.items()},
        "derived": {
            "qform": None if info.qform is None else info.qform.tolist(),
            "sform": None if info.sform is None else info.sform.tolist(),
            "qform_orientation": info.qform_orientation,
            "sform_orientation": info.sform_orientation,
            "voxel_sizes": info.voxel_sizes,
            "data_type": info.data_type,
            "extensions": info.n_extensions,
            "affine": info.best_affine.tolist(),
        },
        "warnings": [_warning_text(w) for w in raw.warnings()],
    }
    return json.dumps(document, indent=2, allow_nan=False)


def _warning_text(warning) -> str:
    return f"{warning.key}: {warning.message}" if warning.key else warning.message


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # "nan", "inf": strict JSON has no NaN
    return value
