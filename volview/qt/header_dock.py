"""HeaderController: the Header dock, its actions, live preview and safe saving.

Owns: the "Header" QDockWidget (View > Header editor, Ctrl+Shift+I), the actions
Undo/Redo/Revert/Edit qform/Edit sform/Save header (Ctrl+S)/Save As (Ctrl+Shift+S)
and "Set cal_min/cal_max from data" (a background data-range scan),
the HeaderDocument of the file that was opened last, the live preview (every edit
that changes geometry, orientation or scaling replaces the shown Volume through
``ViewerState.replace_volume``), the unsaved-edits prompt, leftover-backup recovery
on open, and saving: in place (instant) or a whole-file rewrite in the background
with a progress bar and Cancel. Questions go through ``ask`` so tests can answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from volview.core.header_edit import HeaderDocument, preview_volume
from volview.core.state import ViewerState
from volview.errors import VolviewError
from volview.io.header_fields import HeaderKind
from volview.io.header_file import read_header
from volview.io.header_save import (
    SaveCancelled,
    can_save_in_place,
    discard_backup,
    find_backup,
    restore_backup,
    save_in_place,
    save_rewrite,
)
from volview.qt.affine_dialog import AffineDialog
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.data_controller import start_range_scan
from volview.qt.docks import add_dock
from volview.qt.header_panel import HeaderPanel
from volview.qt.tasks import error_text, run_with_progress

Qt = QtCore.Qt
Box = QtWidgets.QMessageBox
SAVE_AS_FILTER = (
    "NIfTI (*.nii);;Compressed NIfTI (*.nii.gz);;NIfTI/Analyze pair (*.hdr *.img);;"
    "Compressed pair (*.img.gz)"
)


def ask(parent, title: str, text: str, buttons, default) -> int:
    """Ask a question in a modal message box; returns the StandardButton chosen."""
    return Box.question(parent, title, text, buttons, default)


class HeaderController(QtCore.QObject):
    def __init__(self, window: QtWidgets.QMainWindow, state: ViewerState, session) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.session = session
        self.ask: Callable[..., int] = ask
        self.document: HeaderDocument | None = None
        self.original = None  # the Volume as opened from disk, the base of every preview
        self.task = None
        self.panel = HeaderPanel()
        self.dock, self.toggle_action = add_dock(
            window,
            self.panel,
            title="Header",
            name="header_dock",
            menu_text="&Header editor",
            shortcut="Ctrl+Shift+I",
            tip="Show or hide the header editor",
        )
        self._build_actions()
        session.opened.connect(self._on_opened)

    # -- actions ---------------------------------------------------------------------
    def _build_actions(self) -> None:
        keys = QtGui.QKeySequence
        self.undo_action = self._action("&Undo", self.undo, keys.Undo, "Undo the last header edit")
        self.redo_action = self._action("&Redo", self.redo, "Ctrl+Shift+Z", "Redo a header edit")
        self.revert_action = self._action(
            "Re&vert header", self.revert, None, "Go back to the header saved in the file"
        )
        self.qform_action = self._action(
            "Edit &qform\u2026", lambda: self.edit_affine("qform"), None, "Set the qform matrix"
        )
        self.sform_action = self._action(
            "Edit &sform\u2026", lambda: self.edit_affine("sform"), None, "Set the sform matrix"
        )
        self.save_action = self._action(
            "&Save header", self.save, keys.Save, "Write the edited header to the file"
        )
        self.save_as_action = self._action(
            "Save &As\u2026", self.save_as, keys.SaveAs, "Write the image with the edited header"
        )
        self.cal_action = self._action(
            "Set cal_min/cal_max from &data",
            self.cal_range_from_data,
            None,
            "Scan the whole image (in the background) and set cal_min/cal_max to its range",
        )
        self.cal_action.setIconText("cal from data")
        self.undo_action.setIconText("Undo")  # the button stays short; the menu says what
        for action in (self.undo_action, self.redo_action, self.revert_action):
            self.panel.add_button(action)
        self.panel.buttons.addStretch(1)
        for action in (self.qform_action, self.sform_action, self.cal_action, self.save_action):
            self.panel.add_button(action, row=1)
        self.panel.file_buttons.addStretch(1)
        self._update_actions()

    def _action(self, text, slot, shortcut, tip) -> QtWidgets.QAction:
        action = QtWidgets.QAction(text, self.window)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
            tip = f"{tip} ({action.shortcut().toString()})"
        action.setToolTip(tip)
        self.window.addAction(action)
        return action

    def _update_actions(self) -> None:
        doc = self.document
        self.undo_action.setEnabled(doc is not None and doc.can_undo)
        self.undo_action.setText(f"&Undo {doc.undo_text}" if doc and doc.can_undo else "&Undo")
        self.redo_action.setEnabled(doc is not None and doc.can_redo)
        self.revert_action.setEnabled(doc is not None and doc.modified)
        self.save_action.setEnabled(doc is not None and doc.modified)
        for action in (self.qform_action, self.sform_action):
            action.setEnabled(doc is not None and doc.current.kind != HeaderKind.ANALYZE)
        self.save_as_action.setEnabled(doc is not None)
        self.cal_action.setEnabled(doc is not None and self.task is None)
        self.window.setWindowModified(doc is not None and doc.modified)

    # -- opening ---------------------------------------------------------------------
    def _on_opened(self, volume) -> None:
        self.original = volume
        if not volume.image.on_disk:
            self._set_document(None, "No header editor: this image was given in memory")
            return
        try:
            document = HeaderDocument(read_header(volume.image.path))
        except VolviewError as exc:
            self._set_document(None, f"No header editor for this file: {exc}")
            return
        self._set_document(document)

    def _set_document(self, document: HeaderDocument | None, reason: str = "") -> None:
        if self.document is not None:
            self.document.changed.disconnect(self._on_document_changed)
        self.document = document
        self.panel.set_document(document, reason)
        if document is not None:
            document.changed.connect(self._on_document_changed)
        self._update_actions()

    def _on_document_changed(self) -> None:
        self._update_actions()
        if self.original is None or self.state.volume is None:
            return
        preview = preview_volume(self.original, self.document.current, self.state.radiological)
        if _looks_different(preview, self.state.volume):
            self.state.replace_volume(preview)

    def check_backup(self, path: str | Path) -> None:
        """Before opening ``path``: offer to restore a header left by an interrupted save."""
        backup = find_backup(path)
        if backup is None:
            return
        answer = self.ask(
            self.window,
            "Interrupted header save",
            f"{Path(path).name}: a header save was interrupted and left a backup of the "
            f"previous header ({backup.name}).\n\nRestore the previous header? "
            "(No keeps the file as it is and deletes the backup.)",
            Box.Yes | Box.No | Box.Cancel,
            Box.Yes,
        )
        try:
            if answer == Box.Yes:
                restore_backup(path)
            elif answer == Box.No:
                discard_backup(path)
        except VolviewError as exc:
            self.window.show_error_text(str(exc), "volview: could not restore the header")

    def confirm_discard(self, then: Callable[[], None]) -> bool:
        """True if there are no unsaved edits or the user lets them go.

        If the user chooses Save, the save runs and ``then`` is called after it
        succeeds; this returns False so that the caller stops for now.
        """
        doc = self.document
        if doc is None or not doc.modified:
            return True
        answer = self.ask(
            self.window,
            "Unsaved header edits",
            f"The header of {doc.file.path.name} has unsaved edits. Save them?",
            Box.Save | Box.Discard | Box.Cancel,
            Box.Save,
        )
        if answer == Box.Discard:
            doc.revert()  # the views go back to what the file says
            self._set_document(None)
            return True
        if answer == Box.Save:
            self.save(then=then)
        return False

    # -- editing ---------------------------------------------------------------------
    def undo(self) -> None:
        if self.document is not None:
            self.document.undo()

    def redo(self) -> None:
        if self.document is not None:
            self.document.redo()

    def revert(self) -> None:
        if self.document is not None:
            self.document.revert()

    def edit_affine(self, which: str) -> AffineDialog | None:
        if self.document is None:
            return None
        dialog = AffineDialog(self.document, which, self.window)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def cal_range_from_data(self) -> None:
        """Set cal_min/cal_max to the data range (a whole-image scan, in the background)."""
        doc, volume = self.document, self.state.volume
        if doc is None or volume is None or self.task is not None:
            return

        def found(value_range) -> None:
            if doc is not self.document:
                return
            if value_range is None:
                self.window.statusBar().showMessage(
                    f"{volume.name} has no finite values; cal_min/cal_max are unchanged", 5000
                )
                return
            doc.edit("cal_min", value_range[0])
            doc.edit("cal_max", value_range[1])

        self.task = start_range_scan(self.window, volume, found, on_end=self._scan_ended)
        self._update_actions()

    def _scan_ended(self) -> None:
        self.task = None
        self._update_actions()

    # -- saving ----------------------------------------------------------------------
    def save(self, then: Callable[[], None] | None = None) -> None:
        """Save the edits to the file itself: in place if possible, else rewritten."""
        doc = self.document
        if doc is None or not doc.modified or self.task is not None:
            return
        if can_save_in_place(doc.file):
            try:
                save_in_place(doc.file, doc.current)
            except VolviewError as exc:
                self._save_failed(exc)
                return
            self._saved(doc.file.path, then)
            return
        self._start_rewrite(None, then)

    def save_as(self) -> None:
        doc = self.document
        if doc is None or self.task is not None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Save image with edited header as", str(doc.file.path), SAVE_AS_FILTER
        )
        if path:
            self.save_to(Path(path))

    def save_to(self, destination: Path) -> None:
        """Write the image with the edited header to ``destination`` and show that file."""
        self._start_rewrite(Path(destination), None)

    def _start_rewrite(self, destination: Path | None, then) -> None:
        doc = self.document
        file, header = doc.file, doc.current
        target = destination or file.path

        def work(progress, cancelled):
            return save_rewrite(file, header, destination, progress=progress, cancelled=cancelled)

        self.task = run_with_progress(
            self.window,
            f"Writing {target.name}\u2026",
            work,
            on_done=lambda path: self._rewritten(destination, Path(path), then),
            on_error=self._save_failed,
            on_cancel=self._save_cancelled,
            cancel_types=(SaveCancelled,),
        )

    def _rewritten(self, destination: Path | None, path: Path, then) -> None:
        self.task = None
        if destination is None:
            self._saved(self.document.file.path, then)
            return
        self._open_saved_copy(path)

    def _saved(self, path: Path, then) -> None:
        try:
            self.document.mark_saved(read_header(path))
        except VolviewError as exc:
            self._save_failed(exc)
            return
        self._update_actions()
        self.window.statusBar().showMessage(f"Saved the header of {path.name}", 5000)
        if then is not None:
            then()

    def _open_saved_copy(self, path: Path) -> None:
        """After Save As: show the new file, keeping the cursor and the window."""
        cursor, window, t = self.state.cursor_ijk, self.state.window, self.state.t
        self._set_document(None)
        errors = self.session.open_paths([path])
        if errors:
            self.window.show_error_text("\n\n".join(str(e) for e in errors))
            return
        self.state.set_cursor(cursor)
        self.state.set_window(*window)
        self.state.set_time(t)
        self.window.statusBar().showMessage(f"Saved {path.name}", 5000)

    def _save_failed(self, exc: BaseException) -> None:
        self.task = None
        self.window.show_error_text(error_text(exc), "volview: could not save the header")

    def _save_cancelled(self) -> None:
        self.task = None
        self.window.statusBar().showMessage("Save cancelled; the file is unchanged", 5000)

    def wait_for_task(self) -> None:
        """Cancel a running save and wait for it (used when the window closes)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait()


def _looks_different(preview, shown) -> bool:
    """True when the preview changes geometry, orientation or values on screen."""
    a, b = preview.image, shown.image
    return (
        a.scaling != b.scaling
        or a.cal_range != b.cal_range
        or a.orientation_known != b.orientation_known
        or a.voxel_sizes != b.voxel_sizes
        or not (a.affine == b.affine).all()
    )
