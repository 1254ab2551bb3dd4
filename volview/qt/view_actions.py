"""ViewActions: the display conventions of the View menu and the "Go to" box.

Owns: the layout actions (1x3 row, 2x2 grid with the info pane, ``L`` cycles;
double-click a view to show it alone), crosshair on/off (``F``, Shift+X) and its
colour, "Centre on cursor" (Ctrl+Shift+C), linked zoom (on by default) with
Ctrl++ / Ctrl+-, the "Go to" tool bar (voxel indices or world mm; ``G`` focuses it)
and the remembered display preference (radiological or neurological, in QSettings).
Coordinate spaces: "Go to" takes voxel ``ijk`` or world ``xyz_mm`` (RAS+), whatever
the display convention.
"""

from __future__ import annotations

from volview.core.coordinates import SPACES, parse_triple, target_ijk
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.slice_view import CROSSHAIR_COLOR

Qt = QtCore.Qt
ZOOM_STEP = 1.25
RADIOLOGICAL_KEY = "display/radiological"


def read_radiological(settings: QtCore.QSettings, default: bool = True) -> bool:
    value = settings.value(RADIOLOGICAL_KEY, default)
    return value if isinstance(value, bool) else str(value).lower() == "true"


class ViewActions(QtCore.QObject):
    def __init__(self, window, settings: QtCore.QSettings) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.ortho = window.ortho_view
        self.settings = settings
        self.crosshair_colour = QtGui.QColor(*CROSSHAIR_COLOR)
        self.row_action = self._add("1\u00d73 &row", lambda: self.set_arrangement("row"))
        self.grid_action = self._add("2\u00d72 &grid", lambda: self.set_arrangement("grid"))
        self.row_action.setToolTip("Axial, coronal and sagittal views side by side")
        self.grid_action.setToolTip("The three views and an info pane (or time course) in a grid")
        group = QtWidgets.QActionGroup(self)
        for action in (self.row_action, self.grid_action):
            action.setCheckable(True)
            group.addAction(action)
        self.row_action.setChecked(self.ortho.arrangement == "row")
        self.grid_action.setChecked(self.ortho.arrangement == "grid")
        self.cycle_action = self._add("&Next layout", self.cycle_arrangement, "L")
        self.crosshair_action = self._add("Show &crosshair", None, "F")
        self.crosshair_action.setShortcuts([QtGui.QKeySequence("F"), QtGui.QKeySequence("Shift+X")])
        self.crosshair_action.setCheckable(True)
        self.crosshair_action.setChecked(True)
        self.crosshair_action.toggled.connect(self._apply_crosshair)
        self.colour_action = self._add("Crosshair c&olour\u2026", self.pick_crosshair_colour)
        self.colour_action.setToolTip("Choose the colour and opacity of the crosshair")
        self.centre_action = self._add(
            "C&entre on cursor", self.ortho.centre_on_cursor, "Ctrl+Shift+C"
        )
        self.link_action = self._add("&Link zoom across views", None)
        self.link_action.setToolTip("Zooming one view zooms the others about their cursor")
        self.link_action.setCheckable(True)
        self.link_action.setChecked(self.ortho.link_zoom)
        self.link_action.toggled.connect(self.ortho.set_link_zoom)
        self.zoom_in_action = self._add(
            "Zoom &in", lambda: self.ortho.zoom_all(1 / ZOOM_STEP), "Ctrl++"
        )
        self.zoom_in_action.setShortcuts(
            [QtGui.QKeySequence("Ctrl++"), QtGui.QKeySequence("Ctrl+=")]
        )
        self.zoom_out_action = self._add(
            "Zoom &out", lambda: self.ortho.zoom_all(ZOOM_STEP), "Ctrl+-"
        )
        self.goto_bar = GoToBar(self.state, window)
        window.addToolBar(Qt.TopToolBarArea, self.goto_bar)
        self.goto_action = self._add("&Go to coordinate\u2026", self.goto_bar.focus_entry, "G")
        window.radiological_action.toggled.connect(self._remember_convention)

    def _add(self, text: str, slot, shortcut: str | None = None) -> QtWidgets.QAction:
        action = QtWidgets.QAction(text, self.window)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        if shortcut:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        tip = text.replace("&", "").rstrip("\u2026")
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        bind_shortcut(action, self.window, self.ortho)
        return action

    def fill_menu(self, menu: QtWidgets.QMenu) -> None:
        layout = menu.addMenu("La&yout")
        layout.addActions([self.row_action, self.grid_action, self.cycle_action])
        menu.addActions([self.crosshair_action, self.colour_action, self.centre_action])
        menu.addActions([self.link_action, self.zoom_in_action, self.zoom_out_action])
        menu.addAction(self.goto_action)

    # -- actions -----------------------------------------------------------------------
    def set_arrangement(self, name: str) -> None:
        self.ortho.set_arrangement(name)
        (self.row_action if name == "row" else self.grid_action).setChecked(True)

    def cycle_arrangement(self) -> None:
        self.set_arrangement("grid" if self.ortho.arrangement == "row" else "row")

    def pick_crosshair_colour(self) -> None:
        colour = QtWidgets.QColorDialog.getColor(
            self.crosshair_colour,
            self.window,
            "Crosshair colour",
            QtWidgets.QColorDialog.ShowAlphaChannel,
        )
        if colour.isValid():
            self.set_crosshair_colour(colour)

    def set_crosshair_colour(self, colour: QtGui.QColor) -> None:
        self.crosshair_colour = QtGui.QColor(colour)
        self._apply_crosshair()

    def _apply_crosshair(self, *_args) -> None:
        self.ortho.set_crosshair(self.crosshair_action.isChecked(), self.crosshair_colour)

    def _remember_convention(self, radiological: bool) -> None:
        self.settings.setValue(RADIOLOGICAL_KEY, bool(radiological))
        self.settings.sync()


def bind_shortcut(action: QtWidgets.QAction, window, views: QtWidgets.QWidget) -> None:
    """Make ``action``'s shortcut work with its menu closed. A single key without a
    modifier (L, F, G, R) acts only while the focus is in the views, so that typing
    in a table, a spin box or a text field never triggers it."""
    keys = action.shortcut()
    plain = not keys.isEmpty() and not (keys[0] & int(Qt.KeyboardModifierMask))
    target = views if plain else window
    action.setShortcutContext(Qt.WidgetWithChildrenShortcut if plain else Qt.WindowShortcut)
    target.addAction(action)


class GoToBar(QtWidgets.QToolBar):
    """A line edit for three numbers, voxel indices or world mm, and a Go button."""

    def __init__(self, state, parent=None) -> None:
        super().__init__("Go to", parent)
        self.setObjectName("goto_toolbar")
        self.state = state
        self.entry = QtWidgets.QLineEdit()
        self.entry.setPlaceholderText("Go to: i j k  or  x y z")
        self.entry.setToolTip(
            "Three numbers: voxel indices or world mm (RAS+); Enter moves the cursor (G)"
        )
        self.entry.setMaximumWidth(220)
        self.entry.returnPressed.connect(self.go)
        self.space = QtWidgets.QComboBox()
        self.space.addItems(SPACES)
        self.space.setToolTip("Whether the numbers are voxel indices or world millimetres")
        self.message = QtWidgets.QLabel()
        self.message.setStyleSheet("color: #d08000")
        self.addWidget(self.entry)
        self.addWidget(self.space)
        go = self.addAction("Go", self.go)
        go.setToolTip("Move the cursor there")
        self.addWidget(self.message)

    def focus_entry(self) -> None:
        self.entry.setFocus(Qt.ShortcutFocusReason)
        self.entry.selectAll()

    def go(self) -> bool:
        """Move the cursor to the typed coordinate; say why not if it cannot."""
        volume = self.state.volume
        if volume is None:
            self.message.setText("open an image first")
            return False
        try:
            ijk = target_ijk(volume, parse_triple(self.entry.text()), self.space.currentText())
        except ValueError as exc:
            self.message.setText(str(exc))
            return False
        self.message.clear()
        self.state.set_cursor(ijk)
        return True
