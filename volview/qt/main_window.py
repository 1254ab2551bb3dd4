"""MainWindow: menus, status bar, drag-and-drop and error dialogs around the OrthoView.

Owns: the menus (File > Open, Open Recent, Save header, Save As, Save screenshot,
Quit; Edit > header undo/redo, voxel editing, Copy screenshot, Preferences; View >
panels, Reset view, colormaps, convention; Image > load into memory, whole-image
scans; Help; the actions come from the controllers: header, layers, tractograms,
time series, raw files, voxel edits, gzip index/cache, whole-image data, export),
the status-bar readout (voxel ``ijk``, world ``xyz_mm``, scaled value, how the file
is read, orientation notices), the empty window (drop hint and recent files) and the
remembered geometry and dock layout. Every file it opens goes through
``Session.open_paths``; every error it gets is shown in a dialog that names the
file, and the window stays usable.
"""

from __future__ import annotations

import sys

from volview.core.colormap_names import COLORMAPS, LABELS
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.io.images import IMAGE_FILTER
from volview.io.tractogram import TRACTOGRAM_FILTER, is_tractogram_path
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.data_controller import DataController
from volview.qt.edit_tools import EditController
from volview.qt.export import ExportController
from volview.qt.gzip_controller import GzipController
from volview.qt.header_dock import HeaderController
from volview.qt.header_panel import PANEL_WIDTH
from volview.qt.help_dialogs import HelpController
from volview.qt.layer_dock import LayerController
from volview.qt.ortho_view import OrthoView
from volview.qt.preferences import RADIOLOGICAL, PreferencesController
from volview.qt.raw_dialog import RawController
from volview.qt.recent_files import EmptyPage, RecentFiles, RecentMenu
from volview.qt.time_dock import TimeController
from volview.qt.tract_dock import TractController
from volview.qt.view_actions import ViewActions, bind_shortcut
from volview.session import Session, path_from_argument

