"""Load into memory / Release memory: an opened image's voxels copied into RAM and back.

Owns: ``load_all`` (reads the whole image plane by plane, with progress and cancel,
into a ``LoadedProxy``; refuses with ``NotEnoughMemory`` when the copy would not fit
in the available RAM), ``released`` (the image on its original proxy again),
``loaded_proxy`` and ``with_image`` (a Volume over a new image that keeps what was
already read from the same voxels), and ``copy_in_ram`` (the voxels of an image read
whole through a second opening of its file, for a background thread). Like
nibabel's ``caching='fill'`` / ``uncache()``.

Coordinate space: voxel indices; the copy holds scaled float32 values (what every
plane read returns), Fortran order so that planes of the last axis are contiguous.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import psutil

from volview.core.scans import Cancelled, Progress, ScanCancelled, never, no_progress
from volview.core.volume import Volume
from volview.errors import ImageReadError, VolviewError, describe
from volview.io.images import ImageFile, open_image
from volview.io.plane_cache import CachedProxy
from volview.io.proxy import ArrayProxy, VolumeProxy
from volview.io.uncached import uncached

#: RAM left free for the rest of the system after a load
MARGIN_BYTES = 512 * 2**20
COPY_DTYPE = np.dtype(np.float32)

__all__ = [
    "LoadCancelled",
    "NotEnoughMemory",
    "ScanCancelled",
    "copy_in_ram",
    "load_all",
    "released",
]


class NotEnoughMemory(VolviewError):  # noqa: N818 - reads as what happened
    """Loading an image into memory was refused: the copy would not fit in free RAM."""


LoadCancelled = ScanCancelled


class LoadedProxy(ArrayProxy):
    """An image's voxels in RAM, remembering the proxy they were read from.

    ``close`` releases both (the image is closed for good); ``drop`` frees only the
    copy, for going back to ``original``.
    """

    access = "in RAM"

    def __init__(self, array: np.ndarray, original: VolumeProxy) -> None:
        super().__init__(array)
        self.original = original

    def drop(self) -> None:
        super().close()

    def close(self) -> None:
        super().close()
        self.original.close()


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def bytes_needed(image: ImageFile) -> int:
    """Bytes of RAM a loaded copy of ``image`` takes."""
    return int(np.prod(image.shape, dtype=np.int64)) * COPY_DTYPE.itemsize


def available_bytes() -> int:
    return int(psutil.virtual_memory().available)


def check_fits(image: ImageFile, available: int | None = None) -> None:
    """Raise NotEnoughMemory unless a copy fits in ``available`` RAM minus a margin."""
    available = available_bytes() if available is None else int(available)
    needed = bytes_needed(image)
    if needed > available - MARGIN_BYTES:
        raise NotEnoughMemory(
            describe(
                image.path,
                f"cannot be loaded into memory: it needs {format_bytes(needed)} "
                f"({image.shape[0]} \u00d7 {image.shape[1]} \u00d7 {image.shape[2]} \u00d7 "
                f"{image.shape[3]} values, 4 bytes each) but only {format_bytes(available)} "
                f"of RAM is available and {format_bytes(MARGIN_BYTES)} must stay free. "
                "It stays read from the file.",
            )
        )


def load_all(
    image: ImageFile,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    available: int | None = None,
) -> ImageFile:
    """``image`` with every voxel read into RAM (``access == "in RAM"``).

    Reads one plane of the last voxel axis at a time (progress after each; stops
    with ``ScanCancelled`` when ``cancelled()``). ``available`` overrides the free
    RAM figure (tests). The original proxy stays open: ``released`` goes back to it.
    """
    if loaded_proxy(image) is not None:
        return image
    check_fits(image, available)
    array = _read_all(image, progress, cancelled)
    if isinstance(image.proxy, CachedProxy):
        image.proxy.clear()  # every plane is in RAM now: the cache would hold copies
    return dataclasses.replace(image, proxy=LoadedProxy(array, image.proxy))


def copy_in_ram(
    image: ImageFile,
    progress: Progress = no_progress,
    cancelled: Cancelled = never,
    available: int | None = None,
) -> ImageFile:
    """``image`` over a copy of its voxels in RAM, read through a second opening of
    its file (so that the read may run on another thread while ``image`` is in use).

    Nothing of the second opening stays open; ``image`` itself is left as it was.
    Raises NotEnoughMemory, ScanCancelled, or an ImageReadError when the file no
    longer holds voxels of ``image``'s shape.
    """
    check_fits(image, available)
    second = open_image(image.path)
    try:
        if second.shape != image.shape:
            problem = (
                f"changed on disk since it was opened: it now holds {_size(second.shape)} "
                f"values, not {_size(image.shape)}"
            )
            raise ImageReadError(describe(image.path, problem))
        array = _read_all(second, progress, cancelled)
    finally:
        second.close()
    return dataclasses.replace(image, proxy=ArrayProxy(array))


def _size(shape: tuple[int, ...]) -> str:
    return " \u00d7 ".join(str(n) for n in shape)


def _read_all(image: ImageFile, progress: Progress, cancelled: Cancelled) -> np.ndarray:
    """Every voxel of ``image`` as scaled float32 (Fortran order), one plane of the
    last voxel axis at a time: progress after each, ScanCancelled when ``cancelled()``."""
    source = uncached(image.proxy)
    ni, nj, nk, nt = image.shape
    array = np.empty((ni, nj, nk, nt), dtype=COPY_DTYPE, order="F")
    total = nk * nt
    for t in range(nt):
        for k in range(nk):
            if cancelled():
                raise ScanCancelled(describe(image.path, "loading into memory was cancelled"))
            array[:, :, k, t] = source.plane(2, k, t)
            progress(t * nk + k + 1, total)
    return array


def loaded_proxy(image: ImageFile) -> LoadedProxy | None:
    proxy = image.proxy
    return proxy if isinstance(proxy, LoadedProxy) else None


def released(image: ImageFile) -> ImageFile:
    """``image`` read from its file again (the same image if it was not loaded).

    The copy stays until ``loaded_proxy(image).drop()``: call that once the views
    show the returned image."""
    proxy = loaded_proxy(image)
    if proxy is None:
        return image
    return dataclasses.replace(image, proxy=proxy.original)


def with_image(volume: Volume, image: ImageFile) -> Volume:
    """``volume`` over ``image`` (same voxels): keeps the sample and the seen range."""
    swapped = dataclasses.replace(volume, image=image)
    for name in ("intensity_sample", "seen"):
        if name in volume.__dict__:
            swapped.__dict__[name] = volume.__dict__[name]
    return swapped
