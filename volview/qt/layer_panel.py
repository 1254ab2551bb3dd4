"""LayerPanel: the widget inside the "Layers" dock.

Owns: the list of image layers, top of the stack first and the base image last
(check box = visible), and for the selected one: opacity, colormap, window (low,
high, "Auto"), threshold (show values above / below / outside +-value, the rest
transparent), label colouring, the range of the values shown so far, and the
buttons Add overlay, Up, Down and Remove. The selected row is the state's active
layer (the colour bar and right-drag set its window). Overlay controls write to the ImageLayer;
the base image's colormap and window are the ViewerState's. Image files dropped
on the panel open as overlays.
"""

from __future__ import annotations

from volview.core.colormap_names import COLORMAPS, LABELS
from volview.core.layers import THRESHOLD_MODES, ImageLayer
from volview.core.volume import robust_range
from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt
THRESHOLD_LABELS = {
    "none": "Show all values",
    "above": "Show values \u2265 threshold",
    "below": "Show values \u2264 threshold",
    "outside": "Show |value| \u2265 threshold",
}
BASE = "base"


class LayerPanel(QtWidgets.QWidget):
    add_requested = QtCore.pyqtSignal()
    files_dropped = QtCore.pyqtSignal(list)  # paths, to open as overlays

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.layer: ImageLayer | None = None  # None: the base image (or nothing)
        self.setAcceptDrops(True)
        self.layers = QtWidgets.QListWidget()
        self.layers.setToolTip("Image layers, top first; the base image is last. Untick to hide.")
        self.layers.setMaximumHeight(130)
        self.layers.currentRowChanged.connect(self._on_row)
        self.layers.itemChanged.connect(self._on_checked)
        self._build_controls()
        self._layout()
        state.overlays_changed.connect(self.refresh_layers)
        state.volume_changed.connect(lambda _v: self.refresh_layers())
        state.window_changed.connect(lambda *_a: self.show_layer())
        state.colormap_changed.connect(lambda _n: self.show_layer())
        state.active_layer_changed.connect(self._on_active_layer)
        self._seen_source = None  # the SeenRange the "Seen" label follows
        self.refresh_layers()

    def _build_controls(self) -> None:
        self.opacity = QtWidgets.QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Opacity of the selected overlay")
        self.opacity.valueChanged.connect(lambda v: self._set(opacity=v / 100))
        self.colormap = QtWidgets.QComboBox()
        for name in COLORMAPS:
            self.colormap.addItem(LABELS[name], name)
        self.colormap.setToolTip("Colormap of the selected layer")
        self.colormap.currentIndexChanged.connect(self._on_colormap)
        self.low, self.high = self._number_box("low end"), self._number_box("high end")
        self.auto_button = QtWidgets.QPushButton("Auto")
        self.auto_button.setToolTip("Window from the 2nd-98th percentile of a strided sample")
        self.auto_button.clicked.connect(self._on_auto)
        self.threshold_mode = QtWidgets.QComboBox()
        for mode in THRESHOLD_MODES:
            self.threshold_mode.addItem(THRESHOLD_LABELS[mode], mode)
        self.threshold_mode.setToolTip("Hide values on one side of the threshold (transparent)")
        self.threshold_mode.currentIndexChanged.connect(
            lambda: self._set(threshold_mode=self.threshold_mode.currentData())
        )
        self.threshold = self._number_box("threshold")
        self.labels = QtWidgets.QCheckBox("Label colours (0 transparent)")
        self.labels.setToolTip("Colour each integer value with its own stable colour")
        self.labels.toggled.connect(lambda on: self._set(labels=on))
        self.seen = QtWidgets.QLabel()
        self.seen.setToolTip("Smallest and largest values of the planes shown so far")
        self.add_button = self._button(
            "Add\u2026", "Open an image over this one", self.add_requested.emit
        )
        self.up_button = self._button(
            "Up", "Draw the overlay above the next one", lambda: self._move(1)
        )
        self.down_button = self._button("Down", "Draw the overlay below", lambda: self._move(-1))
        self.remove_button = self._button("Remove", "Close the selected overlay", self._remove)

    def _number_box(self, what: str) -> QtWidgets.QDoubleSpinBox:
        box = QtWidgets.QDoubleSpinBox()
        box.setRange(-1e12, 1e12)
        box.setDecimals(4)
        box.setKeyboardTracking(False)
        box.setToolTip(f"The {what} of the selected layer, in data units")
        box.valueChanged.connect(self._on_numbers)
        return box

    def _button(self, text: str, tip: str, slot) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _layout(self) -> None:
        form = QtWidgets.QFormLayout()
        form.addRow("Opacity", self.opacity)
        form.addRow("Colormap", self.colormap)
        window_row = QtWidgets.QHBoxLayout()
        for widget in (self.low, self.high, self.auto_button):
            window_row.addWidget(widget)
        form.addRow("Window", window_row)
        form.addRow("Threshold", self.threshold_mode)
        form.addRow("", self.threshold)
        form.addRow("", self.labels)
        form.addRow("Seen", self.seen)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.add_button, self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(button)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.layers)
        box.addLayout(buttons)
        box.addLayout(form)
        box.addStretch(1)

    # -- state -> panel --------------------------------------------------------------
    def rows(self) -> list[ImageLayer | str]:
        """What each row of the list shows: overlays top first, then the base image."""
        return [*reversed(self.state.overlays), *([BASE] if self.state.volume else [])]

    def refresh_layers(self) -> None:
        current = self.layer
        self.layers.blockSignals(True)
        self.layers.clear()
        for row in self.rows():
            if row == BASE:
                item = QtWidgets.QListWidgetItem(f"{self.state.volume.name} (base image)")
            else:
                item = QtWidgets.QListWidgetItem(row.name)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if row.style.visible else Qt.Unchecked)
            self.layers.addItem(item)
        self.layers.blockSignals(False)
        rows = self.rows()
        self.layers.setCurrentRow(rows.index(current) if current in rows else 0)
        self._on_row(self.layers.currentRow())

    def _on_row(self, row: int) -> None:
        rows = self.rows()
        chosen = rows[row] if 0 <= row < len(rows) else None
        layer = chosen if isinstance(chosen, ImageLayer) else None
        if layer is not self.layer and self.layer is not None:
            self.layer.changed.disconnect(self.show_layer)
        if layer is not self.layer and layer is not None:
            layer.changed.connect(self.show_layer)  # right-drag and the colour bar
        self.layer = layer
        self.state.set_active_overlay(layer)
        self.show_layer()

    def _on_active_layer(self, layer: ImageLayer | None) -> None:
        row = layer if layer is not None else BASE
        if layer is not self.layer and row in self.rows():
            self.layers.setCurrentRow(self.rows().index(row))

    def show_layer(self) -> None:
        """Put the selected layer's settings into the controls (without echoing back)."""
        widgets = self._controls()
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self._fill()
        finally:
            for widget in widgets:
                widget.blockSignals(False)

    def _controls(self) -> list[QtWidgets.QWidget]:
        return [
            self.opacity, self.colormap, self.low, self.high, self.auto_button,
            self.threshold_mode, self.threshold, self.labels, self.up_button,
            self.down_button, self.remove_button,
        ]  # fmt: skip

    def _fill(self) -> None:
        layer, has_base = self.layer, self.state.volume is not None
        overlay_only = (self.opacity, self.threshold_mode, self.threshold, self.labels)
        for widget in (*overlay_only, self.up_button, self.down_button, self.remove_button):
            widget.setEnabled(layer is not None)
        for widget in (self.colormap, self.low, self.high, self.auto_button):
            widget.setEnabled(has_base and not (layer is not None and layer.style.labels))
        self.add_button.setEnabled(has_base)
        if layer is None:
            self.colormap.setCurrentIndex(COLORMAPS.index(self.state.colormap))
            self._show_window(self.state.window)
            self._follow_seen()
            return
        style = layer.style
        self.opacity.setValue(round(style.opacity * 100))
        self.colormap.setCurrentIndex(COLORMAPS.index(style.colormap))
        self._show_window(style.window)
        self.threshold_mode.setCurrentIndex(THRESHOLD_MODES.index(style.threshold_mode))
        self.threshold.setValue(style.threshold)
        self.threshold.setEnabled(style.threshold_mode != "none")
        self.labels.setChecked(style.labels)
        self._follow_seen()

    def _follow_seen(self) -> None:
        """Keep the "Seen" label on the selected layer's range as planes are shown."""
        volume = self.layer.volume if self.layer is not None else self.state.volume
        source = volume.seen if volume is not None else None
        if source is not self._seen_source:
            if self._seen_source is not None:
                self._seen_source.changed.disconnect(self._show_seen)
            if source is not None:
                source.changed.connect(self._show_seen)
            self._seen_source = source
        self._show_seen()

    def _show_seen(self) -> None:
        source = self._seen_source
        self.seen.setText(_range_text(source.range if source is not None else None))

    def _show_window(self, window: tuple[float, float]) -> None:
        self.low.setValue(window[0])
        self.high.setValue(window[1])

    # -- panel -> layers -------------------------------------------------------------
    def _set(self, **changes) -> None:
        if self.layer is not None:
            self.layer.set_style(**changes)
            self.show_layer()

    def _on_colormap(self) -> None:
        name = self.colormap.currentData()
        if self.layer is None:
            self.state.set_colormap(name)
        else:
            self._set(colormap=name)

    def _on_numbers(self, *_args) -> None:
        lo, hi = self.low.value(), self.high.value()
        if self.layer is None:
            if lo < hi and self.state.volume is not None:
                self.state.set_window(lo, hi)
            return
        changes = {"threshold": self.threshold.value()}
        if lo < hi:
            changes["window"] = (lo, hi)
        self._set(**changes)

    def _on_auto(self) -> None:
        target = self.layer.volume if self.layer is not None else self.state.volume
        if target is None:
            return
        window = robust_range(target.intensity_sample)
        if self.layer is None:
            self.state.set_window(*window)
        else:
            self._set(window=window)

    def _on_checked(self, item: QtWidgets.QListWidgetItem) -> None:
        row = self.rows()[self.layers.row(item)]
        if isinstance(row, ImageLayer):
            row.set_style(visible=item.checkState() == Qt.Checked)

    def _move(self, steps: int) -> None:
        if self.layer is not None:
            self.state.move_overlay(self.layer, steps)

    def _remove(self) -> None:
        if self.layer is not None:
            self.state.remove_overlay(self.layer)

    # -- drops -------------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:
        if any(url.isLocalFile() for url in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev) -> None:
        paths = [url.toLocalFile() for url in ev.mimeData().urls() if url.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.files_dropped.emit(paths)


def _range_text(seen: tuple[float, float] | None) -> str:
    return "nothing shown yet" if seen is None else f"{seen[0]:.6g} \u2026 {seen[1]:.6g}"
