"""ColourBar: the histogram, colour gradient and window of the selected layer.

Owns: a pyqtgraph HistogramLUTWidget bound both ways to the window of
``ViewerState.window_layer()`` (the selected overlay, or the base image when nothing
or a label overlay is selected), a title naming that layer, and a right-click menu
on the gradient that sets that layer's colormap. The histogram shows the strided
sample the automatic window was computed from (``Volume.intensity_sample``), never
the whole volume. Values are in the layer's scaled data units.
"""

from __future__ import annotations

import numpy as np

from volview.core.colormap_names import COLORMAPS, LABELS
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.io.proxy import READ_ERRORS
from volview.qt.colormaps import colormap
from volview.qt.compat import QtCore, QtWidgets, pg

HISTOGRAM_BINS = 200
Qt = QtCore.Qt


class ColourBar(QtWidgets.QWidget):
    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.layer = None  # the ImageLayer shown, None for the base image
        self._watched = None  # the selected overlay, whose changes may switch the layer
        self._gradient_name: str | None = None  # the colormap the gradient shows
        self._histogram_pending = False  # its sample is being read in the background
        self.title = QtWidgets.QLabel()
        self.title.setAlignment(Qt.AlignCenter)
        self.title.setWordWrap(True)
        self.title.setMaximumWidth(120)
        self.histogram = pg.HistogramLUTWidget(gradientPosition="left")
        self.setToolTip(
            "Colour bar of the selected layer: the histogram (log counts) of a strided "
            "sample, and its window. Drag the region or its edges to set the window; "
            "right-click the gradient for colormaps. Select a layer in the Layers panel."
        )
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.title)
        box.addWidget(self.histogram, stretch=1)
        item = self.histogram.item
        item.sigLevelsChanged.connect(self._on_levels_dragged)
        item.gradient.menu = self._colormap_menu()  # pyqtgraph shows ``menu`` on right-click
        for signal in (state.volume_changed, state.active_layer_changed, state.overlays_changed):
            signal.connect(self._follow)
        state.window_changed.connect(lambda *_a: self._show_style())
        state.colormap_changed.connect(lambda _n: self._show_style())
        self._follow()

    def _colormap_menu(self) -> QtWidgets.QMenu:
        menu = QtWidgets.QMenu(self)
        for name in COLORMAPS:
            action = menu.addAction(LABELS[name])
            action.triggered.connect(lambda _checked=False, n=name: self.set_colormap(n))
        return menu

    # -- state -> bar ----------------------------------------------------------------
    def _follow(self, *_args) -> None:
        """Show the layer whose window is being set (after a selection or a change)."""
        watched = self.state.active_overlay
        if watched is not self._watched:
            if self._watched is not None:
                self._watched.changed.disconnect(self._on_layer_changed)
            if watched is not None:
                watched.changed.connect(self._on_layer_changed)
            self._watched = watched
        self.layer = self.state.window_layer()
        volume = self.state.volume if self.layer is None else self.layer.volume
        self.title.setText("" if volume is None else volume.name)
        self._show_histogram(volume)
        self._show_style()

    def _on_layer_changed(self) -> None:
        if self.state.window_layer() is not self.layer:  # label colours on or off
            self._follow()
        else:
            self._show_style()

    def _show_histogram(self, volume) -> None:
        item = self.histogram.item
        if volume is None:
            item.plot.setData([], [])
            return
        try:
            values = volume.sample_if_ready()
        except (VolviewError, *READ_ERRORS):
            values = np.array([], dtype=np.float32)
        self._histogram_pending = values is None
        if values is None:  # read in the background: ``refresh_if_pending`` shows it
            values = np.array([], dtype=np.float32)
        values = values[np.isfinite(values)]
        lo, hi = self.state.active_window()
        if values.size:
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
            centres = (edges[:-1] + edges[1:]) / 2
            item.plot.setData(centres, np.log1p(counts))  # log: background spikes dominate
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        else:
            item.plot.setData([], [])
        item.setHistogramRange(lo, hi)

    def refresh_if_pending(self) -> None:
        """Draw the histogram if its sample was still being read when last shown."""
        if self._histogram_pending:
            self._show_histogram(self.state.volume if self.layer is None else self.layer.volume)

    def _show_style(self) -> None:
        item = self.histogram.item
        name = self.state.colormap if self.layer is None else self.layer.style.colormap
        if name != self._gradient_name:  # not on every window change of a drag
            self._gradient_name = name
            with QtCore.QSignalBlocker(item):
                item.gradient.setColorMap(colormap(name))
                item.gradient.showTicks(False)  # a gradient is picked by name, not edited
        lo, hi = self.state.active_window()
        if tuple(item.getLevels()) != (lo, hi):
            item.setLevels(lo, hi)

    # -- bar -> state ----------------------------------------------------------------
    def _on_levels_dragged(self) -> None:
        if self.state.volume is not None:
            self.state.set_active_window(*self.histogram.item.getLevels())

    def set_colormap(self, name: str) -> None:
        """Colour the layer shown with the colormap ``name``."""
        if self.layer is None:
            self.state.set_colormap(name)
        else:
            self.layer.set_style(colormap=name)
