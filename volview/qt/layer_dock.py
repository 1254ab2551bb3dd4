"""LayerController: image overlays in the main window.

Owns: the "Layers" dock (View > Layers, Ctrl+Shift+L) with the LayerPanel, the
File > Add overlay… action (Ctrl+Shift+O) and its file dialog, and the overlay
readout of the status bar (each visible overlay's value under the cursor; label
maps say "label N"), and the ``OverlayLoader`` that copies compressed overlays into
RAM in the background. Overlays open through ``MainWindow.open_paths(as_overlays=True)``,
the one open path; errors go to the window's error dialog.
"""

from __future__ import annotations

from volview.io.images import IMAGE_FILTER
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.docks import add_dock
from volview.qt.layer_panel import LayerPanel
from volview.qt.overlay_loader import OverlayLoader

Qt = QtCore.Qt


class LayerController(QtCore.QObject):
    def __init__(self, window: QtWidgets.QMainWindow, state, session) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.session = session
        self.loader = OverlayLoader(window, state, session)  # compressed ones into RAM
        self.panel = LayerPanel(state)
        self.panel.add_requested.connect(self.add_dialog)
        self.panel.files_dropped.connect(self.add_overlays)
        self.dock, self.toggle_action = add_dock(
            window,
            self.panel,
            title="Layers",
            name="layer_dock",
            menu_text="&Layers",
            shortcut="Ctrl+Shift+L",
            tip="Show or hide the image layer panel",
        )
        self.add_action = QtWidgets.QAction("Add &overlay\u2026", window)
        self.add_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+O"))
        self.add_action.setToolTip("Open images over the current one (Ctrl+Shift+O)")
        self.add_action.triggered.connect(lambda _checked=False: self.add_dialog())
        self.readout = QtWidgets.QLabel()
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        window.statusBar().addWidget(self.readout)
        for signal in (state.cursor_changed, state.time_changed, state.overlays_changed):
            signal.connect(self.update_readout)
        state.volume_changed.connect(lambda _v: self._on_volume_changed())
        state.overlays_changed.connect(self._show_new_overlays)
        self.loader.settled.connect(self.update_readout)
        self.loader.settled.connect(window.ortho_view.info_pane.refresh)
        self._n_overlays = 0
        self._on_volume_changed()

    def _show_new_overlays(self) -> None:
        """Bring the panel up when an overlay is added (however it was opened)."""
        if len(self.state.overlays) > self._n_overlays:
            self.dock.show()
            self.dock.raise_()
        self._n_overlays = len(self.state.overlays)

    def _on_volume_changed(self) -> None:
        self.add_action.setEnabled(self.state.volume is not None)
        self.update_readout()

    def add_dialog(self) -> None:
        if self.state.volume is None:
            return
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self.window,
            "Add overlay",
            self.window.recent.last_folder(),
            f"{IMAGE_FILTER};;All files (*)",
        )
        if paths:
            self.add_overlays(paths)

    def add_overlays(self, paths) -> list:
        """Open ``paths`` as overlays of the current image (through the window's one
        open route); errors go to a dialog."""
        return self.window.open_paths(paths, as_overlays=True)

    def update_readout(self, *_args) -> None:
        values = self.state.overlay_values()
        self.readout.setText(
            "   ".join(f"{layer.name}: {layer.value_text(value)}" for layer, value in values)
        )
