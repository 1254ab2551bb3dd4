"""TimeCoursePlot: the plot of one voxel through all volumes, with a marker at the
current volume; a click in it picks the nearest volume.

Owns: the curve (dots too when there are few volumes), the marker line and the
click-to-volume mapping. Coordinate space: the x axis is ``core.timecourse.time_axis``
(seconds, or 1-based volume numbers); ``volume_clicked`` carries a 0-based index.
"""

from __future__ import annotations

import numpy as np

from volview.core.timecourse import nearest_volume
from volview.qt.compat import QtCore, pg

Qt = QtCore.Qt
CURVE_COLOR = (120, 190, 255)
MARKER_COLOR = (255, 204, 26, 200)  # the crosshair's yellow: "where the views are"
#: draw a dot at each volume when there are this few (a line alone hides them)
MAX_VOLUMES_WITH_DOTS = 60
PLOT_HEIGHT = 140  # the default window is wide and low: the views come first


class TimeCoursePlot(pg.PlotWidget):
    """The time course of one voxel, a marker at the current volume; a click picks one.

    ``volume_clicked`` carries the 0-based index of the volume nearest to a left click
    inside the plot area.
    """

    volume_clicked = QtCore.Signal(int)
    shown = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "Time course of the voxel under the cursor; the yellow line marks the volume "
            "shown. Click to show the nearest volume; drag to pan, wheel to zoom."
        )
        self.setMinimumHeight(90)
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("left", "value")
        self.curve = item.plot(pen=pg.mkPen(CURVE_COLOR, width=1.5))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(MARKER_COLOR))
        item.addItem(self.marker, ignoreBounds=True)
        self.x_values = np.zeros(0)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(400, PLOT_HEIGHT)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.shown.emit()

    def set_axis(self, x_values: np.ndarray, label: str) -> None:
        """The x value of each volume (see ``core.timecourse.time_axis``) and its label."""
        self.x_values = np.asarray(x_values, dtype=np.float64)
        self.getPlotItem().setLabel("bottom", label)

    def set_series(self, values: np.ndarray) -> None:
        """Plot one value per volume (``len(values)`` must match the axis)."""
        dots = len(values) <= MAX_VOLUMES_WITH_DOTS
        self.curve.setData(
            self.x_values,
            values,
            symbol="o" if dots else None,
            symbolSize=5,
            symbolPen=None,
            symbolBrush=CURVE_COLOR,
        )
        self.getPlotItem().enableAutoRange()

    def clear_series(self) -> None:
        self.curve.setData([], [])

    def set_current(self, t: int) -> None:
        """Move the marker to volume ``t`` (0-based)."""
        if 0 <= t < len(self.x_values):
            self.marker.setPos(self.x_values[t])

    def select_at(self, x: float) -> int:
        """Emit ``volume_clicked`` for the volume nearest to plot coordinate ``x``."""
        t = nearest_volume(self.x_values, x)
        self.volume_clicked.emit(t)
        return t

    def _on_scene_clicked(self, ev) -> None:
        if ev.button() != Qt.LeftButton or ev.double() or len(self.x_values) == 0:
            return
        viewbox = self.getPlotItem().getViewBox()
        if not viewbox.sceneBoundingRect().contains(ev.scenePos()):
            return  # on an axis or the title, not on the plot
        ev.accept()
        self.select_at(viewbox.mapSceneToView(ev.scenePos()).x())
