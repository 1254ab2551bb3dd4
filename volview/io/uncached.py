"""Reads that leave a plane cache alone: ``UncachedView`` and ``uncached(proxy)``.

Owns: the view of a ``CachedProxy`` (``volview.io.plane_cache``) that reads its inner
proxy directly, under the cache's read lock, so that a whole-image scan or a load
into memory does not evict the planes being viewed.

Coordinate space: voxel indices, exactly as ``volview.io.proxy``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from volview.io.proxy import FULL, RescaledProxy, VolumeProxy

if TYPE_CHECKING:
    from volview.io.plane_cache import CachedProxy


class UncachedView:
    """Reads through a CachedProxy's inner proxy (under its lock), leaving the cache alone."""

    def __init__(self, cached: CachedProxy) -> None:
        self._cached = cached
        self.shape = cached.shape
        self.access = cached.access
        self.random_access = cached.random_access

    def plane(
        self, axis: int, index: int, t: int = 0, in_plane: tuple[slice, slice] = (FULL, FULL)
    ) -> np.ndarray:
        with self._cached.guard():
            return self._cached.inner.plane(axis, index, t, in_plane)

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        return self._cached.value(ijk, t)

    def series(self, ijk: tuple[int, int, int]) -> np.ndarray:
        return self._cached.series(ijk)

    def close(self) -> None:
        """Nothing to release: the CachedProxy owns the file."""


def uncached(proxy: VolumeProxy) -> VolumeProxy:
    """``proxy`` without its plane cache, for reads that must not evict viewed planes
    (also under a header preview's ``RescaledProxy``)."""
    if hasattr(proxy, "bypass"):  # a CachedProxy
        return proxy.bypass()
    if isinstance(proxy, RescaledProxy) and hasattr(proxy.base, "bypass"):
        view = copy.copy(proxy)
        view.base = proxy.base.bypass()
        return view
    return proxy
