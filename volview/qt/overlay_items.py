"""ImageOverlays: the overlay images drawn in one SliceView.

Owns: two pyqtgraph ImageItems per image layer of ``ViewerState.overlays`` — one on
the view's strided overview of the whole plane, one on its full-resolution detail of
the zoomed-in region (the two are never shown at once, so a translucent overlay is
blended once) — and re-colouring them when a layer's style changes.
Coordinate space: the same display millimetres as the base image's items; each
overlay plane is resampled onto the base request's pixels (``core.layers``).
"""

from __future__ import annotations

from volview.core.layers import ImageLayer, colourise
from volview.core.slicing import SliceRequest
from volview.errors import VolviewError
from volview.qt.colormaps import lookup_table
from volview.qt.compat import QtCore, pg

#: z of the first overlay; tractograms are drawn at 5, the crosshair at 10
OVERLAY_Z = 2.0
KINDS = ("overview", "detail")


class ImageOverlays(QtCore.QObject):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.state = view.state
        self._items: dict[ImageLayer, dict[str, pg.ImageItem]] = {}
        self._callbacks: dict[ImageLayer, object] = {}
        self._shown: dict[str, tuple[SliceRequest, tuple] | None] = dict.fromkeys(KINDS)
        self.detail_active = False
        self.state.overlays_changed.connect(self._on_layers_changed)
        self._on_layers_changed()

    def items(self, layer: ImageLayer) -> dict[str, pg.ImageItem]:
        """The overview and detail items of ``layer`` (for tests and screenshots)."""
        return self._items[layer]

    def show(self, kind: str, request: SliceRequest, rect_mm: tuple) -> None:
        """Draw every overlay on the pixels of the base image's ``request``."""
        self._shown[kind] = (request, rect_mm)
        if kind == "detail":
            self.detail_active = True
        for layer in self._items:
            self._draw(layer, kind)
        self._update_visibility()

    def hide_detail(self) -> None:
        self.detail_active = False
        self._shown["detail"] = None
        self._update_visibility()

    def clear(self) -> None:
        self._shown = dict.fromkeys(KINDS)
        self.detail_active = False
        for items in self._items.values():
            for item in items.values():
                item.clear()
        self._update_visibility()

    def _on_layers_changed(self) -> None:
        current = self.state.overlays
        for layer in [layer for layer in self._items if layer not in current]:
            layer.changed.disconnect(self._callbacks.pop(layer))
            for item in self._items.pop(layer).values():
                self.view.viewbox.removeItem(item)
        for layer in current:
            if layer not in self._items:
                self._add(layer)
        for order, layer in enumerate(current):
            for n, item in enumerate(self._items[layer].values()):
                item.setZValue(OVERLAY_Z + 0.01 * order + 0.005 * n)
        self._update_visibility()

    def _add(self, layer: ImageLayer) -> None:
        items = {kind: pg.ImageItem(axisOrder="row-major") for kind in KINDS}
        for item in items.values():
            self.view.viewbox.addItem(item, ignoreBounds=True)
        self._items[layer] = items
        self._callbacks[layer] = lambda: self._on_layer_changed(layer)
        layer.changed.connect(self._callbacks[layer])
        for kind in KINDS:
            if self._shown[kind] is not None:
                self._draw(layer, kind)

    def _on_layer_changed(self, layer: ImageLayer) -> None:
        for kind in KINDS:
            if self._shown[kind] is not None:
                self._draw(layer, kind)
        self._update_visibility()

    def _draw(self, layer: ImageLayer, kind: str) -> None:
        request, rect_mm = self._shown[kind]
        item = self._items[layer][kind]
        if not layer.style.visible or self.state.volume is None:
            return
        try:
            values = layer.plane(self.state.volume.image.affine, request)
        except VolviewError as exc:
            layer.set_style(visible=False)
            self.view.read_failed.emit(str(exc))
            return
        if values is None:  # its voxels are being copied into RAM: drawn once they are
            item.clear()
            return
        rgba = colourise(values, layer.style, lookup_table)
        item.setImage(rgba, autoLevels=False)
        item.setRect(QtCore.QRectF(*rect_mm))

    def _update_visibility(self) -> None:
        for layer, items in self._items.items():
            for kind, item in items.items():
                active = (kind == "detail") == self.detail_active
                item.setVisible(layer.style.visible and active and self._shown[kind] is not None)
