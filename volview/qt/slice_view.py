"""SliceView: one display plane bound to the ViewerState.

Owns: the pyqtgraph items of one plane (an overview image read with a stride sized
to the widget, a full-resolution detail image of the visible region when zoomed in,
the crosshair and the four orientation labels) and its keys (Up/Down, PageUp/PageDown
step the slice, Shift: x10); the mouse gestures are ``SliceViewBox``'s
(``volview.qt.slice_viewbox``). Planes that a proxy reads in the background (a gzip
stream) show "Reading…" until the proxy's ready listener reports them; a sagittal or
coronal plane streamed in one pass shows its rows read so far (and the percentage)
meanwhile, once the window is no longer a placeholder.

Coordinate space: the ViewBox shows display millimetres (see core.geometry): x grows
right, y grows up, a voxel is ``col_spacing_mm`` x ``row_spacing_mm`` wide.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from volview.core.geometry import Plane, PlaneLayout
from volview.core.slicing import (
    SliceRequest,
    SliceResult,
    detail_ranges,
    extract_partial,
    extract_slice,
    full_plane_request,
    overview_step,
)
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.qt.colormaps import lookup_table
from volview.qt.compat import QtCore, QtGui, QtWidgets, pg
from volview.qt.overlay_items import ImageOverlays
from volview.qt.slice_viewbox import PAGE_STEP, SliceViewBox
from volview.qt.tract_overlay import TractOverlay

Qt = QtCore.Qt
CROSSHAIR_COLOR = (255, 204, 26, 190)  # yellow, ~75 % opaque: never mistaken for a fibre
LABEL_COLOR = QtGui.QColor(255, 255, 255, 220)
MIN_VIEW_PIXELS = 16  # below this the view is not laid out yet
READING = "Reading\u2026"


class SliceView(pg.GraphicsView):
    """One plane of the current volume, with crosshair and orientation labels."""

    read_failed = QtCore.Signal(str)
    #: the user zoomed this view by a factor (< 1: in), for linked zoom
    zoomed = QtCore.Signal(float)
    #: a double click asks to show this view alone, or the whole layout again
    maximise_requested = QtCore.Signal()
    #: a plane asked for in the background has been read (emitted from its thread)
    plane_arrived = QtCore.Signal()

    def __init__(self, state: ViewerState, plane: Plane, parent=None) -> None:
        super().__init__(parent, background="k")
        self.state = state
        self.plane = plane
        self.setFocusPolicy(Qt.StrongFocus)
        self.setToolTip(
            f"{plane.value.capitalize()} view: click to move the cursor, wheel to change "
            "slice, Ctrl+wheel to zoom, middle drag to pan, right drag for window/level"
        )
        self.viewbox = SliceViewBox(self)
        self.setCentralItem(self.viewbox)
        self.overview_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item.setZValue(1)
        self.viewbox.addItem(self.overview_item)
        self.viewbox.addItem(self.detail_item)
        pen = pg.mkPen(CROSSHAIR_COLOR, width=1)
        self.h_line = pg.InfiniteLine(angle=0, pen=pen, movable=False)
        self.v_line = pg.InfiniteLine(angle=90, pen=pen, movable=False)
        for line in (self.h_line, self.v_line):
            line.setZValue(10)
            self.viewbox.addItem(line, ignoreBounds=True)
        self.labels = [self._make_label() for _ in range(4)]  # left, right, bottom, top
        self.image_overlays = ImageOverlays(self)
        self.tract_overlay = TractOverlay(self)
        self.plane_layout: PlaneLayout | None = None
        self._shown: tuple[int, int, int] | None = None  # (depth, t, overview step)
        self._latest_request_id: dict[pg.ImageItem, int] = {}
        #: requests of each image item being read in the background (gzip)
        self._waiting: dict[pg.ImageItem, SliceRequest] = {}
        self._listened = None  # the proxy whose ready listener this view is
        self.reading_label = self._make_label()
        self.reading_label.setText(READING)
        self.reading_label.hide()
        self.plane_arrived.connect(self._on_plane_arrived)
        #: ``handler(view, ijk, phase) -> bool`` offered plain left clicks ("click") and
        #: drags ("start", "move", "finish") before they move the cursor (voxel editing)
        self.edit_handler: Callable[[SliceView, tuple[int, int, int], str], bool] | None = None
        # resizes come in bursts while a window is laid out: read once, at the final size
        self._resize_timer = QtCore.QTimer(self, singleShot=True, interval=0)
        self._resize_timer.timeout.connect(self.refresh)
        self.viewbox.sigResized.connect(self._place_labels)
        self.viewbox.sigResized.connect(self._resize_timer.start)
        self.viewbox.sigRangeChanged.connect(self._refresh_detail)
        state.volume_changed.connect(self._on_volume_changed)
        state.cursor_changed.connect(self._on_cursor_changed)
        state.time_changed.connect(self._on_time_changed)
        state.window_changed.connect(self._on_window_changed)
        state.colormap_changed.connect(self._on_colormap_changed)
        state.voxels_changed.connect(self.reload)
        self.set_lookup_table(None)
        if state.volume is not None:
            self._on_volume_changed(state.volume)

    def _make_label(self) -> QtWidgets.QGraphicsSimpleTextItem:
        label = QtWidgets.QGraphicsSimpleTextItem("", self.viewbox)
        label.setBrush(LABEL_COLOR)
        font = label.font()
        font.setBold(True)
        font.setPointSize(11)
        label.setFont(font)
        label.setZValue(20)
        return label

    # -- state -> view ---------------------------------------------------------------
    def _on_volume_changed(self, volume) -> None:
        self._shown = None
        self._set_waiting(None, None)
        self._listen(None if volume is None else volume.image.proxy)
        self.image_overlays.clear()
        if volume is None:
            self.plane_layout = None
            self.overview_item.clear()
            self.detail_item.clear()
            return
        self.plane_layout = volume.geometry.layout(self.plane)
        for label, text in zip(self.labels, self.plane_layout.labels, strict=True):
            label.setText(text)
        self._place_labels()
        self._on_window_changed(*self.state.window)
        self.reset_view()
        self._on_cursor_changed(self.state.cursor_ijk)

    def _on_cursor_changed(self, ijk) -> None:
        if self.plane_layout is None:
            return
        layout = self.plane_layout
        col, row = layout.voxel_to_display(ijk[layout.col_axis], ijk[layout.row_axis])
        self.v_line.setPos((col + 0.5) * layout.col_spacing_mm)
        self.h_line.setPos((row + 0.5) * layout.row_spacing_mm)
        self.refresh()

    def _on_time_changed(self, _t: int) -> None:
        self.refresh()

    def _on_window_changed(self, lo: float, hi: float) -> None:
        for item in (self.overview_item, self.detail_item):
            item.setLevels((lo, hi))
        for item, request in list(self._waiting.items()):
            self._show_partial(item, request)  # the window was a placeholder until now

    def _on_colormap_changed(self, name: str) -> None:
        self.set_lookup_table(lookup_table(name))

    def set_lookup_table(self, lut: np.ndarray | None) -> None:
        """Colour the plane with ``lut`` (256 x 3 uint8); None means the state's colormap."""
        if lut is None:
            lut = lookup_table(self.state.colormap)
        for item in (self.overview_item, self.detail_item):
            item.setLookupTable(lut)

    # -- reading ---------------------------------------------------------------------
    def view_pixels(self) -> tuple[int, int] | None:
        """Device pixels of the view; None until it is shown and laid out."""
        if not self.isVisible():
            return None
        ratio = self.devicePixelRatioF()
        w, h = self.viewbox.width() * ratio, self.viewbox.height() * ratio
        if w < MIN_VIEW_PIXELS or h < MIN_VIEW_PIXELS:
            return None
        return int(w), int(h)

    def has_planes(self) -> bool:
        """True once the current slice has been read and shown."""
        return self._shown is not None and not self._waiting

    def _listen(self, proxy) -> None:
        """Be told when ``proxy`` (a plane cache) has read a plane in the background."""
        if self._listened is not None:
            self._listened.remove_ready_listener(self.plane_arrived.emit)
        self._listened = proxy if hasattr(proxy, "add_ready_listener") else None
        if self._listened is not None:
            self._listened.add_ready_listener(self.plane_arrived.emit)

    def _set_waiting(self, item: pg.ImageItem | None, request: SliceRequest | None) -> None:
        if item is None:
            self._waiting.clear()
        elif request is None:
            self._waiting.pop(item, None)
        else:
            self._waiting[item] = request
        self.reading_label.setVisible(bool(self._waiting))
        if not self._waiting:
            self.reading_label.setText(READING)

    def _on_plane_arrived(self) -> None:
        for item, request in list(self._waiting.items()):
            if self._show(item, request) and item is self.detail_item:
                self.detail_item.show()

    def refresh(self) -> None:
        """Re-read the planes if the slice, volume index or resolution changed.

        A view that is not laid out yet reads nothing: the stride depends on its
        size, and its first resize calls this again.
        """
        pixels = self.view_pixels()
        if self.plane_layout is None or self.state.volume is None or pixels is None:
            return
        depth = self.state.cursor_ijk[self.plane_layout.depth_axis]
        step = overview_step(self.plane_layout, *pixels)
        shown = (depth, self.state.t, step)
        if shown == self._shown:
            return
        self._shown = shown
        request = full_plane_request(self.plane_layout, depth, self.state.t, step)
        self._show(self.overview_item, request)
        self._refresh_detail()

    def _refresh_detail(self) -> None:
        if self.plane_layout is None or self._shown is None:
            return
        depth, t, overview = self._shown
        pixels = self.view_pixels()
        if pixels is None:
            return
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        ranges = detail_ranges(self.plane_layout, (x0, y0, x1 - x0, y1 - y0), *pixels)
        if ranges is None or ranges[0].step >= overview:
            self.detail_item.hide()
            self._set_waiting(self.detail_item, None)
            self.image_overlays.hide_detail()
            return
        request = SliceRequest(self.plane_layout, depth, t, ranges[0], ranges[1])
        if self._show(self.detail_item, request):
            self.detail_item.show()

    def _show(self, item: pg.ImageItem, request: SliceRequest) -> bool:
        """Read ``request`` and show it in ``item``; False if it failed, or is being
        read in the background (``plane_arrived`` shows it then)."""
        self._latest_request_id[item] = request.request_id
        self._set_waiting(item, None)
        try:
            result = extract_slice(self.state.volume.image.proxy, request, wait=False)
        except VolviewError as exc:
            self.read_failed.emit(str(exc))
            return False
        if result is None:
            self._set_waiting(item, request)
            self._show_partial(item, request)
            return False
        if not self._apply(item, result):
            return False
        self.state.volume.seen.note(result.pixels)
        kind = "detail" if item is self.detail_item else "overview"
        self.image_overlays.show(kind, request, result.rect_mm)
        return True

    def _show_partial(self, item: pg.ImageItem, request: SliceRequest) -> None:
        """Show the part of ``request`` read so far, while a pass over a compressed
        stream reads it (rows appear as the pass goes), and say how far it is."""
        found = extract_partial(self.state.volume.image.proxy, request)
        if found is None:
            return
        result, fraction = found
        self.reading_label.setText(f"{READING} {fraction:.0%}")
        if self.state.window_settled and self._apply(item, result) and item is self.detail_item:
            self.detail_item.show()

    def _apply(self, item: pg.ImageItem, result: SliceResult) -> bool:
        if result.request_id < self._latest_request_id.get(item, 0):
            return False  # a newer request superseded this one
        item.setImage(result.pixels, autoLevels=False, levels=self.state.window)
        item.setRect(QtCore.QRectF(*result.rect_mm))
        return True

    # -- gestures --------------------------------------------------------------------
    def voxel_at(self, point: QtCore.QPointF) -> tuple[int, int, int] | None:
        """The voxel ``ijk`` under ``point`` (display mm, clamped to the plane) on the
        current slice; None before a volume is shown."""
        if self.plane_layout is None:
            return None
        layout = self.plane_layout
        col = min(max(math.floor(point.x() / layout.col_spacing_mm), 0), layout.n_cols - 1)
        row = min(max(math.floor(point.y() / layout.row_spacing_mm), 0), layout.n_rows - 1)
        v_col, v_row = layout.display_to_voxel(col, row)
        ijk = list(self.state.cursor_ijk)
        ijk[layout.col_axis], ijk[layout.row_axis] = v_col, v_row
        return tuple(ijk)

    def move_cursor_to(self, point: QtCore.QPointF) -> None:
        """Put the cursor on the voxel under ``point`` (display mm), keeping the slice."""
        ijk = self.voxel_at(point)
        if ijk is not None:
            self.state.set_cursor(ijk)

    def reload(self) -> None:
        """Read the shown planes again (their voxel values changed)."""
        self._shown = None
        self.refresh()

    def step_slice(self, n_steps: int) -> None:
        self.state.step_slice(self.plane, n_steps)

    def cursor_mm(self) -> QtCore.QPointF | None:
        """Where the crosshair crosses, in display mm."""
        if self.plane_layout is None:
            return None
        return QtCore.QPointF(self.v_line.value(), self.h_line.value())

    def zoom_about_cursor(self, factor: float) -> None:
        """Scale the view by ``factor`` (< 1 zooms in) keeping the crosshair in place."""
        centre = self.cursor_mm()
        if centre is not None:
            self.viewbox.scaleBy(x=factor, y=factor, center=centre)

    def centre_on_cursor(self) -> None:
        """Pan so that the crosshair is in the middle of the view (zoom kept)."""
        centre = self.cursor_mm()
        if centre is not None:
            (x0, x1), (y0, y1) = self.viewbox.viewRange()
            self.viewbox.translateBy(x=centre.x() - (x0 + x1) / 2, y=centre.y() - (y0 + y1) / 2)

    def set_crosshair(self, visible: bool, colour: QtGui.QColor | None = None) -> None:
        for line in (self.h_line, self.v_line):
            line.setVisible(visible)
            if colour is not None:
                line.setPen(pg.mkPen(colour, width=1))

    def mouseDoubleClickEvent(self, ev: QtGui.QMouseEvent) -> None:
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.maximise_requested.emit()
        else:
            super().mouseDoubleClickEvent(ev)

    def reset_view(self) -> None:
        if self.plane_layout is not None:
            w, h = self.plane_layout.size_mm
            self.viewbox.setRange(QtCore.QRectF(0, 0, w, h), padding=0.02)

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        steps = {
            Qt.Key_Up: 1,
            Qt.Key_PageUp: 1,
            Qt.Key_Right: 1,
            Qt.Key_Down: -1,
            Qt.Key_PageDown: -1,
            Qt.Key_Left: -1,
        }.get(ev.key())
        if steps is None or self.plane_layout is None:
            super().keyPressEvent(ev)
            return
        factor = PAGE_STEP if ev.modifiers() & Qt.ShiftModifier else 1
        self.step_slice(steps * factor)
        ev.accept()

    def enterEvent(self, ev) -> None:
        self.setFocus(Qt.MouseFocusReason)  # keys act on the view under the pointer
        super().enterEvent(ev)

    def _place_labels(self) -> None:
        rect = self.viewbox.rect()
        w, h, margin = rect.width(), rect.height(), 4
        left, right, bottom, top = (label.boundingRect() for label in self.labels)
        self.labels[0].setPos(margin, (h - left.height()) / 2)
        self.labels[1].setPos(w - right.width() - margin, (h - right.height()) / 2)
        self.labels[2].setPos((w - bottom.width()) / 2, h - bottom.height() - margin)
        self.labels[3].setPos((w - top.width()) / 2, margin)
        self.reading_label.setPos(margin, margin)  # a corner: clear of the crosshair
