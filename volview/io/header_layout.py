"""Where the header bytes of a NIfTI-1/2 or Analyze image live, and how to recognise them.

Owns: the file naming rules (a single ``.nii``/``.nii.gz``; a ``.hdr`` + ``.img``
pair, each possibly ``.gz``, named as nibabel names them), ``detect_kind`` (header
kind from the magic, byte order guessed as nibabel guesses it) and the walk over
the extension chain that follows the block. Pure functions over paths and bytes.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import nibabel as nib

from volview.errors import CorruptFileError, UnsupportedFormatError, describe
from volview.io.header_fields import HeaderKind

BLOCK_SIZES = {HeaderKind.NIFTI1: 348, HeaderKind.NIFTI2: 540, HeaderKind.ANALYZE: 348}
#: (single-file magic, pair magic) of each NIfTI version
MAGICS = {HeaderKind.NIFTI1: (b"n+1\0", b"ni1\0"), HeaderKind.NIFTI2: (b"n+2\0", b"ni2\0")}
NATIVE = "<" if sys.byteorder == "little" else ">"
SINGLE_SUFFIXES = (".nii.gz", ".nii")
PAIR_SUFFIXES = (".hdr.gz", ".img.gz", ".hdr", ".img")
NO_EXTENSIONS = b"\0\0\0\0"  # the extender of a header without extensions


def header_suffix(path: str | Path) -> str | None:
    """The header-editor suffix ``path`` ends with (lower-cased), or None."""
    name = Path(path).name.lower()
    return next((s for s in (*SINGLE_SUFFIXES, *PAIR_SUFFIXES) if name.endswith(s)), None)


def header_and_data_paths(path: str | Path) -> tuple[Path, Path]:
    """(header file, data file) of an image given by any of its files."""
    path = Path(path)
    suffix = header_suffix(path)
    if suffix in SINGLE_SUFFIXES:
        return path, path
    if suffix in PAIR_SUFFIXES:
        file_map = nib.Nifti1Pair.filespec_to_file_map(path)
        return Path(file_map["header"].filename), Path(file_map["image"].filename)
    raise UnsupportedFormatError(
        describe(path, "the header editor opens .nii, .nii.gz, .hdr and .img (.gz) files")
    )


def is_gzip_path(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def open_read(path: Path):
    """A binary reader of ``path``, decompressing a ``.gz``."""
    return gzip.open(path, "rb") if is_gzip_path(path) else open(path, "rb")


def detect_kind(path: Path, head: bytes) -> tuple[HeaderKind, str]:
    """Header kind from the magic, byte order as nibabel guesses it (dim[0], sizeof_hdr)."""
    if head[4:8] in MAGICS[HeaderKind.NIFTI2]:
        kind = HeaderKind.NIFTI2
    elif head[344:348] in MAGICS[HeaderKind.NIFTI1]:
        kind = HeaderKind.NIFTI1
    else:
        kind = HeaderKind.ANALYZE
    size = BLOCK_SIZES[kind]
    if len(head) < size:
        what = f"a {kind} header" if kind != HeaderKind.ANALYZE else "a NIfTI or Analyze header"
        raise CorruptFileError(
            describe(path, f"too short for {what}: {len(head)} bytes, it needs {size}")
        )
    swapped = ">" if NATIVE == "<" else "<"
    dim_offset, dim_size = (16, 8) if kind == HeaderKind.NIFTI2 else (40, 2)

    def number(order: str, offset: int, size: int) -> int:
        return int.from_bytes(
            head[offset : offset + size], "little" if order == "<" else "big", signed=True
        )

    dim0 = number(NATIVE, dim_offset, dim_size)
    if dim0 == 0:
        byteorder = swapped if number(swapped, 0, 4) == size else NATIVE
    else:
        byteorder = NATIVE if 1 <= dim0 <= 7 else swapped
    plausible = number(byteorder, 0, 4) == size or 1 <= number(byteorder, dim_offset, dim_size) <= 7
    if kind == HeaderKind.ANALYZE and not plausible:
        raise UnsupportedFormatError(describe(path, "not a NIfTI or Analyze 7.5 header"))
    return kind, byteorder


def count_extensions(extensions: bytes, byteorder: str) -> int:
    """Number of complete extensions in extender + extension bytes."""
    return len(extension_spans(extensions, byteorder))


def extension_spans(extensions: bytes, byteorder: str) -> list[tuple[int, int]]:
    """(start, end) of each complete extension after the 4-byte extender; [] when none."""
    if len(extensions) < 4 or extensions[0] == 0:
        return []
    spans, pos = [], 4
    order = "little" if byteorder == "<" else "big"
    while pos + 8 <= len(extensions):
        esize = int.from_bytes(extensions[pos : pos + 4], order, signed=True)
        if esize < 8 or pos + esize > len(extensions):
            break
        spans.append((pos, pos + esize))
        pos += esize
    return spans


def trimmed_extensions(extensions: bytes, byteorder: str) -> bytes:
    """Extender + the complete extensions only (no padding); ``NO_EXTENSIONS`` if none."""
    spans = extension_spans(extensions, byteorder)
    if not spans:
        return NO_EXTENSIONS
    return extensions[: spans[-1][1]]
