"""GzipStream: random access into a gzip file through rapidgzip, indexing as it reads.

Owns: ``open_gzip_stream(path)``, a seekable binary file object over the
*uncompressed* bytes of a gzip file. rapidgzip decompresses with ISA-L (about twice
zlib's speed here) and records a seek point at every chunk it decompresses, so the
stream indexes itself as it is read: after one pass to the end every later read
decompresses at most one chunk, on several threads. ``frontier`` is how far the
stream has been decompressed (reads before it are cheap).

rapidgzip's worker threads must be joined before the interpreter shuts down or the
process aborts; every stream opened here is closed at exit if its owner did not.
rapidgzip's errors (``RuntimeError``) become ``OSError`` so that callers handle
them with the other read errors.

Not thread-safe: callers hold a lock around each seek + read (``NibabelProxy`` does).
Coordinate space: byte offsets in the uncompressed stream; no voxel indices.
"""

from __future__ import annotations

import atexit
import io
import os
import weakref
from pathlib import Path

import rapidgzip

from volview.errors import CorruptFileError, describe

GZIP_MAGIC = b"\x1f\x8b"
#: decompression threads (the machine's cores, at most 4: the views need one too)
THREADS = max(1, min(4, os.cpu_count() or 1))
#: compressed bytes per chunk: the unit decoded in parallel, and the spacing of the
#: seek points. With rapidgzip's default (4 MiB) the first pass over a 1.1 GB stream
#: was no faster on two threads than on one (4.6 s); 12 MiB chunks take it to 3.2 s
#: for 240 MB more peak memory, and a 2 MiB read after the pass decodes in about 23 ms
CHUNK_BYTES = 12 * 2**20

_open_streams: weakref.WeakSet[GzipStream] = weakref.WeakSet()


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as raw:
        return raw.read(2) == GZIP_MAGIC


def open_gzip_stream(path: str | os.PathLike) -> GzipStream:
    """A ``GzipStream`` over ``path``; ``CorruptFileError`` unless it starts as gzip."""
    path = Path(path)
    if not is_gzip(path):  # rapidgzip aborts the process at exit after a failed open
        raise CorruptFileError(describe(path, "not a gzip file (wrong magic bytes)"))
    return GzipStream(path)


class DamagedStreamError(OSError):
    """The compressed data cannot be decoded (corrupt or cut short)."""


class GzipStream(io.RawIOBase):
    """The uncompressed bytes of a gzip file, seekable (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = str(path)
        self._file = rapidgzip.RapidgzipFile(
            str(path), parallelization=THREADS, chunk_size=CHUNK_BYTES
        )
        _open_streams.add(self)
        #: uncompressed bytes decompressed so far from the start (reads before are cheap)
        self.frontier = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._call(self._file.seek, offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer) -> int:
        count = self._call(self._file.readinto, buffer)
        self.frontier = max(self.frontier, self._file.tell())
        return count

    def read(self, size: int = -1) -> bytes:
        data = self._call(self._file.read, size)
        self.frontier = max(self.frontier, self._file.tell())
        return data

    def _call(self, method, *args):
        try:
            return method(*args)
        except RuntimeError as exc:  # rapidgzip's decoding errors
            raise DamagedStreamError(f"the compressed data is damaged ({exc})") from exc

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            _open_streams.discard(self)
        super().close()


@atexit.register
def _close_all() -> None:
    for stream in list(_open_streams):
        stream.close()
