"""HeaderDocument: the header being edited, with undo/redo, and its live preview.

Owns: the edit history of one file's header (``RawHeader`` values, immutable, so
undo is a stack of whole headers), whether it differs from what is on disk, and
``preview_volume`` — the open Volume as the edited header describes it (geometry,
orientation, scaling), with the same voxels. Nothing here writes a file; saving is
``volview.io.header_save`` and the caller records it with ``mark_saved``.
Coordinate space: none of its own; affines map voxel ``ijk`` to world ``xyz_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from volview.core.volume import Volume
from volview.io.header import RawHeader
from volview.io.header_file import HeaderFile
from volview.io.images import with_header

#: the two affines a NIfTI header stores
AFFINES = ("qform", "sform")
#: NIFTI_XFORM_ALIGNED_ANAT: the code a newly set matrix gets when its code was 0
ALIGNED_CODE = 2


@dataclass(frozen=True)
class Edit:
    """One undoable step: the header before and after, and what the user did."""

    text: str
    before: RawHeader
    after: RawHeader


class HeaderDocument:
    """One file's header under edit. ``changed`` fires after every change of ``current``."""

    changed = Signal()

    def __init__(self, header_file: HeaderFile) -> None:
        self.file = header_file
        self.saved: RawHeader = header_file.raw
        self.current: RawHeader = header_file.raw
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []

    # -- queries ---------------------------------------------------------------------
    @property
    def modified(self) -> bool:
        """True when the edited header differs from the one on disk."""
        return self.current.block != self.saved.block

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    # -- edits -----------------------------------------------------------------------
    def edit(self, key: str, value) -> None:
        """Set one field (``value`` may be the user's text); raises HeaderValueError."""
        if isinstance(value, str):
            value = self.current.parse(key, value)
        self._apply(f"set {key}", self.current.with_value(key, value))

    def set_affine(self, which: str, matrix: np.ndarray) -> None:
        """Replace the qform or sform from a 4x4 matrix; raises HeaderValueError.

        A matrix set while its code is 0 (unused) would change nothing on screen, so
        the code becomes 2 ("aligned"), as nibabel's ``set_sform``/``set_qform`` do.
        """
        if which not in AFFINES:
            raise ValueError(f"which must be one of {AFFINES}, not {which!r}")
        setter = self.current.with_qform if which == "qform" else self.current.with_sform
        edited = setter(np.asarray(matrix, dtype=np.float64))
        code = f"{which}_code"
        if edited.value(code) == 0:
            edited = edited.with_value(code, ALIGNED_CODE)
        self._apply(f"set {which}", edited)

    def undo(self) -> None:
        if self._undo:
            step = self._undo.pop()
            self._redo.append(step)
            self._set_current(step.before)

    def redo(self) -> None:
        if self._redo:
            step = self._redo.pop()
            self._undo.append(step)
            self._set_current(step.after)

    def revert(self) -> None:
        """Go back to the header on disk (itself an undoable step)."""
        if self.modified:
            self._apply("revert to the saved header", self.saved)

    def mark_saved(self, header_file: HeaderFile) -> None:
        """Record that ``current`` is now on disk as ``header_file`` (e.g. after Save As)."""
        self.file = header_file
        self.saved = header_file.raw
        self._set_current(header_file.raw)

    # -- internals -------------------------------------------------------------------
    def _apply(self, text: str, after: RawHeader) -> None:
        if after.block == self.current.block:
            return
        self._undo.append(Edit(text, self.current, after))
        self._redo.clear()
        self._set_current(after)

    def _set_current(self, raw: RawHeader) -> None:
        self.current = raw
        self.changed.emit()


def preview_volume(original: Volume, raw: RawHeader, radiological: bool) -> Volume:
    """``original`` (as opened from disk) shown as header ``raw`` describes it.

    The voxels are the same; affine, voxel sizes, orientation and scaling follow the
    edited header, so the views show the effect of an edit before it is saved.
    """
    image = with_header(original.image, raw.nibabel_header(), raw.slope_inter())
    preview = Volume.from_image(image, radiological=radiological)
    if image.proxy is original.image.proxy and "intensity_sample" in original.__dict__:
        preview.__dict__["intensity_sample"] = original.intensity_sample  # same values
    return preview
