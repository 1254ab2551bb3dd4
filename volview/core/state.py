"""ViewerState: the one source of truth that every view subscribes to.

Owns: the current volume, the cursor (voxel indices ``ijk``), the volume index
``t``, the display window (lo, hi in scaled data units), the colormap name, the
image layers drawn over the base image (``overlays``, bottom to top), the layer
whose window the colour bar and right-drag act on (``active_overlay``; None: the
base image) and the tractogram layers drawn over them (``tracts``, bottom to top).
Setters validate and clamp, and emit their signal once, only when the value
changed. Views never call each other; they call these setters and listen.
``set_volume`` resets the cursor (to the centre), ``t`` and the window together and
emits only ``volume_changed``: listeners read the new values from the state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from psygnal import Signal

from volview.core.colormap_names import COLORMAPS
from volview.core.geometry import Plane
from volview.core.volume import Volume
from volview.errors import VolviewError
from volview.io.proxy import READ_ERRORS

if TYPE_CHECKING:
    from volview.core.layers import ImageLayer
    from volview.core.tracts import TractLayer


class ViewerState:
    volume_changed = Signal(object)  # Volume | None
    cursor_changed = Signal(tuple)  # ijk
    time_changed = Signal(int)
    window_changed = Signal(float, float)
    colormap_changed = Signal(str)
    tracts_changed = Signal()  # a tractogram layer was added or removed
    overlays_changed = Signal()  # an image layer was added, removed or moved
    active_layer_changed = Signal(object)  # ImageLayer | None (the base image)
    voxels_changed = Signal()  # voxel values of the shown volume changed (edit, undo, save)

    def __init__(self) -> None:
        self.volume: Volume | None = None
        self.cursor_ijk: tuple[int, int, int] = (0, 0, 0)
        self.t = 0
        self.window: tuple[float, float] = (0.0, 1.0)
        #: False while ``window`` is a placeholder (the volume's sample is still being
        #: read in the background); views then draw no partly read planes with it
        self.window_settled = True
        self.colormap = "gray"
        self.radiological = True
        self.tracts: list[TractLayer] = []
        self.overlays: list[ImageLayer] = []
        self.active_overlay: ImageLayer | None = None

    # -- volume --------------------------------------------------------------------
    def set_volume(
        self,
        volume: Volume | None,
        window: tuple[float, float] | None = None,
        window_settled: bool = True,
    ) -> None:
        """Show ``volume`` (replacing the current one) with the cursor at its centre.

        ``window_settled=False``: ``window`` is a placeholder until ``set_window``.
        """
        old = self.volume
        self.volume = volume
        self.t = 0
        if volume is not None:
            self.cursor_ijk = volume.centre_ijk()
            if window is not None:
                self._store_window(*window)
                self.window_settled = window_settled
        self.volume_changed.emit(volume)
        if (
            old is not None
            and old is not volume
            and old.image is not getattr(volume, "image", None)
        ):
            old.image.close()

    def set_time(self, t: int) -> None:
        """Show volume ``t`` of a 4-D image (clamped to the volumes it has)."""
        if self.volume is None:
            return
        t = min(max(int(t), 0), self.volume.n_volumes - 1)
        if t != self.t:
            self.t = t
            self.time_changed.emit(t)

    def set_radiological(self, radiological: bool) -> None:
        """Switch between radiological and neurological display (same data, mirrored)."""
        if radiological == self.radiological:
            return
        self.radiological = radiological
        if self.volume is not None:
            self.replace_volume(self.volume.with_convention(radiological))

    def replace_volume(self, volume: Volume) -> None:
        """Show the same voxels under a new description (convention, header preview).

        Unlike ``set_volume`` the cursor voxel, the volume index and the window stay,
        and the current image is not closed: ``volume`` shares its file.
        """
        if self.volume is None:
            raise ValueError("replace_volume needs an open volume; use set_volume")
        cursor = self.cursor_ijk
        self.volume = volume
        self.volume_changed.emit(volume)
        self.set_cursor(cursor)

    def notify_voxels_changed(self) -> None:
        """Say that voxel values of the shown volume changed (same file, same geometry):
        views re-read their planes, readouts re-read the value under the cursor."""
        if self.volume is not None:
            self.voxels_changed.emit()

    # -- cursor --------------------------------------------------------------------
    def set_cursor(self, ijk) -> None:
        if self.volume is None:
            return
        clamped = self.volume.geometry.clamp_ijk(ijk)
        if clamped != self.cursor_ijk:
            self.cursor_ijk = clamped
            self.cursor_changed.emit(clamped)

    def set_cursor_world(self, xyz_mm) -> None:
        if self.volume is not None:
            self.set_cursor(self.volume.geometry.world_to_voxel(xyz_mm))

    def step_slice(self, plane: Plane, n_steps: int) -> None:
        """Move the slice of ``plane`` by n_steps; positive steps go toward R, A or S."""
        if self.volume is None:
            return
        layout = self.volume.geometry.layout(plane)
        ijk = list(self.cursor_ijk)
        ijk[layout.depth_axis] += n_steps * layout.depth_step
        self.set_cursor(ijk)

    @property
    def cursor_xyz_mm(self) -> tuple[float, float, float]:
        if self.volume is None:
            return (0.0, 0.0, 0.0)
        return tuple(float(v) for v in self.volume.geometry.voxel_to_world(self.cursor_ijk))

    def cursor_value(self) -> float | None:
        if self.volume is None:
            return None
        return self.volume.value(self.cursor_ijk, self.t)

    def cursor_value_text(self) -> str:
        """The value under the cursor for a readout: "unreadable" if the read fails,
        "reading…" while the voxel's plane is read in the background."""
        if self.volume is None:
            return ""
        try:
            value = self.volume.value_if_ready(self.cursor_ijk, self.t)
        except (VolviewError, *READ_ERRORS):
            return "unreadable"
        return "reading\u2026" if value is None else f"{value:.6g}"

    # -- tractograms ------------------------------------------------------------------
    def add_tracts(self, layer: TractLayer) -> None:
        """Draw ``layer`` over the image, on top of the tractograms already shown."""
        self.tracts.append(layer)
        self.tracts_changed.emit()

    def remove_tracts(self, layer: TractLayer) -> None:
        """Stop drawing ``layer`` and release its file."""
        self.tracts.remove(layer)
        self.tracts_changed.emit()
        layer.close()

    # -- image layers ---------------------------------------------------------------
    def add_overlay(self, layer: ImageLayer) -> None:
        """Draw ``layer`` over the base image, on top of the other overlays."""
        self.overlays.append(layer)
        self.overlays_changed.emit()

    def remove_overlay(self, layer: ImageLayer) -> None:
        """Stop drawing ``layer`` and release its file."""
        self.overlays.remove(layer)
        if layer is self.active_overlay:
            self.set_active_overlay(None)
        self.overlays_changed.emit()
        layer.close()

    def move_overlay(self, layer: ImageLayer, steps: int) -> None:
        """Move ``layer`` ``steps`` places up (positive: drawn later, on top) or down."""
        old = self.overlays.index(layer)
        new = min(max(old + steps, 0), len(self.overlays) - 1)
        if new != old:
            self.overlays.insert(new, self.overlays.pop(old))
            self.overlays_changed.emit()

    def set_active_overlay(self, layer: ImageLayer | None) -> None:
        """Make ``layer`` (an overlay shown, or None for the base image) the one whose
        window the colour bar and right-drag change."""
        if layer is not None and layer not in self.overlays:
            raise ValueError(f"{layer.name} is not an overlay of this view")
        if layer is not self.active_overlay:
            self.active_overlay = layer
            self.active_layer_changed.emit(layer)

    def window_layer(self) -> ImageLayer | None:
        """The overlay whose window is being set, or None for the base image's.

        An overlay drawn in label colours has no window: the base image's is set."""
        layer = self.active_overlay
        return None if layer is None or layer.style.labels else layer

    def active_window(self) -> tuple[float, float]:
        layer = self.window_layer()
        return self.window if layer is None else layer.style.window

    def set_active_window(self, lo: float, hi: float) -> None:
        """Set the window of ``window_layer()`` (validated and ordered as ``set_window``)."""
        layer = self.window_layer()
        if layer is None:
            self.set_window(lo, hi)
            return
        lo, hi = sorted((float(lo), float(hi)))
        if hi == lo:
            hi = lo + max(abs(lo) * 1e-6, 1e-6)
        layer.set_style(window=(lo, hi))

    def overlay_values(self) -> list[tuple[ImageLayer, float | None]]:
        """Each visible overlay with its value under the cursor (None outside it)."""
        if self.volume is None:
            return []
        affine = self.volume.image.affine
        return [
            (layer, layer.value_at(affine, self.cursor_ijk, self.t))
            for layer in self.overlays
            if layer.style.visible
        ]

    # -- display -------------------------------------------------------------------
    def set_window(self, lo: float, hi: float) -> None:
        """Set the display window (this settles a placeholder, even to itself)."""
        was_settled, self.window_settled = self.window_settled, True
        if self._store_window(lo, hi) or not was_settled:
            self.window_changed.emit(*self.window)

    def _store_window(self, lo: float, hi: float) -> bool:
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"window bounds must be finite numbers, got {lo}, {hi}")
        if hi < lo:
            lo, hi = hi, lo
        if hi == lo:
            hi = lo + max(abs(lo) * 1e-6, 1e-6)
        changed = (lo, hi) != self.window
        self.window = (lo, hi)
        return changed

    def set_colormap(self, name: str) -> None:
        if name not in COLORMAPS:
            raise ValueError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
        if name != self.colormap:
            self.colormap = name
            self.colormap_changed.emit(name)
