"""The full seek index of a gzip-compressed image, built in the background.

Owns: ``build_index(path, expected_size, progress, cancelled) -> bytes``, which
decompresses ``path`` once through its own ``indexed_gzip.IndexedGzipFile`` (never
the file object a proxy is reading from) and returns the exported index, and
``adopt_index(proxy, index)``, which hands it to a ``NibabelProxy`` so that every
later plane decompresses at most ``SPACING`` bytes before the bytes it needs.
``gzip_proxy(proxy)`` finds such a proxy under wrappers (a plane cache) and
``index_target(proxy)`` says which file to index and how large it must be, or None
for a proxy that does not read through indexed_gzip.

Coordinate space: byte offsets in the *uncompressed* stream (header + voxel data);
no voxel indices. No Qt: the GUI runs ``build_index`` on a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import indexed_gzip

from volview.errors import CorruptFileError, ImageReadError, OpenCancelled, describe
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import READ_ERRORS

#: uncompressed bytes between two seek points: a plane read decompresses at most this
#: much before its first byte (each point keeps a 32 KiB window: 8 KiB per MiB indexed)
SPACING = 4 * 2**20
#: uncompressed bytes decompressed between two progress reports / cancel checks
STEP = 32 * 2**20

Progress = Callable[[int, int], None]


def gzip_proxy(proxy) -> NibabelProxy | None:
    """The proxy reading through indexed_gzip under ``proxy``'s wrappers, or None.

    Wrappers (a plane cache, a rescaling) name the proxy they wrap ``inner`` or ``base``.
    """
    for _ in range(8):  # wrappers nest a few levels at most
        if isinstance(proxy, NibabelProxy):
            return proxy if proxy.gzip_file() is not None else None
        proxy = getattr(proxy, "inner", None) or getattr(proxy, "base", None)
    return None


def index_target(proxy) -> tuple[Path, int] | None:
    """(gzip file, expected uncompressed size) of a proxy reading through indexed_gzip."""
    found = gzip_proxy(proxy)
    return None if found is None else (found.data_path, found.stored_bytes)


def build_index(
    path: str | Path,
    expected_size: int,
    progress: Progress = lambda done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> bytes:
    """Decompress ``path`` up to ``expected_size`` bytes, recording seek points; the index.

    Progress is reported in uncompressed bytes; ``cancelled()`` is polled every
    ``STEP`` bytes and raises ``OpenCancelled``. A stream that ends before
    ``expected_size`` (a truncated download) raises ``CorruptFileError``.
    """
    path = Path(path)
    try:
        with indexed_gzip.IndexedGzipFile(
            str(path), spacing=SPACING, drop_handles=False
        ) as gz_file:
            _decompress_to(gz_file, path, expected_size, progress, cancelled)
            buffer = io.BytesIO()
            gz_file.export_index(fileobj=buffer)
    except (indexed_gzip.ZranError, *READ_ERRORS) as exc:
        raise CorruptFileError(
            describe(path, f"the compressed data is damaged ({exc or type(exc).__name__})")
        ) from exc
    return buffer.getvalue()


def _decompress_to(gz_file, path: Path, expected_size: int, progress, cancelled) -> None:
    position = 0
    progress(0, expected_size)
    while position < expected_size:
        if cancelled():
            raise OpenCancelled(describe(path, "building the gzip index was cancelled"))
        target = min(position + STEP, expected_size)
        gz_file.seek(target)  # indexed_gzip stops at the end of a short stream
        position = gz_file.tell()
        if position < target:
            raise CorruptFileError(
                describe(
                    path,
                    f"the file is truncated: it decompresses to {position:,} bytes "
                    f"but the header describes {expected_size:,}",
                )
            )
        progress(position, expected_size)


def adopt_index(proxy: NibabelProxy, index: bytes) -> None:
    """Give ``proxy`` a finished index (thread-safe: waits for a read in progress)."""
    try:
        proxy.adopt_gzip_index(index)
    except (indexed_gzip.ZranError, *READ_ERRORS) as exc:
        raise ImageReadError(
            describe(proxy.data_path, f"could not use the gzip index ({exc})")
        ) from exc
