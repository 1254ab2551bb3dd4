"""EditedProxy: a VolumeProxy that shows unsaved voxel edits over another proxy.

Owns: ``EditedProxy(inner, edits)``, ``storage_of(image)`` (the dtype and scaling a
file stores its numbers in, for ``VoxelEdits``) and the walk through proxy wrappers
(``proxy_chain``, ``base_proxy``, ``forget_cached_planes``), and where the edits of an
image may be saved (``file_read_only_reason``, ``in_place_reason``).

Every read goes to ``inner`` first; the edited voxels that fall inside what was read
(a plane, including a strided or cropped ``in_plane`` selection, one voxel, or one
voxel's time course) are then replaced by their edited values. Nothing is written.
Coordinate space: voxel indices ``ijk`` and volume ``t``, as in ``volview.io.proxy``.
"""

from __future__ import annotations

import numpy as np

from volview.core.voxel_edits import Storage, VoxelEdits
from volview.io.images import ImageFile
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.plane_cache import CachedProxy
from volview.io.proxy import (
    FULL,
    ArrayProxy,
    MemmapProxy,
    RescaledProxy,
    VolumeProxy,
)
from volview.io.voxel_save import read_only_reason


class EditedProxy:
    """``inner``'s voxels with ``edits`` applied on top. Closing it closes ``inner``."""

    def __init__(self, inner: VolumeProxy, edits: VoxelEdits) -> None:
        self.inner = inner
        self.edits = edits
        self.shape = inner.shape
        self.access = f"{inner.access}, editing"
        self.random_access = inner.random_access

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        out = self.inner.plane(axis, index, t, in_plane)
        keys, values = self.edits.arrays()
        if len(keys) == 0:
            return out
        hit = (keys[:, axis] == index) & (keys[:, 3] == t)
        rows_cols = []
        for ax, sl in zip((a for a in range(3) if a != axis), in_plane, strict=True):
            start, _stop, step = sl.indices(self.shape[ax])
            n = len(range(*sl.indices(self.shape[ax])))
            offset = keys[:, ax] - start
            pos = offset // step
            hit &= (offset % step == 0) & (pos >= 0) & (pos < n)
            rows_cols.append(pos)
        if hit.any():
            out[rows_cols[0][hit], rows_cols[1][hit]] = values[hit]
        return out

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        edited = self.edits.value(ijk, t)
        return self.inner.value(ijk, t) if edited is None else edited

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        out = self.inner.series(ijk)
        keys, values = self.edits.arrays()
        if len(keys):
            hit = (keys[:, 0] == ijk[0]) & (keys[:, 1] == ijk[1]) & (keys[:, 2] == ijk[2])
            out[keys[hit, 3]] = values[hit]
        return out

    def close(self) -> None:
        self.inner.close()


def proxy_chain(proxy: VolumeProxy) -> list[VolumeProxy]:
    """``proxy`` and every proxy it wraps, outermost first: edits, a rescaling
    (``base``), the plane cache (``inner``), down to the proxy that reads the file."""
    chain = [proxy]
    while isinstance(proxy, EditedProxy | RescaledProxy | CachedProxy):
        proxy = proxy.base if isinstance(proxy, RescaledProxy) else proxy.inner
        chain.append(proxy)
    return chain


def base_proxy(proxy: VolumeProxy) -> VolumeProxy:
    """The proxy that reads the file, under any edit, rescaling or cache wrapper."""
    return proxy_chain(proxy)[-1]


def forget_cached_planes(proxy: VolumeProxy) -> None:
    """Empty every plane cache behind ``proxy`` (the file's voxels were just written)."""
    for wrapper in proxy_chain(proxy):
        if isinstance(wrapper, CachedProxy):
            wrapper.clear()


def storage_of(image: ImageFile) -> Storage:
    """The dtype and scaling of the numbers behind ``image``'s voxels.

    Memory-mapped files and nibabel proxies know their stored dtype; an array in RAM
    stores what it holds. Anything else is treated as float64 (every value exact).
    """
    proxy = base_proxy(image.proxy)
    slope, inter = image.scaling
    if isinstance(proxy, MemmapProxy):
        return Storage(proxy.dtype, proxy.slope, proxy.inter)
    if isinstance(proxy, NibabelProxy | ArrayProxy):
        return Storage(proxy.stored_dtype, slope, inter)
    return Storage(np.dtype(np.float64), 1.0, 0.0)


def file_read_only_reason(image: ImageFile) -> str | None:
    """Why the memory-mapped file holding ``image``'s voxels may not be written
    (None: it may, or the voxels are not a memory-mapped file)."""
    proxy = base_proxy(image.proxy)
    if not image.on_disk or not isinstance(proxy, MemmapProxy):
        return None
    return read_only_reason(proxy.path)


def in_place_reason(image: ImageFile) -> str | None:
    """Why Save cannot write the edits into ``image``'s file (then only Save As), or None."""
    proxy = base_proxy(image.proxy)
    if not image.on_disk:
        return "this image was given in memory: use Save As"
    if not isinstance(proxy, MemmapProxy):
        return f"{image.path.name} is read {proxy.access}, not memory-mapped: use Save As"
    return None
