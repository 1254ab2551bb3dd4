"""File > Open raw…: a dialog for headerless voxel data, with a live preview and size check.

Owns: ``RawDialog`` (file, shape, data type, byte order, header offset, memory order,
voxel size; a preview of the middle axial plane and the line "file has N bytes, this
geometry needs M", OK enabled only when they agree) and ``RawController`` (the menu
action; opens the accepted file through ``Session.open_raw``, the one show-image
path). The preview reads one strided plane through ``open_raw``, never the whole file.

Coordinate spaces: the geometry is in voxel indices ``ijk`` (``NI NJ NK [NT]``) and
voxel sizes in mm; the preview shows plane ``k = NK // 2`` with ``i`` to the right and
``j`` up, as an axial view of an RAS image shows it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from volview.errors import VolviewError
from volview.io.proxy import file_size
from volview.io.raw import RAW_DTYPES, RawSpec, RawSpecError, expected_size, open_raw, size_hint
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
#: milliseconds of quiet after the last keystroke before the preview is read again
DEBOUNCE_MS = 150
#: the preview's longest side in pixels (the plane is read with a stride to fit)
PREVIEW_PIXELS = 256
MAX_INT = 2**31 - 1
ORDER_CHOICES = (("F", "F: first axis fastest (NIfTI)"), ("C", "C: last axis fastest (numpy)"))


class RawDialog(QtWidgets.QDialog):
    """Asks how to read a headerless file; ``spec()`` and ``path()`` once accepted."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, path: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open raw volume")
        #: the last preview plane as read (``(ni, nj)`` voxels, strided), or None
        self.preview_plane: np.ndarray | None = None
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self._build(path)
        self.refresh()

    # -- construction ----------------------------------------------------------------
    def _build(self, path: str) -> None:
        form = QtWidgets.QFormLayout()
        self.path_edit = QtWidgets.QLineEdit(path)
        browse = QtWidgets.QPushButton("Browse\u2026")
        browse.clicked.connect(lambda _checked=False: self._browse())
        form.addRow("File", _row(self.path_edit, browse))
        self.shape_boxes = [_spin_box(1, MAX_INT, 1) for _ in range(4)]
        form.addRow("Shape NI NJ NK NT", _row(*self.shape_boxes))
        self.dtype_box = _combo([(d, d) for d in RAW_DTYPES], "float32")
        form.addRow("Data type", self.dtype_box)
        self.byte_order_box = _combo([("little", "little-endian"), ("big", "big-endian")])
        form.addRow("Byte order", self.byte_order_box)
        self.offset_box = _spin_box(0, MAX_INT, 0)
        self.offset_box.setSuffix(" bytes")
        form.addRow("Header offset", self.offset_box)
        self.order_box = _combo(list(ORDER_CHOICES))
        form.addRow("Memory order", self.order_box)
        self.voxel_boxes = [_size_box() for _ in range(3)]
        form.addRow("Voxel size (mm)", _row(*self.voxel_boxes))
        self.check_label = QtWidgets.QLabel()
        self.check_label.setWordWrap(True)
        self.preview = QtWidgets.QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_PIXELS, PREVIEW_PIXELS)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(_side_by_side(form, self.preview))
        layout.addWidget(self.check_label)
        layout.addWidget(self.buttons)
        self._connect_changes()

    def _connect_changes(self) -> None:
        self.path_edit.textChanged.connect(self._schedule)
        for box in (*self.shape_boxes, self.offset_box, *self.voxel_boxes):
            box.valueChanged.connect(self._schedule)
        for box in (self.dtype_box, self.byte_order_box, self.order_box):
            box.currentIndexChanged.connect(self._schedule)

    def _last_folder(self) -> str:
        """The folder files were last opened from (the window's recent list), or ""."""
        recent = getattr(self.parent(), "recent", None)
        return recent.last_folder() if recent is not None else ""

    @property
    def ok_button(self) -> QtWidgets.QPushButton:
        return self.buttons.button(QtWidgets.QDialogButtonBox.Ok)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Raw volume", self.path_edit.text() or self._last_folder(), "All files (*)"
        )
        if path:
            self.path_edit.setText(path)

    # -- geometry --------------------------------------------------------------------
    def path(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def spec(self) -> RawSpec:
        """The geometry as typed; raises ``RawSpecError`` when it is impossible."""
        shape = [box.value() for box in self.shape_boxes]
        if shape[3] == 1:
            shape = shape[:3]
        return RawSpec(
            shape=tuple(shape),
            dtype=self.dtype_box.currentData(),
            byte_order=self.byte_order_box.currentData(),
            offset=self.offset_box.value(),
            order=self.order_box.currentData(),
            voxel_size=tuple(box.value() for box in self.voxel_boxes),
        )

    def set_spec(self, spec: RawSpec) -> None:
        """Fill the fields from ``spec`` (the preview follows after the debounce)."""
        for box, n in zip(self.shape_boxes, spec.shape4, strict=True):
            box.setValue(n)
        for box, value in (
            (self.dtype_box, spec.dtype),
            (self.byte_order_box, spec.byte_order),
            (self.order_box, spec.order),
        ):
            box.setCurrentIndex(box.findData(value))
        self.offset_box.setValue(spec.offset)
        for box, size in zip(self.voxel_boxes, spec.voxel_size, strict=True):
            box.setValue(size)

    # -- live check and preview ------------------------------------------------------
    def _schedule(self, *_args) -> None:
        self.ok_button.setEnabled(False)  # until the check has run on the new values
        self._timer.start()

    def refresh(self) -> None:
        """Check the file size against the geometry and read the preview plane."""
        self._timer.stop()
        matches = False
        try:
            spec = self.spec()
            text, matches = self._size_check(spec)
        except RawSpecError as exc:
            text = str(exc)
        self.check_label.setText(text)
        self.ok_button.setEnabled(matches)
        self._show_preview(spec if matches else None)

    def _size_check(self, spec: RawSpec) -> tuple[str, bool]:
        path = self.path()
        if not path.is_file():
            return ("choose a file" if not str(path) or str(path) == "." else "no such file"), False
        have, need = file_size(path), expected_size(spec)
        text = f"file has {have:,} bytes, this geometry needs {need:,}"
        if have == need:
            return f"{text} \u2713", True
        hint = size_hint(have, spec)
        return (f"{text}: {hint}" if hint else text), False

    def _show_preview(self, spec: RawSpec | None) -> None:
        self.preview_plane = None
        self.preview.clear()
        if spec is None:
            self.preview.setText("no preview until the sizes agree")
            return
        try:
            plane = read_preview(self.path(), spec)
        except (VolviewError, OSError, ValueError) as exc:
            self.preview.setText(f"cannot read the file: {exc}")
            return
        self.preview_plane = plane
        self.preview.setPixmap(plane_pixmap(plane, self.preview.minimumSize()))


def read_preview(path: Path, spec: RawSpec) -> np.ndarray:
    """The middle axial plane ``k = NK // 2`` of volume 0, strided to at most
    ``PREVIEW_PIXELS`` per side (reads that one plane only)."""
    image = open_raw(path, spec)
    try:
        ni, nj, nk, _ = image.shape
        steps = [max(1, math.ceil(n / PREVIEW_PIXELS)) for n in (ni, nj)]
        return image.proxy.plane(2, nk // 2, 0, tuple(slice(None, None, s) for s in steps))
    finally:
        image.close()


def plane_pixmap(plane: np.ndarray, size: QtCore.QSize) -> QtGui.QPixmap:
    """A grey pixmap of an ``(i, j)`` plane, ``i`` right and ``j`` up, min..max stretched."""
    finite = plane[np.isfinite(plane)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(plane, nan=lo) - lo) / ((hi - lo) or 1.0)
    grey = np.ascontiguousarray((np.clip(scaled, 0, 1) * 255).astype(np.uint8).T[::-1])
    rows, columns = grey.shape
    image = QtGui.QImage(grey.data, columns, rows, columns, QtGui.QImage.Format_Grayscale8)
    return QtGui.QPixmap.fromImage(image.copy()).scaled(
        size, Qt.KeepAspectRatio, Qt.FastTransformation
    )


class RawController:
    """The File > Open raw… action: ask with ``RawDialog``, then open through the session."""

    def __init__(self, window, state, session) -> None:
        self.window = window
        self.state = state
        self.session = session
        self.last_spec: RawSpec | None = None
        self.dialog: RawDialog | None = None
        self.action = QtWidgets.QAction("Open &raw\u2026", window)
        self.action.setToolTip("Open headerless voxel data, giving its shape and data type")
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())

    def open_dialog(self) -> RawDialog:
        """Show the dialog (window-modal, non-blocking); OK opens the file."""
        dialog = RawDialog(self.window)
        if self.last_spec is not None:
            dialog.set_spec(self.last_spec)
            dialog.refresh()
        dialog.accepted.connect(lambda: self.open_raw(dialog.path(), dialog.spec()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_raw(self, path: Path, spec: RawSpec) -> None:
        """Open ``path`` as ``spec`` in place of the current image (after unsaved header
        edits are saved or let go); errors are shown in the window's dialog."""
        self.last_spec = spec
        if not self.window.header.confirm_discard(then=lambda: self.open_raw(path, spec)):
            return
        try:
            self.session.open_raw(path, spec)
        except VolviewError as exc:
            self.window.show_error_text(str(exc))


def _spin_box(low: int, high: int, value: int) -> QtWidgets.QSpinBox:
    box = QtWidgets.QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setKeyboardTracking(True)
    return box


def _size_box() -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setDecimals(4)
    box.setRange(1e-4, 1e6)
    box.setValue(1.0)
    return box


def _combo(items: list[tuple[str, str]], current: str | None = None) -> QtWidgets.QComboBox:
    box = QtWidgets.QComboBox()
    for data, text in items:
        box.addItem(text, data)
    if current is not None:
        box.setCurrentIndex(box.findData(current))
    return box


def _row(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


def _side_by_side(form: QtWidgets.QFormLayout, preview: QtWidgets.QWidget) -> QtWidgets.QLayout:
    layout = QtWidgets.QHBoxLayout()
    layout.addLayout(form, 1)
    layout.addWidget(preview)
    return layout
