"""The container of a TRX tractogram: a ZIP archive (stored or compressed) or a folder.

Owns: listing the entries of a TRX (``Container``/``Member``), reading ``header.json``,
and turning entries into byte ranges of real files that ``np.memmap`` can map:

- a folder's files and a ZIP's *stored* entries are used in place; a stored entry's
  data starts after its **local** file header (30 bytes + name + extra field, which
  may differ from the central directory's copy);
- *compressed* entries are decompressed once, in chunks with progress and cancel, into
  a ``volview-trx-*`` temporary folder that is removed when the tractogram is closed,
  or at exit at the latest.

Entry names are ``/``-separated and relative to the folder holding ``header.json``
(archives made by zipping the folder itself put everything under one top folder).
Junk (``__MACOSX/``, ``.DS_Store``, other hidden files, folder entries) is skipped.
No coordinates here: only bytes. Nothing is ever written to the user's file.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import re
import shutil
import struct
import tempfile
import weakref
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from volview.errors import CorruptFileError, FileAccessError, OpenCancelled, describe
from volview.io.tractogram import Cancelled, Progress

HEADER_NAME = "header.json"
#: a header.json larger than this is not a TRX header
HEADER_LIMIT = 16 * 1024 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
JUNK_NAMES = frozenset({"Thumbs.db", "desktop.ini"})
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (versions, flags, ..., sizes), n, e
_LOCAL_SIGNATURE = b"PK\x03\x04"
#: what reading a damaged ZIP can raise (zipfile does not wrap its helpers' errors)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    IndexError,
    KeyError,
)


@dataclass(frozen=True)
class Member:
    """One entry of a TRX: ``size`` bytes of ``file`` starting at ``offset``."""

    name: str
    size: int
    file: Path
    #: None while the entry is still inside a ZIP (see ``Container.materialize``)
    offset: int | None
    info: zipfile.ZipInfo | None = None


class TempFolder:
    """A ``volview-trx-*`` folder, removed by ``release()`` or at interpreter exit."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="volview-trx-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def release(self) -> None:
        self._finalizer()


