"""Volume: an opened image plus its display geometry and intensity statistics.

Owns: ``Volume`` (ImageFile + Geometry; ``time_course`` reads one voxel through all
volumes), ``sample_values`` (a small strided sample whose cost does not grow with
the file size), ``auto_window`` and ``SeenRange`` (the min/max of the values
displayed so far).
Coordinate space: voxel indices ``ijk`` and volume index ``t``; world positions go
through ``Volume.geometry``. Nothing here reads a whole volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from psygnal import Signal

from volview.core.geometry import Geometry
from volview.io.images import ImageFile

#: planes and samples per plane side used for the automatic window
SAMPLE_PLANES = 8
SAMPLE_SIDE = 128
#: zeros dominate the sample above this fraction -> ignore them (background)
ZERO_FRACTION = 0.6
PERCENTILES = (2.0, 98.0)


class SeenRange:
    """Running (min, max) of the finite values shown so far; None before any.
    ``changed`` fires when the range widens."""

    changed = Signal()

    def __init__(self) -> None:
        self.range: tuple[float, float] | None = None

    def note(self, values: np.ndarray) -> None:
        """Widen the range by a plane's values (called on every plane shown: cheap)."""
        finite = np.isfinite(values)
        if not finite.all():  # copy only when there is something to leave out
            values = values[finite]
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        if self.range is not None:
            lo, hi = min(lo, self.range[0]), max(hi, self.range[1])
        if (lo, hi) != self.range:
            self.range = (lo, hi)
            self.changed.emit()


@dataclass(frozen=True, eq=False)
class Volume:
    image: ImageFile
    geometry: Geometry

    @classmethod
    def from_image(cls, image: ImageFile, radiological: bool = True) -> Volume:
        geometry = Geometry.from_affine(
            image.affine,
            image.shape,
            voxel_sizes=image.voxel_sizes,
            orientation_known=image.orientation_known,
            radiological=radiological,
        )
        return cls(image, geometry)

    def with_convention(self, radiological: bool) -> Volume:
        mirrored = Volume.from_image(self.image, radiological=radiological)
        for name in ("intensity_sample", "seen"):  # same voxels: keep what was read
            if name in self.__dict__:
                mirrored.__dict__[name] = self.__dict__[name]
        return mirrored

    @cached_property
    def seen(self) -> SeenRange:
        """The values the views have displayed so far (updated by them)."""
        return SeenRange()

    @property
    def seen_range(self) -> tuple[float, float] | None:
        return self.seen.range

    @cached_property
    def intensity_sample(self) -> np.ndarray:
        """The strided sample of volume 0 (read once) behind the auto window and histogram."""
        return sample_values(self)

    def sample_if_ready(self) -> np.ndarray | None:
        """``intensity_sample`` if it can be had without waiting on a stream, else None
        (it is then being read in the background; see ``sample_values``)."""
        if "intensity_sample" not in self.__dict__:
            sample = sample_values(self, wait=False)
            if sample is None:
                return None
            self.__dict__["intensity_sample"] = sample
        return self.intensity_sample

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.image.shape[:3]

    @property
    def n_volumes(self) -> int:
        return self.image.shape[3]

    @property
    def name(self) -> str:
        return self.image.path.name

    def value(self, ijk: tuple[int, int, int], t: int = 0) -> float:
        """Scaled value of one voxel (slope/intercept applied)."""
        return self.image.proxy.value(ijk, t)

    def value_if_ready(self, ijk: tuple[int, int, int], t: int = 0) -> float | None:
        """``value``, or None while an image read from a stream reads the voxel's plane
        in the background (its proxy's ready listeners say when)."""
        proxy = self.image.proxy
        if hasattr(proxy, "value_nowait"):
            return proxy.value_nowait(ijk, t)
        return proxy.value(ijk, t)

    def time_course(self, ijk: tuple[int, int, int]) -> np.ndarray:
        """Scaled values of voxel ``ijk`` in every volume, float64 ``(n_volumes,)``.

        One voxel through all volumes, read in one strided index: the cost grows with
        the number of volumes, not with their size.
        """
        return self.image.proxy.series(ijk)

    def centre_ijk(self) -> tuple[int, int, int]:
        return tuple(n // 2 for n in self.shape)


def sample_values(volume: Volume, t: int = 0, wait: bool = True) -> np.ndarray | None:
    """A strided sample of volume ``t`` of at most SAMPLE_PLANES * SAMPLE_SIDE^2 values.

    Planes are taken along the last voxel axis (contiguous on disk). For a proxy
    without cheap random access (gzip) only the middle plane is read, so that
    opening never decompresses the whole file; a proxy that can read in the
    background (``plane_nowait``) is first asked for the sagittal and coronal planes
    through the centre too, which the views will want: one pass over the stream
    reads all three. With ``wait=False`` such a proxy is not waited on: the result
    is None until the middle plane has been read (its ready listeners say when).
    """
    proxy = volume.image.proxy
    ni, nj, nk = volume.shape
    n_planes = SAMPLE_PLANES if proxy.random_access else 1
    background = not proxy.random_access and hasattr(proxy, "plane_nowait")
    if background:
        for axis, index in enumerate(volume.centre_ijk()):
            proxy.plane_nowait(axis, index, t)
    if n_planes >= nk:
        ks = range(nk)
    else:
        ks = np.linspace(0, nk - 1, n_planes + 2).round().astype(int)[1:-1]
    # round the step up so that no side yields more than SAMPLE_SIDE samples
    in_plane = (
        slice(0, ni, max(1, -(-ni // SAMPLE_SIDE))),
        slice(0, nj, max(1, -(-nj // SAMPLE_SIDE))),
    )
    read = proxy.plane if wait or not background else proxy.plane_nowait
    planes = [read(2, int(k), t, in_plane) for k in dict.fromkeys(ks)]
    if any(plane is None for plane in planes):
        return None
    return np.concatenate([plane.ravel() for plane in planes])


def auto_window(volume: Volume, t: int = 0) -> tuple[float, float]:
    """Initial display window: plausible cal_min/cal_max, else 2nd-98th percentile."""
    if volume.image.cal_range is not None:
        return volume.image.cal_range
    return robust_range(volume.intensity_sample if t == 0 else sample_values(volume, t))


def auto_window_if_ready(volume: Volume) -> tuple[float, float] | None:
    """``auto_window`` of volume 0, or None while its sample is read in the background."""
    if volume.image.cal_range is not None:
        return volume.image.cal_range
    sample = volume.sample_if_ready()
    return None if sample is None else robust_range(sample)


def robust_range(values: np.ndarray) -> tuple[float, float]:
    """2nd-98th percentile of the finite values, ignoring zeros when they dominate."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    nonzero = values[values != 0]
    if nonzero.size and nonzero.size < (1 - ZERO_FRACTION) * values.size:
        values = nonzero
    lo, hi = (float(v) for v in np.percentile(values, PERCENTILES))
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi
