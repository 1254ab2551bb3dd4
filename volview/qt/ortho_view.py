"""OrthoView: the linked slice views, their arrangement and the colour bar.

Owns: which planes are shown (``ortho`` = axial | coronal | sagittal, or one plane),
how they are arranged (a 1x3 row, or a 2x2 grid whose fourth cell holds the info
pane or another widget such as the time course; one view alone), linked zoom, the
crosshair's look, and the colour bar of the selected layer (``ColourBar``).
"""

from __future__ import annotations

import html

from volview.core.geometry import Plane
from volview.core.state import ViewerState
from volview.qt.colour_bar import ColourBar
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.slice_view import SliceView

LAYOUTS = {
    "ortho": (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL),
    "grid": (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL),
    "axial": (Plane.AXIAL,),
    "coronal": (Plane.CORONAL,),
    "sagittal": (Plane.SAGITTAL,),
}
#: (row, column) of each plane: a 1x3 row, or a 2x2 grid with the info pane last
ARRANGEMENTS = {
    "row": {Plane.AXIAL: (0, 0), Plane.CORONAL: (0, 1), Plane.SAGITTAL: (0, 2)},
    "grid": {Plane.CORONAL: (0, 0), Plane.SAGITTAL: (0, 1), Plane.AXIAL: (1, 0)},
}
Qt = QtCore.Qt


class OrthoView(QtWidgets.QWidget):
    def __init__(
        self, state: ViewerState, layout: str = "ortho", show_histogram: bool = True, parent=None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.views = {plane: SliceView(state, plane) for plane in LAYOUTS[layout]}
        self.views_panel = QtWidgets.QWidget()
        self.views_panel.setStyleSheet("background-color: #202020")
        self.grid = QtWidgets.QGridLayout(self.views_panel)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.info_pane = InfoPane(state)
        self.cell_widget: QtWidgets.QWidget | None = None  # shown instead of the info pane
        self.arrangement = "grid" if layout == "grid" else "row"
        self.maximised: Plane | None = None
        self.link_zoom = True
        for view in self.views.values():
            view.zoomed.connect(lambda factor, source=view: self._on_zoomed(source, factor))
            view.maximise_requested.connect(lambda plane=view.plane: self.toggle_maximised(plane))
            view.plane_arrived.connect(self._on_plane_arrived)
        self._arrange()
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.views_panel, stretch=1)
        self.colour_bar = ColourBar(state)
        self.colour_bar.setVisible(show_histogram)
        outer.addWidget(self.colour_bar)

    def _on_plane_arrived(self) -> None:
        """A plane read in the background may hold the cursor's value or the sample."""
        self.info_pane.refresh()
        self.colour_bar.refresh_if_pending()

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_view()

    # -- arrangement and view-wide settings ------------------------------------------
    def set_arrangement(self, name: str) -> None:
        """Show the three planes in a 1x3 "row" or a 2x2 "grid" (info pane fourth)."""
        if name not in ARRANGEMENTS:
            raise ValueError(f"arrangement must be one of {tuple(ARRANGEMENTS)}, not {name!r}")
        self.arrangement, self.maximised = name, None
        self._arrange()

    def set_cell_widget(self, widget: QtWidgets.QWidget | None) -> None:
        """Show ``widget`` in the grid's fourth cell instead of the info pane (None:
        the info pane again). The widget stays owned by whoever made it."""
        if widget is not self.cell_widget:
            if self.cell_widget is not None:
                self.grid.removeWidget(self.cell_widget)
                self.cell_widget.hide()
            self.cell_widget = widget
            self._arrange()

    def fourth_cell(self) -> QtWidgets.QWidget | None:
        """The widget in the grid's fourth cell (None unless the grid is shown)."""
        if self.maximised is not None or self.arrangement != "grid" or len(self.views) < 3:
            return None
        return self.cell_widget or self.info_pane

    def toggle_maximised(self, plane: Plane) -> None:
        """Show ``plane`` alone, or, if it is shown alone, the whole arrangement again."""
        self.maximised = None if self.maximised == plane else plane
        self._arrange()

    def _arrange(self) -> None:
        cell = self.fourth_cell()
        for widget in (*self.views.values(), self.info_pane, self.cell_widget):
            if widget is not None:
                self.grid.removeWidget(widget)
                widget.hide()
        if self.maximised is not None or len(self.views) == 1:
            plane = self.maximised or next(iter(self.views))
            self.grid.addWidget(self.views[plane], 0, 0)
            self.views[plane].show()
            return
        for plane, (row, column) in ARRANGEMENTS[self.arrangement].items():
            self.grid.addWidget(self.views[plane], row, column)
            self.views[plane].show()
        if cell is not None:
            self.grid.addWidget(cell, 1, 1)
            cell.show()

    def _on_zoomed(self, source: SliceView, factor: float) -> None:
        if self.link_zoom:
            for view in self.views.values():
                if view is not source:
                    view.zoom_about_cursor(factor)

    def set_link_zoom(self, linked: bool) -> None:
        """Whether zooming one view (Ctrl+wheel) zooms the others about their cursor."""
        self.link_zoom = bool(linked)

    def zoom_all(self, factor: float) -> None:
        """Zoom every view about its crosshair (< 1: in)."""
        for view in self.views.values():
            view.zoom_about_cursor(factor)

    def centre_on_cursor(self) -> None:
        for view in self.views.values():
            view.centre_on_cursor()

    def set_crosshair(self, visible: bool, colour=None) -> None:
        for view in self.views.values():
            view.set_crosshair(visible, colour)


class InfoPane(QtWidgets.QLabel):
    """The fourth cell of the 2x2 grid: the image and the cursor, in words."""

    def __init__(self, state: ViewerState) -> None:
        super().__init__()
        self.state = state
        self.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setStyleSheet("color: #e0e0e0; background-color: black; padding: 8px")
        self.setToolTip("The image and the values under the cursor")
        for signal in (state.cursor_changed, state.time_changed, state.overlays_changed):
            signal.connect(self.refresh)
        state.volume_changed.connect(lambda _v: self.refresh())
        self.refresh()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.refresh()

    def refresh(self, *_args) -> None:
        """Describe the image and the cursor (only while shown: it reads overlay values)."""
        volume = self.state.volume
        if volume is None or not self.isVisible():
            self.setText("")
            return
        image = volume.image
        i, j, k = self.state.cursor_ijk
        x, y, z = self.state.cursor_xyz_mm
        value = self.state.cursor_value_text()
        times = " \u00d7 "
        shape = image.shape if image.shape[3] > 1 else image.shape[:3]
        lines = [
            f"<b>{html.escape(volume.name)}</b>",
            f"{times.join(str(n) for n in shape)} voxels, "
            f"{times.join(f'{v:g}' for v in image.voxel_sizes)} mm, "
            f"{volume.geometry.orientation_code()}",
            f"voxel [{i}, {j}, {k}]",
            f"{x:.2f}, {y:.2f}, {z:.2f} mm",
            f"value {value}",
        ]
        if volume.n_volumes > 1:
            lines.append(f"volume {self.state.t + 1} of {volume.n_volumes}")
        for layer, overlay_value in self.state.overlay_values():
            lines.append(f"{html.escape(layer.name)}: {layer.value_text(overlay_value)}")
        self.setText("<br>".join(lines))
