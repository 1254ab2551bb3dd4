"""TractOverlay: the streamlines near the current slice, drawn over one SliceView.

Owns: one RGBA ImageItem per view, covering exactly the visible rectangle at the
view's device-pixel resolution, and when it is redrawn: after the slice of this
view changes, the view is panned, zoomed or resized, a layer's settings change,
or layers come and go. Redraws are coalesced through a zero-delay timer so a burst
of changes costs one query and one rasterisation per view.
Coordinate spaces: segments come in voxel ``ijk`` (the image's grid) and are placed
in the view's display millimetres (voxel centre ``n`` at ``(n + 0.5) * spacing``).
"""

from __future__ import annotations

import numpy as np

from volview.core.geometry import PlaneLayout
from volview.core.streamline_raster import Viewport, rasterize
from volview.core.tracts import TractLayer
from volview.qt.colormaps import lookup_table
from volview.qt.compat import QtCore, pg

#: above the image planes, below the crosshair
OVERLAY_Z = 5


def ijk_to_display_mm(layout: PlaneLayout, ijk: np.ndarray) -> np.ndarray:
    """(n, 3) continuous voxel coordinates -> (n, 2) display mm (x right, y up)."""
    col = ijk[:, layout.col_axis]
    row = ijk[:, layout.row_axis]
    if layout.col_flip:
        col = layout.n_cols - 1 - col
    if layout.row_flip:
        row = layout.n_rows - 1 - row
    out = np.empty((len(ijk), 2), dtype=np.float32)
    out[:, 0] = (col + 0.5) * layout.col_spacing_mm
    out[:, 1] = (row + 0.5) * layout.row_spacing_mm
    return out


class TractOverlay(QtCore.QObject):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.state = view.state
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(OVERLAY_Z)
        self.item.hide()
        view.viewbox.addItem(self.item, ignoreBounds=True)
        self._drawn_key = None
        self._layers: list[TractLayer] = []
        self._timer = QtCore.QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.redraw)
        self.state.tracts_changed.connect(self._on_layers_changed)
        self.state.cursor_changed.connect(self.schedule)
        self.state.volume_changed.connect(self._force)
        view.viewbox.sigRangeChanged.connect(self.schedule)
        view.viewbox.sigResized.connect(self.schedule)
        self._on_layers_changed()

    def schedule(self, *_args) -> None:
        self._timer.start()

    def _force(self, *_args) -> None:
        self._drawn_key = None
        self.schedule()

    def _on_layers_changed(self) -> None:
        for layer in self._layers:
            layer.changed.disconnect(self._force)
        self._layers = list(self.state.tracts)
        for layer in self._layers:
            layer.changed.connect(self._force)
        self._force()

    def is_drawn(self) -> bool:
        """True when the overlay shows the current slice (tests wait on this)."""
        return self._drawn_key is not None and self._drawn_key == self._key()

    def _key(self):
        layout = self.view.plane_layout
        pixels = self.view.view_pixels()
        if layout is None or pixels is None:
            return None
        depth = self.state.cursor_ijk[layout.depth_axis]
        (x0, x1), (y0, y1) = self.view.viewbox.viewRange()
        return (depth, x0, x1, y0, y1, pixels, id(layout))

    def redraw(self) -> None:
        key = self._key()
        shown = [layer for layer in self.state.tracts if layer.visible and layer.index is not None]
        if key is None or not shown:
            self.item.hide()
            self._drawn_key = key
            return
        if key == self._drawn_key:
            return
        self._drawn_key = key
        depth, x0, x1, y0, y1, (cols, rows), _ = key
        viewport = Viewport(x0, y0, x1 - x0, y1 - y0, cols, rows)
        image = self.render(shown, depth, viewport)
        self.item.setImage(image, autoLevels=False)
        self.item.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        self.item.show()

    def render(self, layers: list[TractLayer], depth: int, viewport: Viewport) -> np.ndarray:
        """RGBA pixels of ``layers`` (later ones on top) around slice ``depth``."""
        layout = self.view.plane_layout
        image = None
        for layer in layers:
            segments = layer.segments(layout.depth_axis, depth)
            rgba = layer.colours(segments, lookup_table(layer.style.colormap, alpha=True))
            drawn = rasterize(
                ijk_to_display_mm(layout, segments.start_ijk),
                ijk_to_display_mm(layout, segments.end_ijk),
                rgba,
                viewport,
                layer.style.line_width,
            )
            if image is None:
                image = drawn
            else:
                on_top = drawn[..., 3:] > 0
                image = np.where(on_top, drawn, image)
        return image
