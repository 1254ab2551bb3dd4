"""VoxelEdits: the in-memory log of voxel edits over one image, with undo and redo.

Owns: ``VoxelEdits`` (``set_voxel``, ``paint_disc``, strokes that group many calls
into one undoable step, ``undo``/``redo``, ``edited_values``, ``stored_values``),
``Storage`` (how a value in scaled data units becomes the number the file stores)
and ``VoxelEditError``.

Invariants: nothing here touches a file. Every edit lives in memory until a save
writes it (``volview.io.voxel_save``); a crash before that leaves the file as it was.
Values are in scaled data units (slope/intercept applied), like every value the
viewer shows; a value is kept as the nearest value the file can store, so what is
shown is what Save writes, and a message says when that differs from the value typed.

Coordinate space: voxel indices ``ijk`` plus the volume index ``t``. A brush disc
lies in the plane ``ijk[plane_axis] == index``; its radius is counted in voxels of
that plane (radius 0 is one voxel, radius 1 a plus sign of five), so that the same
radius paints the same number of voxels whatever the voxel size. A disc on a plane
of anisotropic voxels therefore looks elliptical on screen, where planes are drawn in mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from psygnal import Signal

from volview.errors import VolviewError, describe

Key = tuple[int, int, int, int]  # (i, j, k, t)
#: relative difference below which a stored value counts as the value typed
EXACT_TOLERANCE = 1e-6


class VoxelEditError(VolviewError):
    """A voxel edit was refused (a value the file cannot hold, a voxel outside it)."""


@dataclass(frozen=True)
class Storage:
    """How scaled values map to stored numbers: ``scaled = stored * slope + inter``."""

    dtype: np.dtype
    slope: float = 1.0
    inter: float = 0.0

    def stored_number(self, value: float) -> tuple[np.generic, str | None]:
        """The stored number nearest to ``value`` and, if it is not exact, why."""
        dtype = np.dtype(self.dtype)
        slope = self.slope if self.slope != 0 else 1.0
        raw = (float(value) - self.inter) / slope
        if dtype.kind in "iub":
            if not np.isfinite(raw):
                return None, f"{value:g} cannot be stored in {dtype.name} data"
            info = np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)
            number = min(max(float(np.rint(raw)), float(info.min)), float(info.max))
            if number != float(np.rint(raw)):
                lo, hi = sorted(self.scaled(n) for n in (info.min, info.max))
                why = f"is outside the range {lo:g} to {hi:g} that this {dtype.name} file holds"
                return dtype.type(number), why
            return dtype.type(number), None if number == raw else self._inexact(dtype)
        with np.errstate(over="ignore"):
            number = dtype.type(raw)
        if np.isfinite(raw) and not np.isfinite(number):
            return None, f"{value:g} is too large for {dtype.name} data"
        return number, None

    def _inexact(self, dtype: np.dtype) -> str:
        if (self.slope, self.inter) == (1.0, 0.0):
            return f"is not a whole number and this file stores {dtype.name}"
        return (
            f"falls between the values this file can store "
            f"({dtype.name} x {self.slope:g} + {self.inter:g})"
        )

    def scaled(self, number) -> float:
        return float(number) * self.slope + self.inter

    def nearest(self, value: float) -> tuple[float, str | None]:
        """``(value the file will hold, message)``; message is None when it is exact."""
        number, why = self.stored_number(value)
        if number is None:
            raise VoxelEditError(why)
        kept = self.scaled(number)
        if why is None and not _close(kept, value):
            why = f"cannot be stored exactly in {np.dtype(self.dtype).name} data"
        if why is None:
            return kept, None
        return kept, f"{value:g} {why}; it is stored as {kept:g}"


def _close(a: float, b: float) -> bool:
    if np.isnan(a) and np.isnan(b):
        return True
    return abs(a - b) <= EXACT_TOLERANCE * max(1.0, abs(b))


@dataclass
class _Step:
    """One undoable step: for each voxel, its value before (None: not edited) and after."""

    before: dict[Key, float | None]
    after: dict[Key, float]


class VoxelEdits:
    """Edits of one image's voxels, kept in memory until saved.

    Parameters
    ----------
    path : the image's file (only used to name it in messages)
    shape : the image's 4-D shape ``(ni, nj, nk, nt)``
    storage : how values are stored (dtype and scaling of the file)
    """

    #: the edited values changed (an edit, undo, redo or a save)
    changed = Signal()

    def __init__(self, path: Path, shape: tuple[int, int, int, int], storage: Storage) -> None:
        self.path = Path(path)
        self.shape = tuple(int(n) for n in shape)
        self.storage = storage
        self._values: dict[Key, float] = {}
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._stroke: _Step | None = None
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    # -- queries -----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo) or bool(self._stroke and self._stroke.after)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def count(self) -> int:
        """Number of voxels whose value differs from the file (unsaved edits)."""
        return len(self._values)

    def edited_values(self) -> dict[Key, float]:
        """``{(i, j, k, t): value}`` of every edited voxel, in scaled data units."""
        return dict(self._values)

    def value(self, ijk, t: int = 0) -> float | None:
        """The edited value of one voxel, or None if it is not edited."""
        return self._values.get((*(int(v) for v in ijk), int(t)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Edited voxels as ``(keys (N, 4) int64, values (N,) float64)`` (cached)."""
        if self._arrays is None:
            keys = np.array(list(self._values), dtype=np.int64).reshape(-1, 4)
            values = np.fromiter(self._values.values(), dtype=np.float64, count=len(keys))
            self._arrays = keys, values
        return self._arrays

    def stored_values(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keys (N, 4), numbers (N,))``: the numbers to write, in the file's dtype."""
        keys, values = self.arrays()
        numbers = [self.storage.stored_number(v)[0] for v in values.tolist()]
        return keys, np.array(numbers, dtype=np.dtype(self.storage.dtype).newbyteorder("="))

    # -- editing -----------------------------------------------------------------------
    def set_voxel(self, ijk, value: float, t: int = 0) -> str | None:
        """Set one voxel (one undoable step); returns a message if not stored exactly."""
        key = self._key(ijk, t)
        kept, message = self.storage.nearest(value)
        self._apply({key: kept})
        return message

    def paint_disc(
        self, plane_axis: int, index: int, centre_ijk, radius_vox: float, value: float, t: int = 0
    ) -> str | None:
        """Set every voxel of the plane ``ijk[plane_axis] == index`` within ``radius_vox``
        voxels of ``centre_ijk`` (clipped to the image); one undoable step."""
        centre = [int(v) for v in centre_ijk]
        centre[plane_axis] = int(index)
        self._key(centre, t)
        kept, message = self.storage.nearest(value)
        keys = disc_voxels(self.shape[:3], plane_axis, centre, radius_vox)
        self._apply({(*key, int(t)): kept for key in keys})
        return message

    def begin_stroke(self) -> None:
        """Group the edits until ``end_stroke`` into one undoable step (a mouse drag)."""
        self.end_stroke()
        self._stroke = _Step({}, {})

    def end_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None and stroke.after:
            self._undo.append(stroke)

    def undo(self) -> None:
        self.end_stroke()
        if self._undo:
            step = self._undo.pop()
            self._redo.append(step)
            self._set(step.before)

    def redo(self) -> None:
        if self._redo:
            step = self._redo.pop()
            self._undo.append(step)
            self._set(step.after)

    def clear(self) -> None:
        """Forget every edit and the undo history (after a save, or on discard)."""
        self._stroke = None
        self._undo.clear()
        self._redo.clear()
        self._set({key: None for key in self._values})

    # -- internals ---------------------------------------------------------------------
    def _key(self, ijk, t: int) -> Key:
        key = (*(int(v) for v in ijk), int(t))
        if len(key) != 4 or not all(0 <= v < n for v, n in zip(key, self.shape, strict=True)):
            problem = f"voxel {tuple(ijk)} of volume {t} is outside the image {self.shape}"
            raise VoxelEditError(describe(self.path, problem))
        return key

    def _apply(self, new: dict[Key, float]) -> None:
        step = self._stroke if self._stroke is not None else _Step({}, {})
        for key, value in new.items():
            step.before.setdefault(key, self._values.get(key))
            step.after[key] = value
        if self._stroke is None:
            self._undo.append(step)
        self._redo.clear()
        self._set(new)

    def _set(self, values: dict[Key, float | None]) -> None:
        for key, value in values.items():
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = value
        self._arrays = None
        self.changed.emit()


def disc_voxels(shape3, plane_axis: int, centre, radius_vox: float) -> list[tuple[int, int, int]]:
    """Voxels ``ijk`` of the plane through ``centre`` normal to ``plane_axis`` whose
    in-plane distance from ``centre`` is at most ``radius_vox`` voxels, inside ``shape3``."""
    if plane_axis not in (0, 1, 2):
        raise ValueError(f"plane axis must be 0, 1 or 2, not {plane_axis}")
    a, b = (ax for ax in range(3) if ax != plane_axis)
    r = int(np.floor(max(float(radius_vox), 0.0)))
    da, db = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    inside = da**2 + db**2 <= float(radius_vox) ** 2 + 1e-9
    ia, ib = centre[a] + da[inside], centre[b] + db[inside]
    keep = (ia >= 0) & (ia < shape3[a]) & (ib >= 0) & (ib < shape3[b])
    out = []
    for va, vb in zip(ia[keep].tolist(), ib[keep].tolist(), strict=True):
        ijk = list(centre)
        ijk[a], ijk[b] = va, vb
        out.append(tuple(ijk))
    return out