@dataclass
class Container:
    """The entries of an opened TRX zip or folder; close it once the arrays are mapped."""

    path: Path
    form: str  # "zip" or "folder"
    members: dict[str, Member]
    notes: list[str] = field(default_factory=list)
    zip_file: zipfile.ZipFile | None = None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.zip_file is not None:
            self.zip_file.close()

    def read_header(self) -> bytes:
        """The bytes of ``header.json`` (at most HEADER_LIMIT)."""
        member = self.members[HEADER_NAME]
        try:
            if member.info is None:
                with open(member.file, "rb") as f:
                    data = f.read(HEADER_LIMIT + 1)
            else:
                with self.zip_file.open(member.info) as f:  # type: ignore[union-attr]
                    data = f.read(HEADER_LIMIT + 1)
        except ZIP_ERRORS as exc:
            raise CorruptFileError(describe(self.path, f"cannot read header.json ({exc})")) from exc
        if len(data) > HEADER_LIMIT:
            raise CorruptFileError(describe(self.path, "header.json is too large for a header"))
        return data

    def materialize(
        self,
        members: list[Member],
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> tuple[dict[str, Member], TempFolder | None]:
        """Give every member a file and offset; decompress compressed ones to a temp folder."""
        placed = {m.name: self._in_place(m) for m in members if _stored(m)}
        compressed = [m for m in members if not _stored(m)]
        if not compressed:
            return placed, None
        temp = TempFolder()
        try:
            placed |= self._extract(compressed, temp.path, progress, cancelled)
        except BaseException:
            temp.release()
            raise
        return placed, temp

    def _in_place(self, member: Member) -> Member:
        if member.info is None:
            return member
        info = member.info
        with open(self.path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(_LOCAL_HEADER.size)
            file_size = os.fstat(f.fileno()).st_size
        if len(local) < _LOCAL_HEADER.size or local[:4] != _LOCAL_SIGNATURE:
            raise CorruptFileError(describe(self.path, f"the ZIP entry {info.filename} is damaged"))
        _, name_len, extra_len = _LOCAL_HEADER.unpack(local)
        offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if offset + member.size > file_size:
            raise CorruptFileError(
                describe(self.path, f"the file is truncated: {member.name} is cut short")
            )
        return replace(member, offset=offset, info=None)

    def _extract(
        self,
        members: list[Member],
        folder: Path,
        progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> dict[str, Member]:
        total = sum(m.size for m in members)
        free = shutil.disk_usage(folder).free
        if total > free:
            raise FileAccessError(
                describe(
                    self.path,
                    f"not enough free space to decompress it: it needs {total / 1e6:,.1f} MB "
                    f"in {folder.parent} but only {free / 1e6:,.1f} MB are free",
                )
            )
        done, placed = 0, {}
        for index, member in enumerate(members):
            target = folder / f"{index:04d}-{_safe_name(member.name)}"
            done = self._extract_one(member, target, (done, total), progress, cancelled)
            placed[member.name] = Member(member.name, member.size, target, 0)
        return placed

    def _extract_one(
        self,
        member: Member,
        target: Path,
        done_total: tuple[int, int],
        progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> int:
        done, total = done_total
        written = 0
        with self._open_entry(member) as src, _create(self.path, target) as dst:
            while chunk := self._read_chunk(member, src):
                written += len(chunk)
                _write(self.path, dst, chunk)
                if progress is not None:
                    progress(done + written, total)
                if cancelled is not None and cancelled():
                    raise OpenCancelled(describe(self.path, "opening was cancelled"))
        if written != member.size:
            raise CorruptFileError(
                describe(self.path, f"the file is truncated: {member.name} is cut short")
            )
        return done + written

    def _open_entry(self, member: Member):
        try:
            return self.zip_file.open(member.info)  # type: ignore[union-attr, arg-type]
        except ZIP_ERRORS as exc:
            raise CorruptFileError(
                describe(self.path, f"cannot decompress {member.name} ({exc})")
            ) from exc

    def _read_chunk(self, member: Member, src) -> bytes:
        try:
            return src.read(CHUNK_BYTES)
        except ZIP_ERRORS as exc:
            raise CorruptFileError(
                describe(self.path, f"cannot decompress {member.name}; it is damaged ({exc})")
            ) from exc


def _stored(member: Member) -> bool:
    info = member.info
    return info is None or (
        info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size
    )


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[-80:]


@contextlib.contextmanager
def _create(path: Path, target: Path):
    try:
        f = open(target, "xb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FileAccessError(
            describe(path, f"cannot write its decompressed copy in {target.parent} ({exc})")
        ) from exc
    with f:
        yield f


def _write(path: Path, dst, chunk: bytes) -> None:
    try:
        dst.write(chunk)
    except OSError as exc:
        raise FileAccessError(
            describe(path, f"cannot write its decompressed copy in {Path(dst.name).parent} ({exc})")
        ) from exc


def open_container(path: Path) -> Container:
    """List a TRX folder or ZIP; raise a VolviewError if it holds no usable header.json."""
    if path.is_dir():
        return _choose_root(path, "folder", _list_folder(path), None)
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise CorruptFileError(describe(path, _not_a_zip_reason(path, exc))) from exc
    try:
        members = _list_zip(path, zf)
    except ZIP_ERRORS as exc:
        zf.close()
        raise CorruptFileError(describe(path, f"the ZIP archive is damaged ({exc})")) from exc
    except BaseException:
        zf.close()
        raise
    try:
        return _choose_root(path, "zip", members, zf)
    except BaseException:
        zf.close()
        raise


def _not_a_zip_reason(path: Path, exc: Exception) -> str:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] != b"PK":
        return "not a TRX file: it is not a ZIP archive (a .trx file is a ZIP of the TRX folder)"
    return f"the ZIP archive is damaged or truncated ({exc})"


def _list_zip(path: Path, zf: zipfile.ZipFile) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for info in zf.infolist():
        name = info.filename
        if _is_junk(name) or info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise CorruptFileError(describe(path, f"the entry {name} is encrypted"))
        if name in members:
            raise CorruptFileError(describe(path, f"the archive holds two entries named {name}"))
        members[name] = Member(name, info.file_size, path, None, info)
    return members


def _list_folder(path: Path) -> dict[str, Member]:
    members: dict[str, Member] = {}
    try:
        for root, _dirs, files in os.walk(path, onerror=_raise):
            for file_name in files:
                full = Path(root, file_name)
                name = full.relative_to(path).as_posix()
                if not _is_junk(name):
                    members[name] = Member(name, full.stat().st_size, full, 0)
    except OSError as exc:
        raise FileAccessError(describe(path, f"cannot list the TRX folder ({exc})")) from exc
    return members


def _raise(exc: OSError) -> None:
    raise exc


def _is_junk(name: str) -> bool:
    parts = [p for p in name.split("/") if p]
    return (
        not parts or any(p.startswith((".", "__MACOSX")) for p in parts) or parts[-1] in JUNK_NAMES
    )


def _choose_root(
    path: Path, form: str, members: dict[str, Member], zf: zipfile.ZipFile | None
) -> Container:
    """Keep the entries under the shallowest header.json, renamed relative to it."""
    headers = [n for n in members if n.rsplit("/", 1)[-1] == HEADER_NAME]
    if not headers:
        where = "archive" if form == "zip" else "folder"
        raise CorruptFileError(describe(path, f"not a TRX file: the {where} has no header.json"))
    depth = min(n.count("/") for n in headers)
    top = sorted(n for n in headers if n.count("/") == depth)
    if len(top) > 1:
        raise CorruptFileError(
            describe(path, f"holds several TRX headers ({', '.join(top)}); cannot tell which")
        )
    prefix = top[0][: -len(HEADER_NAME)]
    outside = sorted(n for n in members if not n.startswith(prefix))
    kept = {
        n[len(prefix) :]: replace(m, name=n[len(prefix) :])
        for n, m in members.items()
        if n.startswith(prefix)
    }
    notes = [f"ignored {len(outside)} entries outside {prefix}: {some(outside)}"] if outside else []
    return Container(path, form, kept, notes, zf)


def some(names: list[str], limit: int = 3) -> str:
    """The first few names, and how many more there are."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
