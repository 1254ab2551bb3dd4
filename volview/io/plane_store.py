"""PlaneStore: a byte-bounded least-recently-used store of planes.

Owns: ``PlaneStore(budget_bytes)``, the storage behind ``CachedProxy``
(``volview.io.plane_cache``): planes keyed by whatever the cache uses, evicted oldest
first so that their total size never exceeds the budget; a plane larger than the
whole budget is not kept. Not thread-safe: the cache holds its lock around every call.

Coordinate space: none (opaque keys and arrays).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np


class PlaneStore:
    """Planes by key, at most ``budget_bytes`` in total, least recently used out first."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = max(0, int(budget_bytes))
        self._planes: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        #: total bytes of the planes held
        self.nbytes = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._planes

    def get(self, key: Hashable) -> np.ndarray | None:
        """The plane (now the most recently used), or None."""
        plane = self._planes.get(key)
        if plane is not None:
            self._planes.move_to_end(key)
        return plane

    def put(self, key: Hashable, plane: np.ndarray) -> None:
        """Keep ``plane`` under ``key``, evicting the oldest planes to make room."""
        if plane.nbytes > self.budget_bytes:
            return
        old = self._planes.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        while self._planes and self.nbytes + plane.nbytes > self.budget_bytes:
            _, evicted = self._planes.popitem(last=False)
            self.nbytes -= evicted.nbytes
        self._planes[key] = plane
        self.nbytes += plane.nbytes

    def clear(self) -> None:
        self._planes.clear()
        self.nbytes = 0
