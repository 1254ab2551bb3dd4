"""OrthoView: the linked slice views plus the histogram / window-level widget.

Owns: which planes are shown (``ortho`` = axial | coronal | sagittal, or one plane),
the pyqtgraph HistogramLUTWidget and its two-way binding to ``ViewerState.window``
and ``ViewerState.colormap``. The histogram shows the strided sample the automatic
window was computed from, never the whole volume.
"""

from __future__ import annotations

import numpy as np

from volview.core.geometry import Plane
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.qt.colormaps import colormap
from volview.qt.compat import QtWidgets, pg
from volview.qt.slice_view import SliceView

LAYOUTS = {
    "ortho": (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL),
    "axial": (Plane.AXIAL,),
    "coronal": (Plane.CORONAL,),
    "sagittal": (Plane.SAGITTAL,),
}
HISTOGRAM_BINS = 200


class OrthoView(QtWidgets.QWidget):
    def __init__(
        self, state: ViewerState, layout: str = "ortho", show_histogram: bool = True, parent=None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.views = {plane: SliceView(state, plane) for plane in LAYOUTS[layout]}
        self.views_panel = QtWidgets.QWidget()
        self.views_panel.setStyleSheet("background-color: #202020")
        row = QtWidgets.QHBoxLayout(self.views_panel)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for view in self.views.values():
            row.addWidget(view)
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.views_panel, stretch=1)
        self.histogram = pg.HistogramLUTWidget(gradientPosition="left")
        self.histogram.setToolTip(
            "Histogram (log counts) of a strided sample of the image. Drag the region or its edges "
            "to set the window; right-click the gradient for colormaps."
        )
        self.histogram.setVisible(show_histogram)
        outer.addWidget(self.histogram)
        hist = self.histogram.item
        hist.sigLevelsChanged.connect(self._on_histogram_levels)
        hist.sigLookupTableChanged.connect(self._on_histogram_lut)
        state.volume_changed.connect(self._on_volume_changed)
        state.window_changed.connect(self._on_window_changed)
        state.colormap_changed.connect(self._on_colormap_changed)
        self._on_colormap_changed(state.colormap)
        if state.volume is not None:
            self._on_volume_changed(state.volume)

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_view()

    # -- state -> histogram ----------------------------------------------------------
    def _on_volume_changed(self, volume) -> None:
        hist = self.histogram.item
        if volume is None:
            hist.plot.setData([], [])
            return
        try:
            values = volume.intensity_sample
        except VolviewError:
            values = np.array([], dtype=np.float32)
        values = values[np.isfinite(values)]
        lo, hi = self.state.window
        if values.size:
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
            centres = (edges[:-1] + edges[1:]) / 2
            hist.plot.setData(centres, np.log1p(counts))  # log: background spikes dominate
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        hist.setHistogramRange(lo, hi)
        self._on_window_changed(*self.state.window)

    def _on_window_changed(self, lo: float, hi: float) -> None:
        if tuple(self.histogram.item.getLevels()) != (lo, hi):
            self.histogram.item.setLevels(lo, hi)

    def _on_colormap_changed(self, name: str) -> None:
        self.histogram.item.gradient.setColorMap(colormap(name))

    # -- histogram -> state ----------------------------------------------------------
    def _on_histogram_levels(self) -> None:
        lo, hi = self.histogram.item.getLevels()
        self.state.set_window(lo, hi)

    def _on_histogram_lut(self) -> None:
        lut = self.histogram.item.gradient.getLookupTable(256, alpha=False)
        for view in self.views.values():
            view.set_lookup_table(lut)
