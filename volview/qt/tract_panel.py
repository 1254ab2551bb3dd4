"""TractPanel: the widget inside the "Tractograms" dock.

Owns: the list of loaded tractograms (check box = visible), and for the selected
one: its header summary (like ``trx info``), a note when its grid differs from the
image or its index is being built, the colour mode (direction, solid colour, group,
scalar through a colormap with an adjustable range), opacity, line width, slab
half-width, the streamline cap with "show all", its groups with check boxes and
counts, and Remove. Every control writes to the TractLayer, which redraws the views.
"""

from __future__ import annotations

from volview.core.colormap_names import COLORMAPS
from volview.core.tracts import COLOUR_MODES, DEFAULT_CAP, TractLayer
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
#: preferred width of the dock panel, so the views keep most of the window
PANEL_WIDTH = 420
MODE_LABELS = {
    "direction": "Direction (RGB = |x| |y| |z|)",
    "solid": "Solid colour",
    "group": "By group (bundle)",
    "scalar": "By scalar (dps/dpv)",
}


class TractPanel(QtWidgets.QWidget):
    remove_requested = QtCore.pyqtSignal(object)  # TractLayer

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.layer: TractLayer | None = None
        self.layers = QtWidgets.QListWidget()
        self.layers.setToolTip("Loaded tractograms; untick to hide one")
        self.layers.setMaximumHeight(90)
        self.layers.currentRowChanged.connect(self._on_row)
        self.layers.itemChanged.connect(self._on_layer_checked)
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #d08000")
        self.summary = QtWidgets.QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setToolTip("The tractogram's header: counts, data keys, groups, grid")
        self.summary.setMaximumHeight(140)
        self._build_controls()
        self.groups = QtWidgets.QListWidget()
        self.groups.setToolTip("Bundles stored in the file; untick to hide one")
        self.groups.itemChanged.connect(self._on_group_checked)
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.setToolTip("Close the selected tractogram")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self.layer))
        self._layout()
        state.tracts_changed.connect(self.refresh_layers)
        self.refresh_layers()

    def _build_controls(self) -> None:
        self.mode = QtWidgets.QComboBox()
        for mode in COLOUR_MODES:
            self.mode.addItem(MODE_LABELS[mode], mode)
        self.mode.setToolTip("How streamlines are coloured")
        self.mode.currentIndexChanged.connect(
            lambda: self._set(colour_mode=self.mode.currentData())
        )
        self.colour_button = QtWidgets.QPushButton("Colour\u2026")
        self.colour_button.setToolTip("The solid colour")
        self.colour_button.clicked.connect(self._pick_colour)
        self.scalar = QtWidgets.QComboBox()
        self.scalar.setToolTip("Per-streamline (dps) or per-point (dpv) value to colour by")
        self.scalar.currentIndexChanged.connect(self._on_scalar)
        self.colormap = QtWidgets.QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setToolTip("Colormap for scalar colouring")
        self.colormap.currentTextChanged.connect(lambda name: self._set(colormap=name))
        self.vmin, self.vmax = self._range_box("low"), self._range_box("high")
        self.opacity = QtWidgets.QSlider(Qt.Horizontal)
        self.opacity.setRange(5, 100)
        self.opacity.setToolTip("Opacity of the streamlines")
        self.opacity.valueChanged.connect(lambda v: self._set(opacity=v / 100))
        self.width = QtWidgets.QSpinBox()
        self.width.setRange(1, 9)
        self.width.setSuffix(" px")
        self.width.setToolTip("Line width in screen pixels")
        self.width.valueChanged.connect(lambda v: self._set(line_width=v))
        self.slab = QtWidgets.QDoubleSpinBox()
        self.slab.setRange(0.1, 50)
        self.slab.setSingleStep(0.5)
        self.slab.setSuffix(" voxels")
        self.slab.setToolTip("Draw streamline parts within this distance of the slice, each side")
        self.slab.valueChanged.connect(lambda v: self._set(half_width=float(v)))
        self.cap = QtWidgets.QSpinBox()
        self.cap.setRange(1000, 100_000_000)
        self.cap.setSingleStep(50_000)
        self.cap.setToolTip("At most this many streamlines are drawn (a fixed, even subsample)")
        self.cap.valueChanged.connect(self._on_cap)
        self.show_all = QtWidgets.QCheckBox("show all")
        self.show_all.setToolTip("Draw every streamline (slower on huge files)")
        self.show_all.toggled.connect(self._on_cap)

    def _range_box(self, which: str) -> QtWidgets.QDoubleSpinBox:
        box = QtWidgets.QDoubleSpinBox()
        box.setRange(-1e12, 1e12)
        box.setDecimals(4)
        box.setToolTip(f"Scalar value at the {which} end of the colormap")
        box.editingFinished.connect(self._on_range)
        return box

    def _layout(self) -> None:
        form = QtWidgets.QFormLayout()
        colour_row = QtWidgets.QHBoxLayout()
        colour_row.addWidget(self.mode, 1)
        colour_row.addWidget(self.colour_button)
        form.addRow("Colour", colour_row)
        scalar_row = QtWidgets.QHBoxLayout()
        scalar_row.addWidget(self.scalar, 1)
        scalar_row.addWidget(self.colormap)
        form.addRow("Scalar", scalar_row)
        range_row = QtWidgets.QHBoxLayout()
        range_row.addWidget(self.vmin)
        range_row.addWidget(self.vmax)
        form.addRow("Range", range_row)
        form.addRow("Opacity", self.opacity)
        form.addRow("Line width", self.width)
        form.addRow("Slab \u00b1", self.slab)
        cap_row = QtWidgets.QHBoxLayout()
        cap_row.addWidget(self.cap, 1)
        cap_row.addWidget(self.show_all)
        form.addRow("Cap", cap_row)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.layers)
        box.addWidget(self.note)
        box.addWidget(self.summary)
        box.addLayout(form)
        box.addWidget(QtWidgets.QLabel("Groups"))
        box.addWidget(self.groups, 1)
        box.addWidget(self.remove_button)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(PANEL_WIDTH, 600)

    # -- state -> panel --------------------------------------------------------------
    def refresh_layers(self) -> None:
        current = self.layer
        self.layers.blockSignals(True)
        self.layers.clear()
        for layer in self.state.tracts:
            item = QtWidgets.QListWidgetItem(layer.name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if layer.visible else Qt.Unchecked)
            self.layers.addItem(item)
        self.layers.blockSignals(False)
        tracts = self.state.tracts
        row = tracts.index(current) if current in tracts else len(tracts) - 1
        self.layers.setCurrentRow(row)
        self._on_row(row)

    def _on_row(self, row: int) -> None:
        tracts = self.state.tracts
        self.layer = tracts[row] if 0 <= row < len(tracts) else None
        self.show_layer()

    def show_layer(self) -> None:
        """Put the selected layer's settings into the controls (without echoing back)."""
        layer = self.layer
        self.setEnabled(True)
        for widget in self._controls():
            widget.setEnabled(layer is not None)
            widget.blockSignals(True)
        try:
            if layer is not None:
                self._fill(layer)
            else:
                self.summary.setPlainText("No tractogram loaded. Open a .trx, .tck or .trk file.")
                self.groups.clear()
                self.note.clear()
        finally:
            for widget in self._controls():
                widget.blockSignals(False)

    def _controls(self) -> list[QtWidgets.QWidget]:
        return [
            self.mode, self.colour_button, self.scalar, self.colormap, self.vmin, self.vmax,
            self.opacity, self.width, self.slab, self.cap, self.show_all, self.groups,
            self.remove_button,
        ]  # fmt: skip

    def _fill(self, layer: TractLayer) -> None:
        style = layer.style
        self.summary.setPlainText(layer.tractogram.summary())
        self.set_note(layer)
        self.mode.setCurrentIndex(COLOUR_MODES.index(style.colour_mode))
        self.scalar.clear()
        self.scalar.addItems(layer.scalar_names())
        self.scalar.setCurrentText(style.scalar)
        self.colormap.setCurrentText(style.colormap)
        self.vmin.setValue(style.scalar_range[0])
        self.vmax.setValue(style.scalar_range[1])
        self.opacity.setValue(round(style.opacity * 100))
        self.width.setValue(style.line_width)
        self.slab.setValue(style.half_width)
        self.show_all.setChecked(style.cap is None)
        self.cap.setValue(style.cap or DEFAULT_CAP)
        self.cap.setEnabled(style.cap is not None)
        self.groups.clear()
        counts = layer.group_counts()
        for name in layer.group_names():
            item = QtWidgets.QListWidgetItem(f"{name} ({counts[name]:,})")
            item.setData(Qt.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if layer.group_visible[name] else Qt.Unchecked)
            self.groups.addItem(item)

    def set_note(self, layer: TractLayer, building: str = "") -> None:
        """Say what is going on with ``layer`` (if it is the one shown): indexing, grid."""
        if layer is not self.layer:
            return
        status = building or ("" if layer.index is not None else "not indexed yet")
        self.note.setText(" \u00b7 ".join(p for p in (status, layer.grid_note) if p))

    # -- panel -> layer --------------------------------------------------------------
    def _set(self, **changes) -> None:
        if self.layer is not None:
            self.layer.set_style(**changes)

    def _pick_colour(self) -> None:
        if self.layer is None:
            return
        colour = QtWidgets.QColorDialog.getColor(
            QtGui.QColor(*self.layer.style.solid_rgb), self, "Streamline colour"
        )
        if colour.isValid():
            self._set(solid_rgb=(colour.red(), colour.green(), colour.blue()), colour_mode="solid")
            self.show_layer()

    def _on_scalar(self) -> None:
        if self.layer is not None and self.scalar.currentText():
            self._set(scalar=self.scalar.currentText())
            self.show_layer()  # the range follows the scalar

    def _on_range(self) -> None:
        lo, hi = self.vmin.value(), self.vmax.value()
        if lo < hi:
            self._set(scalar_range=(lo, hi))

    def _on_cap(self, *_args) -> None:
        self.cap.setEnabled(not self.show_all.isChecked())
        self._set(cap=None if self.show_all.isChecked() else self.cap.value())

    def _on_layer_checked(self, item: QtWidgets.QListWidgetItem) -> None:
        self.state.tracts[self.layers.row(item)].set_visible(item.checkState() == Qt.Checked)

    def _on_group_checked(self, item: QtWidgets.QListWidgetItem) -> None:
        if self.layer is not None:
            name = item.data(Qt.UserRole)
            self.layer.set_group_visible(name, item.checkState() == Qt.Checked)
