"""Writing an edited header back: in place behind a backup, or by rewriting the file.

Owns: ``save`` (in place when possible, else a rewrite), ``save_in_place`` (patch the
348/540-byte block of an uncompressed ``.nii`` or ``.hdr``), the leftover-backup
functions, and re-exports ``save_rewrite`` (whole-file rewrite, Save As; see
``header_rewrite`` for its temporary files and failure window).

Invariants: voxel bytes are never rewritten in place nor decoded; an interrupted save
leaves the old or the new header with the data intact, plus at most a backup or a
temporary file to clean up.

In place (no data moves, file size and inode unchanged, never truncated):

1. the old block and a record are written to ``<name>.volview-backup`` beside the
   file (created exclusively), fsynced, the folder fsynced (checkpoint
   ``"backup-written"``);
2. exactly ``len(block)`` bytes are written at offset 0 (``O_RDWR``), fsynced
   (``"header-written"``);
3. the backup is removed and the folder fsynced (``"backup-removed"``).

The backup record is ``b"VOLVIEW HEADER BACKUP 1\\n"``, one JSON line (``target`` file
name, ``target_size``, ``offset`` 0, ``length``, ``old_sha256``, ``new_sha256``), then
the old block and the new block. ``restore_backup`` writes the old block back only if
the target still has that size and every header byte is the old or the new one (so a
torn write is repaired, but a file changed since is left alone). A backup whose
hashes do not match was cut short before step 2, so the image was not touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from volview.errors import HeaderSaveError, SaveCancelled, UnsupportedFormatError, describe
from volview.io.header import RawHeader
from volview.io.header_file import HeaderFile
from volview.io.header_layout import BLOCK_SIZES, header_and_data_paths, header_suffix
from volview.io.header_rewrite import (
    Checkpoint,
    Progress,
    check_compatible,
    fsync_dir,
    no_checkpoint,
    same_header_file,
    save_rewrite,
    why,
)

__all__ = [
    "Checkpoint",
    "HeaderSaveError",
    "Progress",
    "SaveCancelled",
    "backup_path",
    "can_save_in_place",
    "discard_backup",
    "find_backup",
    "restore_backup",
    "save",
    "save_in_place",
    "save_rewrite",
]

BACKUP_SUFFIX = ".volview-backup"
BACKUP_MAGIC = b"VOLVIEW HEADER BACKUP 1\n"


def can_save_in_place(hf: HeaderFile) -> bool:
    """Uncompressed ``.nii`` or ``.hdr`` (NIfTI-1/2, Analyze) with a whole block."""
    return (
        not hf.compressed
        and header_suffix(hf.header_path) in (".nii", ".hdr")
        and len(hf.raw.block) == BLOCK_SIZES[hf.raw.kind]
    )


def backup_path(header_path: Path) -> Path:
    """``<name>.volview-backup`` beside the header file."""
    header_path = Path(header_path)
    return header_path.with_name(header_path.name + BACKUP_SUFFIX)


def save(hf: HeaderFile, new: RawHeader, **kw) -> Path:
    """In place when possible (and no other destination is given), else a rewrite."""
    dst = kw.get("dst")
    if (dst is None or same_header_file(hf, Path(dst))) and can_save_in_place(hf):
        save_in_place(hf, new, checkpoint=kw.get("checkpoint"))
        return hf.path
    return save_rewrite(hf, new, **kw)


# -- in place -----------------------------------------------------------------------


def save_in_place(hf: HeaderFile, new: RawHeader, *, checkpoint: Checkpoint | None = None) -> None:
    """Patch the header block of ``hf`` in place, behind a backup (see the module doc)."""
    step = checkpoint or no_checkpoint
    target = hf.header_path
    if not can_save_in_place(hf):
        raise HeaderSaveError(describe(target, "a compressed file cannot be changed in place"))
    check_compatible(hf, new)
    backup = backup_path(target)
    if backup.exists():
        raise HeaderSaveError(
            describe(
                target,
                f"{backup.name} from an interrupted save is still there; "
                "restore or discard it first",
            )
        )
    with _open_for_patch(target) as fd:
        if os.pread(fd, len(hf.raw.block), 0) != hf.raw.block:
            raise HeaderSaveError(describe(target, "the header changed on disk since it was read"))
        size = os.fstat(fd).st_size
        _write_backup(backup, target, size, hf.raw.block, new.block)
        step("backup-written")
        _patch(fd, target, backup, hf.raw.block, new.block)
        step("header-written")
    _remove_and_sync(backup)
    step("backup-removed")


@contextlib.contextmanager
def _open_for_patch(target: Path):
    try:
        fd = os.open(target, os.O_RDWR)  # never O_TRUNC, never O_CREAT
    except OSError as exc:
        raise HeaderSaveError(
            describe(target, f"cannot open the file for writing ({why(exc)})")
        ) from exc
    try:
        yield fd
    finally:
        os.close(fd)


def _patch(fd: int, target: Path, backup: Path, old: bytes, new: bytes) -> None:
    """Write ``new`` at offset 0; on an OS error put ``old`` back (or keep the backup)."""
    try:
        _pwrite_all(fd, new)
        os.fsync(fd)
    except OSError as exc:
        try:
            _pwrite_all(fd, old)
            os.fsync(fd)
        except OSError:
            raise HeaderSaveError(
                describe(
                    target,
                    f"writing the header failed ({why(exc)}); "
                    f"the old header is kept in {backup.name}",
                )
            ) from exc
        _remove_and_sync(backup)
        raise HeaderSaveError(describe(target, f"writing the header failed ({why(exc)})")) from exc


def _pwrite_all(fd: int, data: bytes) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], done)


def _write_backup(backup: Path, target: Path, size: int, old: bytes, new: bytes) -> None:
    meta = {
        "target": target.name,
        "target_size": size,
        "offset": 0,
        "length": len(old),
        "old_sha256": hashlib.sha256(old).hexdigest(),
        "new_sha256": hashlib.sha256(new).hexdigest(),
    }
    record = BACKUP_MAGIC + json.dumps(meta, sort_keys=True).encode() + b"\n" + old + new
    created = False
    try:
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        created = True
        try:
            _pwrite_all(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(backup.parent)
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                backup.unlink()
        raise HeaderSaveError(
            describe(
                target,
                f"cannot write the backup {backup.name} beside it ({why(exc)}); "
                "nothing was changed",
            )
        ) from exc


# -- leftover backups ---------------------------------------------------------------


def find_backup(path: str | Path) -> Path | None:
    """The backup an interrupted in-place save left for this image (.nii, .hdr or .img)."""
    try:
        header_path, _ = header_and_data_paths(Path(path))
    except UnsupportedFormatError:
        return None
    backup = backup_path(header_path)
    return backup if backup.is_file() else None


def restore_backup(path: str | Path) -> None:
    """Put the backed-up header back into its file, then remove the backup."""
    header_path, _ = header_and_data_paths(Path(path))
    backup = backup_path(header_path)
    if not backup.is_file():
        raise HeaderSaveError(describe(header_path, "there is no header backup to restore"))
    meta, old, new = _read_backup(backup)
    if meta["target"] != header_path.name:
        raise HeaderSaveError(describe(backup, f"it belongs to {meta['target']}, not this file"))
    with _open_for_patch(header_path) as fd:
        current = os.pread(fd, len(old), 0)
        if os.fstat(fd).st_size != meta["target_size"] or not _old_or_new(current, old, new):
            raise HeaderSaveError(
                describe(
                    header_path,
                    "the file was changed after the interrupted save; "
                    f"not restoring (the backup {backup.name} is kept)",
                )
            )
        _pwrite_all(fd, old)
        os.fsync(fd)
    _remove_and_sync(backup)


def discard_backup(path: str | Path) -> None:
    """Remove a leftover backup (the file keeps whatever header it has now)."""
    backup = find_backup(path)
    if backup is not None:
        _remove_and_sync(backup)


def _read_backup(backup: Path) -> tuple[dict, bytes, bytes]:
    damaged = HeaderSaveError(
        describe(
            backup,
            "the backup is incomplete or damaged; the save stopped before "
            "the image was changed, so it can be discarded",
        )
    )
    data = backup.read_bytes()
    if not data.startswith(BACKUP_MAGIC) or b"\n" not in data[len(BACKUP_MAGIC) :]:
        raise damaged
    line, _, blocks = data[len(BACKUP_MAGIC) :].partition(b"\n")
    try:
        meta = json.loads(line)
        length = int(meta["length"])
        old, new = blocks[:length], blocks[length:]
        ok = (
            len(old) == len(new) == length
            and hashlib.sha256(old).hexdigest() == meta["old_sha256"]
            and hashlib.sha256(new).hexdigest() == meta["new_sha256"]
            and meta["offset"] == 0
        )
    except (ValueError, KeyError, TypeError):
        raise damaged from None
    if not ok:
        raise damaged
    return meta, old, new


def _old_or_new(current: bytes, old: bytes, new: bytes) -> bool:
    return len(current) == len(old) and all(
        c in (o, n) for c, o, n in zip(current, old, new, strict=True)
    )


def _remove_and_sync(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