Qt = QtCore.Qt
OPEN_FILTER = (
    "Images and tractograms (*.nii *.nii.gz *.hdr *.img *.img.gz *.mgh *.mgz *.tif *.tiff"
    " *.trx *.tck *.trk)"
    f";;{IMAGE_FILTER};;{TRACTOGRAM_FILTER}"
)
GEOMETRY_KEY, LAYOUT_KEY = "window/geometry", "window/layout"


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
        state.set_radiological(RADIOLOGICAL.read(self.settings))
        self.error_dialog: QtWidgets.QMessageBox | None = None
        self.setAcceptDrops(True)
        self.resize(1280, 520)
        self.ortho_view = OrthoView(state, layout)
        self.recent = RecentFiles(self.settings, self)
        self.empty_hint = EmptyPage(self.recent, self.open_recent)
        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(self.empty_hint)
        self.stack.addWidget(self.ortho_view)
        self.setCentralWidget(self.stack)
        self._build_status_bar()
        self.preferences = PreferencesController(self)  # first: it sets new tractograms' cap
        self.header = HeaderController(self, state, session)
        self.tracts = TractController(self, state, session)
        self.time_series = TimeController(self, state)
        self.layers = LayerController(self, state, session)
        self.raw = RawController(self, state, session)
        self.data = DataController(self, state, session)
        self.edits = EditController(self, state, session)
        self.gzip = GzipController(self, state, session, self.settings)
        self.tabifyDockWidget(self.header.dock, self.tracts.dock)
        self.tabifyDockWidget(self.tracts.dock, self.layers.dock)
        self._docks_sized = False
        for dock in (self.header.dock, self.tracts.dock, self.layers.dock):
            dock.visibilityChanged.connect(self._size_docks_once)
        self.export = ExportController(self, self.recent.last_folder)
        self.help = HelpController(self)
        self._build_menus()
        self.recent.follow(state, session)
        state.volume_changed.connect(self._on_volume_changed)
        state.cursor_changed.connect(self._update_readout)
        state.time_changed.connect(self._update_readout)
        state.voxels_changed.connect(self._update_readout)
        for view in self.ortho_view.views.values():
            view.read_failed.connect(self.show_error_text)
            view.plane_arrived.connect(self._update_readout)  # a value read in the background
        if sys.platform == "darwin":  # Finder's double-clicks arrive as FileOpen events
            QtWidgets.QApplication.instance().installEventFilter(self)
        self._on_volume_changed(state.volume)
        self.gzip.access_text_changed.connect(self.access_label.setText)
        self.restore_layout()

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
        self._build_file_menu(self.menuBar().addMenu("&File"))
        self._build_edit_menu(self.menuBar().addMenu("&Edit"))
        self._build_view_menu(self.menuBar().addMenu("&View"))
        self.menuBar().addMenu(self.data.menu)
        self.help.fill_menu(self.menuBar().addMenu("&Help"))

    def _build_file_menu(self, file_menu: QtWidgets.QMenu) -> None:
        self.open_action = self._action(
            file_menu,
            "&Open\u2026",
            self.open_dialog,
            QtGui.QKeySequence.Open,
            "Open images or tractograms; the first image replaces the one shown",
        )
        file_menu.addAction(self.raw.action)
        self.recent_menu = RecentMenu(self.recent, self.open_recent, self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.layers.add_action)
        file_menu.addSeparator()
        file_menu.addActions([self.header.save_action, self.header.save_as_action])
        file_menu.addActions(self.edits.file_actions)
        file_menu.addAction(self.export.save_action)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QtGui.QKeySequence.Quit, "Close volview")

    def _build_edit_menu(self, edit_menu: QtWidgets.QMenu) -> None:
        header = self.header
        edit_menu.addActions([header.undo_action, header.redo_action, header.revert_action])
        edit_menu.addSeparator()
        edit_menu.addActions([header.qform_action, header.sform_action])
        edit_menu.addSeparator()
        edit_menu.addActions(self.edits.menu_actions)
        edit_menu.addSeparator()
        edit_menu.addActions([self.export.copy_action, self.preferences.action])

    def _build_view_menu(self, view_menu: QtWidgets.QMenu) -> None:
        view_menu.addAction(self.header.toggle_action)
        view_menu.addAction(self.layers.toggle_action)
        view_menu.addAction(self.tracts.toggle_action)
        view_menu.addActions(self.time_series.view_actions)
        self.reset_action = self._action(
            view_menu, "&Reset view", self.ortho_view.reset_views, "R", "Reset zoom and pan"
        )
        bind_shortcut(self.reset_action, self, self.ortho_view)
        self._build_colormap_menu(view_menu.addMenu("&Colormap"))
        self.radiological_action = self._action(
            view_menu,
            "Radiological convention (patient right on screen left)",
            None,
            tip="Ticked: patient right on screen left; unticked: neurological (remembered)",
        )
        self.radiological_action.setCheckable(True)
        self.radiological_action.setChecked(self.state.radiological)
        self.radiological_action.toggled.connect(self._on_convention_toggled)
        self.view_actions = ViewActions(self, self.settings)
        view_menu.addSeparator()
        self.view_actions.fill_menu(view_menu)

    def _build_colormap_menu(self, cmap_menu: QtWidgets.QMenu) -> None:
        group = QtWidgets.QActionGroup(self)
        self.colormap_actions = {}
        for name in COLORMAPS:
            tip = f"Show the image in the {LABELS[name].lower()} colormap"
            action = self._action(cmap_menu, LABELS[name], self._colormap_setter(name), tip=tip)
            action.setCheckable(True)
            action.setChecked(name == self.state.colormap)
            group.addAction(action)
            self.colormap_actions[name] = action
        self.state.colormap_changed.connect(
            lambda name: self.colormap_actions[name].setChecked(True)
        )

    def _size_docks_once(self, visible: bool) -> None:
        """The first time a panel opens, give it a panel's width, not half the window."""
        if visible and not self._docks_sized:
            self._docks_sized = True
            self.resizeDocks([self.header.dock], [PANEL_WIDTH], Qt.Horizontal)

    def _action(self, menu, text, slot, shortcut=None, tip="") -> QtWidgets.QAction:
        """A menu action; its tooltip is ``tip`` (or its text) and its shortcut."""
        action = menu.addAction(text)
        if slot is not None:
            action.triggered.connect(slot)
        tip = tip or text.replace("&", "").rstrip("\u2026")
        action.setToolTip(tip)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})")
        return action

    def _colormap_setter(self, name: str):
        return lambda: self.state.set_colormap(name)

    # -- opening ---------------------------------------------------------------------
    def open_paths(self, paths, as_overlays: bool = False, raw=None) -> list[VolviewError]:
        """Open files (the one route for menu, drop and command line); show any errors.

        The first image replaces the current one, the others are overlays over it
        (``as_overlays``: all are, when an image is shown). Before replacing the
        image, unsaved header edits are offered for saving (nothing opens if the user
        cancels, or until the save is done), and a header left by an interrupted save
        is offered for restoring. ``raw`` (a ``RawSpec``) opens every image as raw.
        """
        paths = [path_from_argument(p) for p in paths]
        tracts = [p for p in paths if is_tractogram_path(p)]
        images = [p for p in paths if p not in tracts]
        replacing = bool(images) and not (as_overlays and self.state.volume is not None)
        again = lambda: self.open_paths(paths, as_overlays, raw)  # noqa: E731
        if replacing and not self.header.confirm_discard(then=again):
            return []
        if replacing and not self.edits.confirm_close(then=again):
            return []
        for path in images:
            self.header.check_backup(path)
        errors = self.session.open_paths(images, as_overlays=as_overlays, raw=raw)
        self.tracts.open_tractograms(tracts)  # in the background, over the image just opened
        if errors:
            self.show_error_text("\n\n".join(str(e) for e in errors))
        return errors

    def open_dialog(self) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self,
            "Open image or tractogram",
            self.recent.last_folder(),
            f"{OPEN_FILTER};;All files (*)",
        )
        if paths:
            self.open_paths(paths)

    def open_recent(self, path: str) -> None:
        """Open a file from the recent list (gone files are forgotten, with a note)."""
        if not self.recent.prune().count(path):
            self.statusBar().showMessage(f"{path} no longer exists", 5000)
            return
        self.open_paths([path])

    def restore_layout(self) -> None:
        """The geometry and dock/tool bar layout the window had when last closed."""
        geometry = self.settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QtCore.QByteArray):
            self.restoreGeometry(geometry)
        layout = self.settings.value(LAYOUT_KEY)
        if isinstance(layout, QtCore.QByteArray) and self.restoreState(layout):
            self._docks_sized = True  # the panels keep the widths they were left with

    def save_layout(self) -> None:
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(LAYOUT_KEY, self.saveState())
        self.settings.sync()

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
        if not self.edits.confirm_close(then=self.close):
            ev.ignore()
            return
        self.header.wait_for_task()
        self.edits.wait_for_task()
        self.data.wait_for_task()
        self.layers.loader.wait_for_task()
        self.tracts.shutdown()
        self.gzip.shutdown()
        self.save_layout()
        super().closeEvent(ev)

    def eventFilter(self, watched, event) -> bool:
        """A file double-clicked in macOS Finder arrives as an event, not an argument."""
        if event.type() == QtCore.QEvent.FileOpen and watched is QtWidgets.QApplication.instance():
            self.open_paths([event.file()])
            return True
        return super().eventFilter(watched, event)

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
