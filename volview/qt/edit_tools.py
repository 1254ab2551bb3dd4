"""EditController: voxel editing in the views, its tool bar, undo, Save and Save As.

Owns: the actions "Enable voxel editing" (checkable, off by default), "Undo voxel
edit" (Ctrl+Alt+Z), "Redo voxel edit" (Ctrl+Alt+Shift+Z), "Save voxel edits"
(Ctrl+Alt+S) and "Save edited image as…"; the "Edit voxels" tool bar (tool: Crosshair
/ Set voxel / Brush, value, brush radius in voxels); the status-bar count of unsaved
edits; the unsaved-edits question (``confirm_close``). The Ctrl+Alt keys keep clear of
the header editor's Ctrl+Z / Ctrl+Shift+Z / Ctrl+S / Ctrl+Shift+S, so both editors'
keys work whichever is in use.

With editing on, a plain left click or drag in a view applies the tool to the voxel
under the mouse on that view's slice and volume ``t`` (a drag is one undoable step);
Shift+click, or the Crosshair tool, still moves the cursor, and middle or Shift drag
still pans. Edits stay in memory (``VoxelEdits``) and are shown through an
``EditedProxy`` put in place with ``ViewerState.replace_volume``. Save writes them into
a memory-mapped file that may be written; any other image (compressed, in memory, a
read-only file) is saved with Save As to a new file in the background. Questions go
through ``ask`` so tests can answer. Coordinate space: voxel ``ijk`` and volume ``t``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from volview.core.edited_proxy import (
    EditedProxy,
    base_proxy,
    file_read_only_reason,
    forget_cached_planes,
    in_place_reason,
    proxy_chain,
    storage_of,
)
from volview.core.state import ViewerState
from volview.core.volume import Volume
from volview.core.voxel_edits import VoxelEditError, VoxelEdits
from volview.errors import SaveCancelled, VolviewError
from volview.io.images import image_suffix
from volview.io.voxel_save import save_array_as, save_file_as, save_in_place
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.header_dock import ask
from volview.qt.tasks import error_text, run_with_progress

Box = QtWidgets.QMessageBox
TOOLS = ("Crosshair", "Set voxel", "Brush")
SAVE_AS_FILTER = "NIfTI (*.nii);;Compressed NIfTI (*.nii.gz);;MGH (*.mgh *.mgz)"
VALUE_LIMIT = 3.4e38  # float32's range: the widest a plane shows


class EditController(QtCore.QObject):
    def __init__(self, window: QtWidgets.QMainWindow, state: ViewerState, session) -> None:
        super().__init__(window)
        self.window, self.state, self.session = window, state, session
        self.ask: Callable[..., int] = ask
        self.edits: VoxelEdits | None = None
        self.in_place_reason: str | None = None  # why Save cannot write into the file
        self.task = None
        self._last: tuple[int, int, int] | None = None  # voxel of the last drag event
        self._build_actions()
        self._build_tool_bar()
        self.count_label = QtWidgets.QLabel()
        window.statusBar().addPermanentWidget(self.count_label)
        self.count_label.hide()
        session.opened.connect(self._on_opened)
        state.volume_changed.connect(self._on_volume_changed)
        self._update()

    # -- construction ----------------------------------------------------------------
    def _build_actions(self) -> None:
        self.enable_action = self._action(
            "Enable &voxel editing", None, None, "Edit voxel values in the views"
        )
        self.enable_action.setCheckable(True)
        self.enable_action.toggled.connect(self._on_enable_toggled)
        self.undo_action = self._action(
            "Undo voxel edit", self.undo, "Ctrl+Alt+Z", "Undo the last voxel edit"
        )
        self.redo_action = self._action(
            "Redo voxel edit", self.redo, "Ctrl+Alt+Shift+Z", "Redo a voxel edit"
        )
        self.save_action = self._action(
            "Save voxel edits", self.save, "Ctrl+Alt+S", "Write the edited voxels into the file"
        )
        self.save_as_action = self._action(
            "Save edited image as\u2026", self.save_as, None, "Write the edited image to a new file"
        )
        #: for the Edit menu, in this order
        self.menu_actions = [self.enable_action, self.undo_action, self.redo_action]
        #: for the File menu
        self.file_actions = [self.save_action, self.save_as_action]

    def _action(self, text, slot, shortcut, tip) -> QtWidgets.QAction:
        action = QtWidgets.QAction(text, self.window)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.setShortcutContext(QtCore.Qt.WindowShortcut)
            tip = f"{tip} ({action.shortcut().toString()})"
        action.setToolTip(tip)
        self.window.addAction(action)
        return action

    def _build_tool_bar(self) -> None:
        bar = QtWidgets.QToolBar("Edit voxels", self.window)
        bar.setObjectName("edit_voxels_toolbar")
        self.tool_box = QtWidgets.QComboBox()
        self.tool_box.addItems(TOOLS)
        self.tool_box.setCurrentText("Set voxel")
        self.tool_box.setToolTip("Crosshair moves the cursor; Set voxel and Brush edit")
        self.value_box = QtWidgets.QDoubleSpinBox()
        self.value_box.setRange(-VALUE_LIMIT, VALUE_LIMIT)
        self.value_box.setDecimals(4)
        self.value_box.setToolTip("The value to set, in the image's (scaled) units")
        self.radius_box = QtWidgets.QSpinBox()
        self.radius_box.setRange(0, 500)
        self.radius_box.setValue(2)
        self.radius_box.setSuffix(" vox")
        self.radius_box.setToolTip("Brush radius in voxels of the plane (0: one voxel)")
        for label, widget in (
            ("Tool ", self.tool_box),
            (" Value ", self.value_box),
            (" Radius ", self.radius_box),
        ):
            bar.addWidget(QtWidgets.QLabel(label))
            bar.addWidget(widget)
        bar.addSeparator()
        bar.addActions([self.undo_action, self.redo_action, self.save_action, self.save_as_action])
        self.tool_bar = bar
        self.window.addToolBar(QtCore.Qt.TopToolBarArea, bar)
        bar.hide()

    def _views(self):
        return self.window.ortho_view.views.values()

    # -- enabling ----------------------------------------------------------------------
    @property
    def editing(self) -> bool:
        return self.edits is not None

    @property
    def unsaved(self) -> int:
        return 0 if self.edits is None else self.edits.count

    def set_editing(self, on: bool) -> None:
        """Turn editing on or off (the checkable action follows)."""
        self.enable_action.setChecked(on)

    def _on_enable_toggled(self, on: bool) -> None:
        if on == self.editing:
            return
        done = self._start_editing() if on else self._stop_editing(ask_first=True)
        if not done:
            with QtCore.QSignalBlocker(self.enable_action):
                self.enable_action.setChecked(self.editing)

    def _start_editing(self) -> bool:
        volume = self.state.volume
        if volume is None:
            self.window.statusBar().showMessage("Open an image to edit its voxels", 5000)
            return False
        read_only = file_read_only_reason(volume.image)
        if read_only is not None and not self._offer_save_as(read_only):
            return False
        self.in_place_reason = read_only or in_place_reason(volume.image)
        image = volume.image
        self.edits = VoxelEdits(image.path, image.shape, storage_of(image))
        self.edits.changed.connect(self._on_edits_changed)
        self._show(dataclasses.replace(image, proxy=EditedProxy(image.proxy, self.edits)))
        for view in self._views():
            view.edit_handler = self.handle
        self._update()
        return True

    def _offer_save_as(self, reason: str) -> bool:
        answer = self.ask(
            self.window,
            "Read-only file",
            f"{reason}.\n\nEdit anyway and save the result with Save As?",
            Box.Yes | Box.No,
            Box.No,
        )
        return answer == Box.Yes

    def _stop_editing(self, ask_first: bool) -> bool:
        if ask_first and not self.confirm_close():
            return False
        for view in self._views():
            view.edit_handler = None
        edits, self.edits = self.edits, None
        if edits is not None:
            edits.changed.disconnect(self._on_edits_changed)
        volume = self.state.volume
        if volume is not None and isinstance(volume.image.proxy, EditedProxy):
            self._show(dataclasses.replace(volume.image, proxy=volume.image.proxy.inner))
        with QtCore.QSignalBlocker(self.enable_action):
            self.enable_action.setChecked(False)
        self._update()
        return True

    def _show(self, image) -> None:
        """Show ``image`` (the same voxels through another proxy) in place of the volume."""
        volume = self.state.volume
        replaced = Volume(image, volume.geometry)
        for name in ("intensity_sample", "seen"):  # same file: keep what was read
            if name in volume.__dict__:
                replaced.__dict__[name] = volume.__dict__[name]
        self.state.replace_volume(replaced)

    def _on_volume_changed(self, volume) -> None:
        """A header preview shows the same file afresh: keep showing the edits over it."""
        if self.edits is None or volume is None or volume.image.path != self.edits.path:
            return
        if not any(isinstance(p, EditedProxy) for p in proxy_chain(volume.image.proxy)):
            self._show(
                dataclasses.replace(volume.image, proxy=EditedProxy(volume.image.proxy, self.edits))
            )

    def _on_opened(self, _volume) -> None:
        """Another image is shown: its predecessor's edits are gone with it."""
        if self.editing:
            self._stop_editing(ask_first=False)

    # -- editing -----------------------------------------------------------------------
    def handle(self, view, ijk: tuple[int, int, int], phase: str) -> bool:
        """A view's ``edit_handler``: apply the tool at ``ijk``; False lets the cursor move."""
        if self.edits is None or self.tool_box.currentText() == "Crosshair":
            return False
        if phase == "start":
            self.edits.begin_stroke()
        elif phase == "move" and ijk == self._last:
            return True
        self._last = ijk
        self.apply_tool(view.plane_layout.depth_axis, ijk)
        if phase in ("finish", "click"):
            self.edits.end_stroke()
            self._last = None
            self._update()
        return True

    def apply_tool(self, plane_axis: int, ijk: tuple[int, int, int]) -> None:
        """Set the voxel, or paint the brush disc on the plane normal to ``plane_axis``."""
        value, t = self.value_box.value(), self.state.t
        try:
            if self.tool_box.currentText() == "Brush":
                radius = self.radius_box.value()
                message = self.edits.paint_disc(plane_axis, ijk[plane_axis], ijk, radius, value, t)
            else:
                message = self.edits.set_voxel(ijk, value, t)
        except VoxelEditError as exc:
            message = str(exc)
        if message:
            self.window.statusBar().showMessage(message, 8000)

    def undo(self) -> None:
        if self.edits is not None:
            self.edits.undo()

    def redo(self) -> None:
        if self.edits is not None:
            self.edits.redo()

    def _on_edits_changed(self) -> None:
        self.state.notify_voxels_changed()
        self._update()

    def _update(self) -> None:
        editing, count = self.editing, self.unsaved
        self.tool_bar.setVisible(editing)
        self.undo_action.setEnabled(editing and self.edits.can_undo)
        self.redo_action.setEnabled(editing and self.edits.can_redo)
        self.save_action.setEnabled(editing and count > 0 and self.in_place_reason is None)
        self.save_action.setStatusTip(self.in_place_reason or "")
        self.save_as_action.setEnabled(editing and self.task is None)
        self.count_label.setText(f"{count} unsaved voxel edit{'s' if count != 1 else ''}")
        self.count_label.setVisible(count > 0)

    # -- saving and closing --------------------------------------------------------------
    def confirm_close(self, then: Callable[[], None] | None = None) -> bool:
        """True if there are no unsaved edits, or they were saved or discarded.

        Asks Save / Discard / Cancel. Save writes in place when it can; when only Save
        As can keep them, it starts Save As, returns False and calls ``then`` once the
        new file is written.
        """
        if self.unsaved == 0:
            return True
        answer = self.ask(
            self.window,
            "Unsaved voxel edits",
            f"{self.state.volume.name} has {self.unsaved} unsaved voxel "
            f"edit{'s' if self.unsaved != 1 else ''}. Save them?",
            Box.Save | Box.Discard | Box.Cancel,
            Box.Save,
        )
        if answer == Box.Discard:
            self.edits.clear()
            return True
        if answer != Box.Save:
            return False
        if self.in_place_reason is None:
            return self.save()
        self.save_as(then=then)
        return False

    def save(self) -> bool:
        """Write the edits into the memory-mapped file; True on success."""
        if self.edits is None or self.in_place_reason is not None:
            return False
        volume = self.state.volume
        count = self.edits.count
        try:
            save_in_place(base_proxy(volume.image.proxy), *self.edits.stored_values())
        except VolviewError as exc:
            self.window.show_error_text(str(exc), "volview: could not save the voxel edits")
            return False
        forget_cached_planes(volume.image.proxy)  # planes cached before the save are stale
        self.edits.clear()  # the file now holds them; the views read it again
        self.window.statusBar().showMessage(f"Saved {count} voxel edits to {volume.name}", 5000)
        return True

    def save_as(self, then: Callable[[], None] | None = None) -> None:
        if self.edits is None or self.task is not None:
            return
        start = str(self.state.volume.image.path.with_name("edited.nii.gz"))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Save edited image as", start, SAVE_AS_FILTER
        )
        if path:
            self.save_to(Path(path), then)

    def save_to(self, destination: Path, then: Callable[[], None] | None = None) -> None:
        """Write the edited image to ``destination`` in the background, then show it."""
        image, edits = self.state.volume.image, self.edits
        if image_suffix(destination) is None:
            destination = Path(f"{destination}.nii.gz")
        if image.on_disk:
            keys, numbers = edits.stored_values()
            source = image.path

            def work(progress, cancelled):
                return save_file_as(source, keys, numbers, destination, progress=progress,
                                    cancelled=cancelled)  # fmt: skip
        else:
            keys, values = edits.arrays()  # a snapshot: the worker never reads ``edits``
            proxy, affine = image.proxy, image.affine
            proxy = proxy.inner if isinstance(proxy, EditedProxy) else proxy

            def work(progress, cancelled):
                return save_array_as(proxy, affine, keys, values, destination,
                                     progress=progress, cancelled=cancelled)  # fmt: skip

        self.task = run_with_progress(
            self.window,
            f"Writing {destination.name}\u2026",
            work,
            on_done=lambda path: self._saved_as(Path(path), then),
            on_error=self._save_as_failed,
            on_cancel=self._save_as_cancelled,
            cancel_types=(SaveCancelled,),
        )
        self._update()

    def _saved_as(self, path: Path, then) -> None:
        self.task = None
        cursor, window, t = self.state.cursor_ijk, self.state.window, self.state.t
        self._stop_editing(ask_first=False)  # the edits are in the new file
        errors = self.session.open_paths([path])
        if errors:
            self.window.show_error_text("\n\n".join(str(e) for e in errors))
            return
        self.state.set_cursor(cursor)
        self.state.set_window(*window)
        self.state.set_time(t)
        self.window.statusBar().showMessage(f"Saved {path.name}", 5000)
        if then is not None:
            then()

    def _save_as_failed(self, exc: BaseException) -> None:
        self.task = None
        self._update()
        self.window.show_error_text(error_text(exc), "volview: could not save the edited image")

    def _save_as_cancelled(self) -> None:
        self.task = None
        self._update()
        self.window.statusBar().showMessage("Save cancelled; no file was written", 5000)

    def wait_for_task(self) -> None:
        """Cancel a running Save As and wait for it (used when the window closes)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
