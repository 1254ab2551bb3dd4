"""The x axis of a voxel's time course, and the way back from a point on it to a volume.

Owns: ``time_axis`` (one x value per volume, and the axis label), ``nearest_volume``
(an x value back to a volume index) and ``describe_volume`` (the words for one volume).
Coordinate spaces: the volume index ``t`` is 0-based, as ``ViewerState.t``; x is
seconds from the first volume (``t * step``) when the header gives the time between
volumes (``ImageFile.time_step``), else the 1-based volume number users see in the
spin box and the status bar. Pure numpy: no file access, no Qt.
"""

from __future__ import annotations

import math

import numpy as np

SECONDS_LABEL = "time (s)"
VOLUME_LABEL = "volume"


def time_axis(n_volumes: int, time_step: tuple[float, str] | None) -> tuple[np.ndarray, str]:
    """x value of each volume (float64, ``(n_volumes,)``) and the axis label.

    Parameters
    ----------
    n_volumes : int
        Volumes in the image (at least 1).
    time_step : (float, str) or None
        Seconds between volumes and the unit the header used; None when unknown.
    """
    if n_volumes < 1:
        raise ValueError(f"a time axis needs at least one volume, not {n_volumes}")
    t = np.arange(n_volumes, dtype=np.float64)
    if time_step is None:
        return t + 1, VOLUME_LABEL
    return t * time_step[0], SECONDS_LABEL


def nearest_volume(x_values: np.ndarray, x: float) -> int:
    """0-based index of the volume whose x value is nearest to ``x`` (ties: the earlier)."""
    if not math.isfinite(x):
        raise ValueError(f"x must be a finite number, not {x}")
    if len(x_values) == 0:
        raise ValueError("no volumes to choose from")
    return int(np.argmin(np.abs(np.asarray(x_values, dtype=np.float64) - x)))


def describe_volume(t: int, n_volumes: int, time_step: tuple[float, str] | None) -> str:
    """``"volume 3 / 20 (4 s)"``: the 1-based volume number, and its time when known."""
    text = f"volume {t + 1} / {n_volumes}"
    if time_step is None:
        return text
    return f"{text} ({t * time_step[0]:.4g} s)"
