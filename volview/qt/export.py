"""Screenshots of the views: File > Save screenshot… and Edit > Copy screenshot.

Owns: ``render_widget(widget, scale)`` — paints a widget (the views panel) into a
QImage ``scale`` times its size through a scaled QPainter, so that lines, labels and
the image are drawn at that resolution rather than a grab being enlarged — and the
``ExportController`` with its two actions and the scale dialog (1x to 4x). Output is
screen pixels; no voxel or world coordinates are involved.
"""

from __future__ import annotations

from pathlib import Path

from volview.errors import describe
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
SCALES = (1, 2, 3, 4)
COPY_SHORTCUT = "Ctrl+Alt+C"  # Ctrl+Shift+C centres the views on the cursor
SCALE_KEY = "export/scale"


def render_widget(widget: QtWidgets.QWidget, scale: int = 1) -> QtGui.QImage:
    """``widget`` and its children painted into an image ``scale`` x its size."""
    if scale not in SCALES:
        raise ValueError(f"screenshot scale must be one of {SCALES}, not {scale}")
    size = widget.size()
    image = QtGui.QImage(size.width() * scale, size.height() * scale, QtGui.QImage.Format_RGB32)
    image.fill(widget.palette().color(widget.backgroundRole()))
    painter = QtGui.QPainter(image)
    painter.setRenderHints(QtGui.QPainter.Antialiasing | QtGui.QPainter.TextAntialiasing)
    painter.scale(scale, scale)
    flags = QtWidgets.QWidget.DrawWindowBackground | QtWidgets.QWidget.DrawChildren
    widget.render(painter, QtCore.QPoint(), QtGui.QRegion(), flags)
    painter.end()
    return image


class ScaleDialog(QtWidgets.QDialog):
    """Asks for the screenshot's scale, showing the size in pixels each gives."""

    def __init__(self, size: QtCore.QSize, scale: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save screenshot")
        self.combo = QtWidgets.QComboBox()
        for s in SCALES:
            self.combo.addItem(f"{s}\u00d7  ({size.width() * s} \u00d7 {size.height() * s} px)", s)
        self.combo.setCurrentIndex(SCALES.index(scale) if scale in SCALES else 0)
        self.combo.setToolTip("Render the views at this multiple of their size on screen")
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
        )
        buttons.button(QtWidgets.QDialogButtonBox.Ok).setToolTip("Choose where to save it")
        buttons.button(QtWidgets.QDialogButtonBox.Cancel).setToolTip("Save nothing")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Scale", self.combo)
        form.addRow(buttons)

    def scale(self) -> int:
        return int(self.combo.currentData())


class ExportController(QtCore.QObject):
    """The screenshot actions of a window with ``ortho_view``, ``settings`` and
    ``show_error_text``; ``start_folder()`` (a callable) names where the file dialog opens."""

    def __init__(self, window, start_folder=lambda: "") -> None:
        super().__init__(window)
        self.window = window
        self.start_folder = start_folder
        self.save_action = QtWidgets.QAction("Save &screenshot\u2026", window)
        self.save_action.setToolTip("Save the views as a PNG image, at 1\u00d7 to 4\u00d7 size")
        self.save_action.triggered.connect(lambda _checked=False: self.save_dialog())
        self.copy_action = QtWidgets.QAction("Copy scree&nshot", window)
        self.copy_action.setShortcut(COPY_SHORTCUT)
        self.copy_action.setShortcutContext(Qt.WindowShortcut)
        self.copy_action.setToolTip(
            f"Copy the views to the clipboard as an image ({COPY_SHORTCUT})"
        )
        self.copy_action.triggered.connect(lambda _checked=False: self.copy())
        window.addAction(self.copy_action)
        window.state.volume_changed.connect(self._enable)
        self._enable(window.state.volume)

    def _enable(self, volume) -> None:
        for action in (self.save_action, self.copy_action):
            action.setEnabled(volume is not None)

    def panel(self) -> QtWidgets.QWidget:
        return self.window.ortho_view.views_panel

    def render(self, scale: int = 1) -> QtGui.QImage:
        return render_widget(self.panel(), scale)

    def copy(self) -> None:
        QtWidgets.QApplication.clipboard().setImage(self.render(1))
        self.window.statusBar().showMessage("Screenshot copied to the clipboard", 3000)

    def save(self, path: str | Path, scale: int = 1) -> bool:
        """Write the views to ``path`` (PNG); say so in a dialog if it fails."""
        if not self.render(scale).save(str(path), "PNG"):
            problem = "could not write the screenshot there (is the folder writable?)"
            self.window.show_error_text(describe(path, problem), "volview: could not save")
            return False
        self.window.statusBar().showMessage(f"Screenshot saved to {path}", 5000)
        return True

    def save_dialog(self) -> None:
        """Ask for the scale, then the file, then save."""
        settings = self.window.settings
        last = str(settings.value(SCALE_KEY, 1))
        scale = int(last) if last.isdigit() else 1
        dialog = ScaleDialog(self.panel().size(), scale, self.window)
        if dialog.exec_() != QtWidgets.QDialog.Accepted:
            return
        scale = dialog.scale()
        settings.setValue(SCALE_KEY, scale)
        volume = self.window.state.volume
        stem = volume.name.split(".")[0] if volume is not None else "volview"
        start = str(Path(self.start_folder() or Path.home()) / f"{stem}_screenshot.png")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Save screenshot", start, "PNG images (*.png)"
        )
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self.save(path, scale)
