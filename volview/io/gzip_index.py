"""The full seek index of a gzip-compressed image, built in the background.

Owns: ``build_index(proxy, progress, cancelled)``, which reads the ``GzipStream`` a
``NibabelProxy`` reads from to its end, a step at a time under the proxy's lock (a
view's read waits for one step at most). The stream records a seek point at every
chunk it decompresses (``volview.io.gzip_stream``), so afterwards every plane
decompresses at most one chunk before the bytes it needs. ``gzip_proxy(proxy)``
finds such a proxy under wrappers (a plane cache, a rescaling).

Coordinate space: byte offsets in the *uncompressed* stream (header + voxel data);
no voxel indices. No Qt: the GUI runs ``build_index`` on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from volview.errors import CorruptFileError, OpenCancelled, describe
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import READ_ERRORS

#: uncompressed bytes decompressed between two progress reports / cancel checks
STEP = 32 * 2**20

Progress = Callable[[int, int], None]


def gzip_proxy(proxy) -> NibabelProxy | None:
    """The proxy reading a gzip stream under ``proxy``'s wrappers, or None.

    Wrappers (a plane cache, a rescaling) name the proxy they wrap ``inner`` or ``base``.
    """
    for _ in range(8):  # wrappers nest a few levels at most
        if isinstance(proxy, NibabelProxy):
            return proxy if proxy.stream is not None else None
        proxy = getattr(proxy, "inner", None) or getattr(proxy, "base", None)
    return None


def build_index(
    proxy: NibabelProxy,
    progress: Progress = lambda done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Decompress ``proxy``'s stream up to the end of its voxels, recording seek points.

    Progress is reported in uncompressed bytes; ``cancelled()`` is polled every
    ``STEP`` bytes and raises ``OpenCancelled``. A stream that ends early (a
    truncated download) or does not decompress raises ``CorruptFileError``.
    """
    stream, expected = proxy.stream, proxy.stored_bytes
    position = 0
    progress(0, expected)
    while position < expected:
        if cancelled():
            raise OpenCancelled(describe(proxy.data_path, "building the gzip index was cancelled"))
        target = min(max(position, stream.frontier) + STEP, expected)
        try:
            with proxy.lock:
                stream.seek(target - 1)
                reached = len(stream.read(1))
        except READ_ERRORS as exc:
            raise CorruptFileError(describe(proxy.data_path, str(exc))) from exc
        if not reached:
            raise CorruptFileError(
                describe(
                    proxy.data_path,
                    f"the file is truncated: it decompresses to {stream.tell():,} bytes "
                    f"but the header describes {expected:,}",
                )
            )
        position = target
        progress(position, expected)
