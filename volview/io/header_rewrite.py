"""Whole-file rewrite of an image with an edited header (``.nii.gz``, ``.hdr.gz``, Save As).

Owns: ``save_rewrite`` and the helpers ``header_save`` shares (``check_compatible``,
``fsync_dir``). Public use goes through ``volview.io.header_save``.

Invariants: voxel bytes are streamed in ``CHUNK_BYTES`` chunks and never decoded
(never the whole volume in memory); nothing is written over a target until all its
new bytes are on disk. Everything goes to ``.<target name>.volview-tmp`` in the
destination folder, fsynced, then ``os.replace`` onto the target and the folder
fsynced. Checkpoints: ``"temp-written"``, ``"data-replaced"`` (once per pair data
file replaced), ``"replaced"``. Any exception (cancel included) removes the
temporary files; a crash may leave one, which the next save overwrites.

Layouts: single ``.nii``/``.nii.gz`` or a ``.hdr``/``.img`` pair, each possibly gzipped
(a gzipped pair gzips both files, as nibabel names them). A conversion sets magic
(``n+1``/``ni1``, ``n+2``/``ni2``) and vox_offset (pair: 0; single: block + extender +
extensions rounded up to 16) and carries the extensions; Analyze goes to pairs only.
Rewriting a pair's own header leaves its ``.img`` alone. Save As to a pair replaces
``.img`` first and ``.hdr`` last: a crash between the two leaves new data beside the
old (or no) header, the one window in which the destination is inconsistent.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from volview.errors import HeaderSaveError, SaveCancelled, UnsupportedFormatError, describe
from volview.io.header import RawHeader
from volview.io.header_fields import HeaderKind
from volview.io.header_file import HeaderFile, vox_offset
from volview.io.header_layout import header_and_data_paths, is_gzip_path, trimmed_extensions

Checkpoint = Callable[[str], None]  # called after each named step
Progress = Callable[[int, int], None]  # (done_bytes, total_bytes)

CHUNK_BYTES = 8 * 2**20
GZIP_LEVEL = 6
TEMP_SUFFIX = ".volview-tmp"
DATA_ALIGNMENT = 16  # vox_offset of a single file is rounded up to this


@dataclass(frozen=True)
class _Target:
    header_path: Path
    data_path: Path  # == header_path for a single file
    write_data: bool  # False: a pair's own header is rewritten, its .img left alone
    result: Path  # what save_rewrite returns

    @property
    def single(self) -> bool:
        return self.header_path == self.data_path


class _Meter:
    """Progress in bytes read from the source files, and the cancel check."""

    def __init__(self, total: int, progress, cancelled, target: Path) -> None:
        self.total, self.base = total, 0
        self._progress, self._cancelled, self._target = progress, cancelled, target

    def update(self, position: int) -> None:
        if self._progress is not None:
            self._progress(min(self.base + position, self.total), self.total)
        if self._cancelled is not None and self._cancelled():
            raise SaveCancelled(describe(self._target, "save cancelled; the file is unchanged"))


def save_rewrite(
    hf: HeaderFile,
    new: RawHeader,
    dst: Path | None = None,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    checkpoint: Checkpoint | None = None,
) -> Path:
    """Write the image with header ``new`` to ``dst`` (None: over ``hf``'s own files)."""
    step = checkpoint or no_checkpoint
    check_compatible(hf, new)
    target = _target(hf, dst)
    if (target.write_data or target.single != hf.single) and not hf.data_path.is_file():
        raise HeaderSaveError(describe(hf.data_path, "the voxel data file is missing"))
    sources = [hf.header_path] + ([hf.data_path] if target.write_data and not hf.single else [])
    temps: list[tuple[Path, Path]] = []
    try:
        meter = _Meter(sum(p.stat().st_size for p in sources), progress, cancelled, target.result)
        _write_temps(hf, new, target, meter, temps)
        step("temp-written")
        for temp, final in temps:  # data first, header last
            os.replace(temp, final)
            fsync_dir(final.parent)
            if final != target.header_path:
                step("data-replaced")
        step("replaced")
    except OSError as exc:
        message = f"cannot write the file ({why(exc)})"
        raise HeaderSaveError(describe(target.result, message)) from exc
    finally:
        for temp, _ in temps:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
    return target.result


def same_header_file(hf: HeaderFile, dst: Path) -> bool:
    """``dst`` names ``hf``'s own header file."""
    try:
        header_path, _ = header_and_data_paths(dst)
        return header_path.resolve() == hf.header_path.resolve()
    except (UnsupportedFormatError, OSError):
        return False


def _target(hf: HeaderFile, dst: Path | None) -> _Target:
    if dst is None or same_header_file(hf, Path(dst)):
        # a single file is written whole; a pair's own .img is left alone
        return _Target(hf.header_path, hf.data_path, write_data=hf.single, result=hf.path)
    dst = Path(dst)
    header_path, data_path = header_and_data_paths(dst)
    if hf.raw.kind == HeaderKind.ANALYZE and header_path == data_path:
        message = "an Analyze 7.5 image can only be saved as a .hdr/.img pair"
        raise HeaderSaveError(describe(dst, message))
    if not header_path.parent.is_dir():
        raise HeaderSaveError(describe(dst, "the destination folder does not exist"))
    return _Target(header_path, data_path, write_data=True, result=dst)


def _write_temps(hf: HeaderFile, new: RawHeader, target: _Target, meter: _Meter, temps) -> None:
    """Write the target's files as temporaries; ``temps`` gets (temp, final), data first."""
    with _open_source(hf.header_path) as (raw, stream):
        if stream.read(len(hf.raw.block)) != hf.raw.block:
            raise HeaderSaveError(describe(hf.path, "the header changed on disk since it was read"))
        rest = functools.partial(_copy, stream, raw, meter=meter)
        if not hf.single:
            tail = stream.read()  # a .hdr: extender and extensions to the end of the file
        elif target.single:  # single -> single: the rest of the file as it is
            _write_file(temps, target.header_path, new.block, rest)
            return
        else:  # single -> pair: extensions go to the .hdr, the rest is the data
            tail = stream.read(max(0, _data_offset(hf.raw) - len(new.block)))
            _write_file(temps, target.data_path, b"", rest)
    meter.base = hf.header_path.stat().st_size
    if target.single:  # pair -> single
        extensions = trimmed_extensions(tail, new.byteorder)
        offset = _round_up(len(new.block) + len(extensions), DATA_ALIGNMENT)
        head = new.with_layout(single=True, vox_offset=offset).block + extensions
        data = functools.partial(_copy_data_file, hf, meter=meter, skip=vox_offset(hf.raw))
        _write_file(temps, target.header_path, head.ljust(offset, b"\0"), data)
        return
    if not hf.single and target.write_data:  # pair -> pair: the .img as it is
        _write_file(
            temps, target.data_path, b"", functools.partial(_copy_data_file, hf, meter=meter)
        )
    if hf.single:
        block = new.with_layout(single=False, vox_offset=0).block
        tail = trimmed_extensions(tail, new.byteorder)
    else:
        block = new.block
    _write_file(temps, target.header_path, block + tail)


def _write_file(temps: list, final: Path, head: bytes, copy_rest=None) -> None:
    """Write ``head`` then whatever ``copy_rest(out)`` streams to the temporary of ``final``."""
    temp = final.with_name(f".{final.name}{TEMP_SUFFIX}")
    temps.append((temp, final))
    with _open_write(temp, final) as out:
        out.write(head)
        if copy_rest is not None:
            copy_rest(out)


def _copy_data_file(hf: HeaderFile, out, *, meter: _Meter, skip: int = 0) -> None:
    with _open_source(hf.data_path) as (raw, stream):
        if skip and len(stream.read(skip)) != skip:
            raise HeaderSaveError(
                describe(hf.data_path, "the data file is shorter than vox_offset")
            )
        _copy(stream, raw, out, meter=meter)


def _copy(stream, raw, out, *, meter: _Meter) -> None:
    """Stream the rest of ``stream`` into ``out`` in chunks; bytes are never decoded."""
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    while True:
        meter.update(raw.tell())
        n = stream.readinto(buffer)
        if not n:
            return
        out.write(view[:n])


@contextlib.contextmanager
def _open_source(path: Path):
    """(raw file, stream) of a source file; the stream decompresses a .gz."""
    with open(path, "rb") as raw:
        if is_gzip_path(path):
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield raw, stream
        else:
            yield raw, raw


@contextlib.contextmanager
def _open_write(temp: Path, final: Path):
    """A writer of ``temp`` (gzip when ``final`` ends in .gz), fsynced; ``final``'s mode kept."""
    with open(temp, "wb") as raw:
        if is_gzip_path(final):
            name = final.name[: -len(".gz")]
            with gzip.GzipFile(name, "wb", GZIP_LEVEL, fileobj=raw) as compressed:
                yield compressed
        else:
            yield raw
        raw.flush()
        os.fsync(raw.fileno())
    if final.exists():
        with contextlib.suppress(OSError):
            shutil.copymode(final, temp)


def _data_offset(raw: RawHeader) -> int:
    """Where voxel data starts in a single file (below the minimum counts as the minimum)."""
    return max(vox_offset(raw), len(raw.block) + 4)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# -- shared with header_save ----------------------------------------------------------


def check_compatible(hf: HeaderFile, new: RawHeader) -> None:
    """Refuse a header of another kind or byte order, or one with read-only fields changed."""
    old = hf.raw
    if (new.kind, new.byteorder, len(new.block)) != (old.kind, old.byteorder, len(old.block)):
        message = f"the edited header is not a {old.kind} header of the same byte order"
        raise HeaderSaveError(describe(hf.path, message))
    fixed = [key for key in old.changed_keys(new) if not old.item(key).editable]
    if fixed:
        message = f"{', '.join(fixed)} cannot be changed by saving the header"
        raise HeaderSaveError(describe(hf.path, message))


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (where the file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder
    finally:
        os.close(fd)


def why(exc: OSError) -> str:
    """An OS error in a few words."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def no_checkpoint(_step: str) -> None:
    pass
