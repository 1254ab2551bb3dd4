"""Reading a header from disk: where it lives, its block and its extension bytes.

Owns: ``HeaderFile`` (the opened path, the file holding the header, the data file,
whether it is gzipped, the ``RawHeader`` and the extension bytes) and
``read_header(path)`` for .nii, .nii.gz, .hdr/.img and .img.gz pairs and Analyze.
Files are only read here; saving is ``header_save`` / ``header_rewrite``.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from volview.errors import CorruptFileError, FileAccessError, describe
from volview.io.header import RawHeader
from volview.io.header_layout import (
    BLOCK_SIZES,
    SINGLE_SUFFIXES,
    count_extensions,
    detect_kind,
    header_and_data_paths,
    header_suffix,
    is_gzip_path,
    open_read,
)
from volview.io.images import check_readable

#: extension bytes read for display at most (a save streams them whatever their size)
EXTENSIONS_READ_LIMIT = 64 * 2**20

GZIP_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class HeaderFile:
    """Where a header lives on disk, and the header itself as read."""

    path: Path  # what the user opened (.nii, .nii.gz, .hdr, .img, .img.gz ...)
    header_path: Path  # the file that holds the header bytes
    data_path: Path  # the file holding voxel data (may be missing for a header-only pair)
    compressed: bool  # header_path is gzip-compressed
    raw: RawHeader
    extensions: bytes  # bytes after the block: to vox_offset (single file), to EOF (.hdr)

    @property
    def single(self) -> bool:
        """One .nii(.gz) file holds header and data."""
        return self.header_path == self.data_path


def read_header(path: str | Path) -> HeaderFile:
    """Read the header block (and extension bytes) of a NIfTI-1/2 or Analyze image."""
    path = Path(path).expanduser()
    check_readable(path)
    header_path, data_path = header_and_data_paths(path)
    if header_path != path:
        if not header_path.is_file():
            raise FileAccessError(describe(path, f"its header file {header_path.name} is missing"))
        check_readable(header_path)
    compressed = is_gzip_path(header_path)
    try:
        with open_read(header_path) as f:
            head = f.read(540)
            kind, byteorder = detect_kind(header_path, head)
            block = head[: BLOCK_SIZES[kind]]
            raw = RawHeader(kind, byteorder, block)
            wanted = _extension_bytes_wanted(raw, header_path, len(head))
            extensions = head[len(block) :] + f.read(wanted)
    except GZIP_ERRORS as exc:
        if isinstance(exc, PermissionError | FileNotFoundError):
            raise FileAccessError(describe(header_path, f"cannot read the file ({exc})")) from exc
        raise CorruptFileError(describe(header_path, f"cannot read the header ({exc})")) from exc
    if header_path == data_path:
        extensions = extensions[: max(0, vox_offset(raw) - len(block))]
    raw = dataclasses.replace(raw, n_extensions=count_extensions(extensions, byteorder))
    return HeaderFile(path, header_path, data_path, compressed, raw, extensions)


def vox_offset(raw: RawHeader) -> int:
    """vox_offset as a byte count (0 when it is not a positive finite number)."""
    value = float(raw.value("vox_offset"))
    return int(value) if np.isfinite(value) and value > 0 else 0


def _extension_bytes_wanted(raw: RawHeader, path: Path, already: int) -> int:
    if header_suffix(path) in SINGLE_SUFFIXES:
        end = min(vox_offset(raw), EXTENSIONS_READ_LIMIT)
        return max(0, end - already)
    return EXTENSIONS_READ_LIMIT
