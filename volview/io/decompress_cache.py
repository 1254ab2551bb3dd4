"""Decompress-once cache: a ``.nii.gz`` decompressed into the user cache, then memory-mapped.

Owns: ``DecompressCache(budget_bytes, folder)`` with ``lookup(path)``, ``store(path,
...)`` and least-recently-used eviction, and ``open_cached(path, entry)``.

- An entry is the whole decompressed file (header + voxels), so it opens as an
  ordinary ``.nii`` through a read-only memory map. Its name is
  ``<hash of the absolute path>-<hash of (size, mtime_ns)>.nii``: a source that
  changed (new size or modification time) no longer finds its entry, and storing
  it again removes the entries of its earlier versions.
- An entry is written to a ``.part`` file in the same folder and renamed into place
  with ``os.replace``: no half-written file ever carries an entry's name, and a
  cancelled or failed write leaves nothing behind.
- The folder's entries never exceed the caller's byte budget: the least recently
  used (by access time, set on every ``lookup``) go first, never the one written.
- Only single-file NIfTI (``.nii.gz``) is cached. A ``.hdr``/``.img.gz`` pair is
  not: its header lives in a separate file that can change on its own, so the pair
  stays gzip-indexed.

Folder: ``$VOLVIEW_CACHE_DIR`` if set, else ``platformdirs.user_cache_dir("volview")``,
plus ``decompressed``. Coordinate space: bytes of files; no voxel indices. No Qt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs

from volview.errors import CorruptFileError, FileAccessError, OpenCancelled, VolviewError, describe
from volview.io.gzip_stream import DamagedStreamError, open_gzip_stream
from volview.io.images import ImageFile, open_image
from volview.io.proxy import MemmapProxy

#: environment variable naming the cache root (tests point it at a temporary folder)
CACHE_ENV = "VOLVIEW_CACHE_DIR"
#: what the status bar says about an image read from its decompressed copy
CACHED_ACCESS = "cached (decompressed copy)"
ENTRY_SUFFIX = ".nii"
PART_SUFFIX = ".part"
#: uncompressed bytes written between two progress reports / cancel checks
CHUNK = 16 * 2**20

Progress = Callable[[int, int], None]


class CacheSpaceError(VolviewError):
    """The decompressed copy does not fit in the cache budget or on the disk."""


def default_folder() -> Path:
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("volview")
    return Path(root) / "decompressed"


def cacheable(path: str | os.PathLike) -> bool:
    """True for a single-file gzipped NIfTI (the only kind the cache holds)."""
    return Path(path).name.lower().endswith(".nii.gz")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class DecompressCache:
    """Decompressed copies of ``.nii.gz`` files in ``folder``, at most ``budget_bytes``."""

    def __init__(self, budget_bytes: int, folder: str | os.PathLike | None = None) -> None:
        self.budget_bytes = int(budget_bytes)
        self.folder = Path(folder) if folder is not None else default_folder()

    # -- names ---------------------------------------------------------------------
    def entry_path(self, path: str | os.PathLike) -> Path:
        """Where the copy of ``path`` in its current version (size, mtime) lives."""
        source = Path(path).expanduser().absolute()
        stat = source.stat()
        version = _digest(f"{stat.st_size}:{stat.st_mtime_ns}")
        return self.folder / f"{_digest(str(source))}-{version}{ENTRY_SUFFIX}"

    def entries(self) -> list[Path]:
        """The finished entries, least recently used first."""
        if not self.folder.is_dir():
            return []
        found = []
        for entry in self.folder.glob(f"*{ENTRY_SUFFIX}"):
            try:
                found.append((entry.stat().st_atime_ns, entry))
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
        return [entry for _, entry in sorted(found)]

    def total_bytes(self) -> int:
        return sum(_size_or_zero(entry) for entry in self.entries())

    # -- use -----------------------------------------------------------------------
    def lookup(self, path: str | os.PathLike) -> Path | None:
        """The valid copy of ``path`` (same size and mtime as now), marked as used; or None."""
        if not cacheable(path):
            return None
        try:
            entry = self.entry_path(path)
            stat = entry.stat()
        except OSError:
            return None
        os.utime(entry, ns=(time.time_ns(), stat.st_mtime_ns))  # LRU: atime only
        return entry

    def store(
        self,
        path: str | os.PathLike,
        expected_size: int,
        progress: Progress = lambda done, total: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Path:
        """Decompress ``path`` (``expected_size`` bytes uncompressed) into the cache.

        Progress is in uncompressed bytes written; ``cancelled()`` is polled every
        ``CHUNK`` and raises ``OpenCancelled``. Evicts old entries to make room; raises
        ``CacheSpaceError`` if the copy cannot fit. Returns the entry.
        """
        path = Path(path)
        if not cacheable(path):
            raise FileAccessError(
                describe(path, "only .nii.gz files are decompressed to the cache")
            )
        entry = self.entry_path(path)
        self._make_room(path, entry, expected_size)
        part = entry.with_name(f"{entry.stem}.{os.getpid()}.{time.time_ns()}{PART_SUFFIX}")
        try:
            _decompress(path, part, expected_size, progress, cancelled)
            os.replace(part, entry)
        finally:
            part.unlink(missing_ok=True)
        self._remove_older_versions(entry)
        self._evict(keep=entry, needed=0)
        return entry

    # -- eviction ------------------------------------------------------------------
    def _make_room(self, path: Path, entry: Path, expected_size: int) -> None:
        if expected_size > self.budget_bytes:
            raise CacheSpaceError(
                describe(
                    path,
                    f"its decompressed copy ({_gb(expected_size)}) is larger than the "
                    f"cache budget ({_gb(self.budget_bytes)})",
                )
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_older_versions(entry)
        self._evict(keep=entry, needed=expected_size)
        free = shutil.disk_usage(self.folder).free
        if free < expected_size:
            raise CacheSpaceError(
                describe(
                    path,
                    f"not enough disk space in {self.folder} for its decompressed copy "
                    f"({_gb(expected_size)} needed, {_gb(free)} free)",
                )
            )

    def _remove_older_versions(self, entry: Path) -> None:
        """Delete the copies of the same source made before it last changed."""
        prefix = entry.name.split("-")[0] + "-"
        for other in self.entries():
            if other.name.startswith(prefix) and other != entry:
                other.unlink(missing_ok=True)

    def _evict(self, keep: Path, needed: int) -> None:
        """Delete least recently used entries (never ``keep``) until ``needed`` more fit."""
        entries = [e for e in self.entries() if e != keep]
        total = sum(_size_or_zero(e) for e in entries) + _size_or_zero(keep)
        for entry in entries:
            if total + needed <= self.budget_bytes:
                return
            total -= _size_or_zero(entry)
            entry.unlink(missing_ok=True)


def _decompress(path: Path, part: Path, expected_size: int, progress: Progress, cancelled) -> None:
    """Inflate ``path`` into ``part`` through a ``GzipStream`` (ISA-L, about twice zlib)."""
    buffer = memoryview(bytearray(CHUNK))
    done = 0
    progress(0, expected_size)
    try:
        with open_gzip_stream(path) as source, open(part, "wb") as out:
            while count := source.readinto(buffer):
                if cancelled():
                    raise OpenCancelled(describe(path, "decompressing to the cache was cancelled"))
                out.write(buffer[:count])
                done += count
                progress(min(done, expected_size), expected_size)
    except DamagedStreamError as exc:
        raise CorruptFileError(describe(path, f"cannot decompress the file ({exc})")) from exc
    except OSError as exc:  # reading the source or writing the copy
        problem = f"cannot decompress it into the cache {part.parent} ({exc.strerror or exc})"
        raise FileAccessError(describe(path, problem)) from exc
    if done < expected_size:  # bytes after the voxels are allowed (nibabel ignores them)
        problem = f"it ends after {done} bytes where its header needs {expected_size}"
        raise CorruptFileError(describe(path, f"cannot decompress the file ({problem})"))


def open_cached(path: str | os.PathLike, entry: Path) -> ImageFile:
    """The image ``path`` read from its decompressed copy ``entry`` (memory-mapped).

    The ImageFile keeps the user's path (title, header editor); only the proxy reads
    the copy, and its ``access`` says so.
    """
    image = open_image(entry)
    if isinstance(image.proxy, MemmapProxy):
        image.proxy.access = CACHED_ACCESS
    return dataclasses.replace(image, path=Path(path))


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _gb(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GB"
