"""MainWindow: menus, status bar, drag-and-drop and error dialogs around the OrthoView.

Owns: the menus (File > Open, Save header, Save As, Quit; Edit > header undo/redo;
View > Header editor, Reset view, colormaps, convention; the header actions come
from HeaderController),
the status-bar readout (voxel ``ijk``, world ``xyz_mm``, scaled value, how the file
is read, orientation notices) and the empty-window hint. Every file it opens goes
through ``Session.open_paths``; every error it gets is shown in a dialog that names
the file, and the window stays usable.
"""

from __future__ import annotations

from volview.core.colormap_names import COLORMAPS, LABELS
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.io.images import IMAGE_FILTER
from volview.io.tractogram import TRACTOGRAM_FILTER, is_tractogram_path
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.header_dock import HeaderController
from volview.qt.header_panel import PANEL_WIDTH
from volview.qt.layer_dock import LayerController
from volview.qt.ortho_view import OrthoView
from volview.qt.time_dock import TimeController
from volview.qt.tract_dock import TractController
from volview.qt.view_actions import ViewActions, bind_shortcut, read_radiological
from volview.session import Session, path_from_argument

Qt = QtCore.Qt
OPEN_FILTER = (
    "Images and tractograms (*.nii *.nii.gz *.hdr *.img *.img.gz *.mgh *.mgz *.trx *.tck *.trk)"
    f";;{IMAGE_FILTER};;{TRACTOGRAM_FILTER}"
)
EMPTY_HINT = "Drop an image here, or use File \u203a Open\u2026 (Ctrl+O)"


class MainWindow(QtWidgets.QMainWindow):
    def __init__(
        self,
        state: ViewerState,
        session: Session,
        layout: str = "ortho",
        settings: QtCore.QSettings | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.session = session
        self.settings = settings if settings is not None else QtCore.QSettings("volview", "volview")
        state.set_radiological(read_radiological(self.settings, state.radiological))
        self.error_dialog: QtWidgets.QMessageBox | None = None
        self.setAcceptDrops(True)
        self.resize(1280, 520)
        self.ortho_view = OrthoView(state, layout)
        self.empty_hint = QtWidgets.QLabel(EMPTY_HINT)
        self.empty_hint.setAlignment(Qt.AlignCenter)
        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(self.empty_hint)
        self.stack.addWidget(self.ortho_view)
        self.setCentralWidget(self.stack)
        self._build_status_bar()
        self.header = HeaderController(self, state, session)
        self.tracts = TractController(self, state, session)
        self.time_series = TimeController(self, state)
        self.layers = LayerController(self, state, session)
        self.tabifyDockWidget(self.header.dock, self.tracts.dock)
        self.tabifyDockWidget(self.tracts.dock, self.layers.dock)
        self._docks_sized = False
        for dock in (self.header.dock, self.tracts.dock, self.layers.dock):
            dock.visibilityChanged.connect(self._size_docks_once)
        self._build_menus()
        state.volume_changed.connect(self._on_volume_changed)
        state.cursor_changed.connect(self._update_readout)
        state.time_changed.connect(self._update_readout)
        for view in self.ortho_view.views.values():
            view.read_failed.connect(self.show_error_text)
        self._on_volume_changed(state.volume)

    # -- construction ----------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.readout = QtWidgets.QLabel()
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notice = QtWidgets.QLabel()
        self.notice.setStyleSheet("color: #d08000; font-weight: bold")
        self.access_label = QtWidgets.QLabel()
        self.convention_label = QtWidgets.QLabel()
        bar.addWidget(self.readout, 1)
        for label in (self.notice, self.access_label, self.convention_label):
            bar.addPermanentWidget(label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(
            file_menu, "&Open\u2026", self.open_dialog, QtGui.QKeySequence.Open
        )
        file_menu.addAction(self.layers.add_action)
        file_menu.addSeparator()
        file_menu.addActions([self.header.save_action, self.header.save_as_action])
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QtGui.QKeySequence.Quit)
        header = self.header
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addActions([header.undo_action, header.redo_action, header.revert_action])
        edit_menu.addSeparator()
        edit_menu.addActions([header.qform_action, header.sform_action])
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(header.toggle_action)
        view_menu.addAction(self.layers.toggle_action)
        view_menu.addAction(self.tracts.toggle_action)
        view_menu.addActions(self.time_series.view_actions)
        self.reset_action = self._action(view_menu, "&Reset view", self.ortho_view.reset_views, "R")
        bind_shortcut(self.reset_action, self, self.ortho_view)
        cmap_menu = view_menu.addMenu("&Colormap")
        group = QtWidgets.QActionGroup(self)
        self.colormap_actions = {}
        for name in COLORMAPS:
            action = self._action(cmap_menu, LABELS[name], self._colormap_setter(name))
            action.setCheckable(True)
            action.setChecked(name == self.state.colormap)
            group.addAction(action)
            self.colormap_actions[name] = action
        self.state.colormap_changed.connect(
            lambda name: self.colormap_actions[name].setChecked(True)
        )
        self.radiological_action = self._action(
            view_menu, "Radiological convention (patient right on screen left)", None
        )
        self.radiological_action.setCheckable(True)
        self.radiological_action.setChecked(self.state.radiological)
        self.radiological_action.toggled.connect(self._on_convention_toggled)
        self.view_actions = ViewActions(self, self.settings)
        view_menu.addSeparator()
        self.view_actions.fill_menu(view_menu)

    def _size_docks_once(self, visible: bool) -> None:
        """The first time a panel opens, give it a panel's width, not half the window."""
        if visible and not self._docks_sized:
            self._docks_sized = True
            self.resizeDocks([self.header.dock], [PANEL_WIDTH], Qt.Horizontal)

    def _action(self, menu, text, slot, shortcut=None) -> QtWidgets.QAction:
        action = menu.addAction(text)
        if slot is not None:
            action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)
            action.setToolTip(f"{text.replace('&', '')} ({action.shortcut().toString()})")
        return action

    def _colormap_setter(self, name: str):
        return lambda: self.state.set_colormap(name)

    # -- opening ---------------------------------------------------------------------
    def open_paths(self, paths, as_overlays: bool = False) -> list[VolviewError]:
        """Open files (the one route for menu, drop and command line); show any errors.

        The first image replaces the current one, the others are overlays over it
        (``as_overlays``: all are, when an image is shown). Before replacing the
        image, unsaved header edits are offered for saving (nothing opens if the user
        cancels, or until the save is done), and a header left by an interrupted save
        is offered for restoring.
        """
        paths = [path_from_argument(p) for p in paths]
        tracts = [p for p in paths if is_tractogram_path(p)]
        images = [p for p in paths if p not in tracts]
        replacing = bool(images) and not (as_overlays and self.state.volume is not None)
        again = lambda: self.open_paths(paths, as_overlays)  # noqa: E731
        if replacing and not self.header.confirm_discard(then=again):
            return []
        for path in images:
            self.header.check_backup(path)
        errors = self.session.open_paths(images, as_overlays=as_overlays)
        self.tracts.open_tractograms(tracts)  # in the background, over the image just opened
        if errors:
            self.show_error_text("\n\n".join(str(e) for e in errors))
        return errors

    def open_dialog(self) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self, "Open image or tractogram", "", f"{OPEN_FILTER};;All files (*)"
        )
        if paths:
            self.open_paths(paths)

    def show_error_text(self, text: str, title: str = "volview: could not open") -> None:
        """Show an error in a window-modal dialog that does not block the event loop."""
        box = QtWidgets.QMessageBox(self)
        box.setIcon(QtWidgets.QMessageBox.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self.error_dialog = box
        box.open()

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if not self.header.confirm_discard(then=self.close):
            ev.ignore()
            return
        self.header.wait_for_task()
        self.tracts.shutdown()
        super().closeEvent(ev)

    def dragEnterEvent(self, ev: QtGui.QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev: QtGui.QDropEvent) -> None:
        paths = [url.toLocalFile() for url in ev.mimeData().urls() if url.isLocalFile()]
        if not paths:
            ev.ignore()
            return
        ev.acceptProposedAction()
        # with Ctrl or Shift held, images are dropped over the current one as overlays
        overlay = bool(ev.keyboardModifiers() & (Qt.ControlModifier | Qt.ShiftModifier))
        self.open_paths(paths, as_overlays=overlay)

    # -- state -> window -------------------------------------------------------------
    def _on_convention_toggled(self, radiological: bool) -> None:
        self.state.set_radiological(radiological)  # re-emits volume_changed when one is open
        self._show_convention()

    def _show_convention(self) -> None:
        self.convention_label.setText(
            "RADIOLOGICAL (R\u25c0)" if self.state.radiological else "NEUROLOGICAL (L\u25c0)"
        )

    def _on_volume_changed(self, volume) -> None:
        self.stack.setCurrentWidget(self.empty_hint if volume is None else self.ortho_view)
        self.setWindowTitle("volview" if volume is None else f"{volume.name}[*] \u2014 volview")
        self._show_convention()
        if volume is None:
            self.notice.clear()
            self.access_label.clear()
            self.readout.clear()
            return
        notices = list(volume.image.notes)
        if volume.geometry.oblique:
            notices.append("oblique: shown on the nearest axes, not resampled")
        if not volume.geometry.orientation_known:
            notices.append("orientation unknown")
        self.notice.setText(" \u00b7 ".join(notices))
        image = volume.image
        self.access_label.setText(f"{image.format_name}, {image.proxy.access}")
        self._update_readout()

    def _update_readout(self, *_args) -> None:
        volume = self.state.volume
        if volume is None:
            return
        i, j, k = self.state.cursor_ijk
        x, y, z = self.state.cursor_xyz_mm
        value = self.state.cursor_value_text()
        t = f"  vol {self.state.t + 1}/{volume.n_volumes}" if volume.n_volumes > 1 else ""
        self.readout.setText(
            f"voxel [{i}, {j}, {k}]   {x:.2f}, {y:.2f}, {z:.2f} mm   value {value}{t}"
        )
