"""HeaderPanel: the widget inside the "Header" dock.

Owns: the filter box and table (a QSortFilterProxyModel over HeaderTableModel), the
message line where a refused edit is explained next to the table, the list of
whole-header warnings, the derived values (qform/sform matrices and orientation
codes, voxel sizes with units, data type in words, extensions) and the buttons
(undo, redo, revert, affine editors, save, save as). It shows one HeaderDocument;
saving and file handling belong to ``header_dock.HeaderController``.
"""

from __future__ import annotations

import numpy as np

from volview.core.header_edit import HeaderDocument
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.header_model import FIELD, VALUE, HeaderDelegate, HeaderTableModel

Qt = QtCore.Qt
#: preferred width of the dock panel, so the views keep most of the window
PANEL_WIDTH = 420
DASH = "\u2014"


def matrix_text(matrix: np.ndarray | None) -> str:
    """A 4x4 matrix as aligned rows, or a dash when the header does not set it."""
    if matrix is None:
        return f"{DASH} (code 0: not set)"
    return "\n".join("  ".join(f"{v:10.4f}" for v in row) for row in np.asarray(matrix))


class HeaderPanel(QtWidgets.QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.document: HeaderDocument | None = None
        self.model = HeaderTableModel()
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.proxy.setFilterKeyColumn(FIELD)
        self.file_label = QtWidgets.QLabel()
        self.file_label.setWordWrap(True)
        self.filter_edit = QtWidgets.QLineEdit()
        self.filter_edit.setPlaceholderText("Filter fields (e.g. pixdim, form, scl)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only the fields whose name contains this text")
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = self._make_table()
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c02020")
        self.warnings = QtWidgets.QListWidget()
        self.warnings.setToolTip("Problems of the header as a whole (nothing is changed for you)")
        self.warnings.setMaximumHeight(110)
        self.warnings.setWordWrap(True)
        self.warnings.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.derived = QtWidgets.QLabel()
        self.derived.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.derived.setStyleSheet("font-family: monospace")
        self.derived.setToolTip("Values computed from the header fields (read-only)")
        self.buttons = QtWidgets.QHBoxLayout()  # edit history
        self.file_buttons = QtWidgets.QHBoxLayout()  # affines and saving
        self._build_layout()
        self.model.edit_refused.connect(self._on_refused)
        self.model.edit_accepted.connect(lambda _key: self.message.clear())
        self.set_document(None)

    def _make_table(self) -> QtWidgets.QTableView:
        table = QtWidgets.QTableView()
        table.setModel(self.proxy)
        table.setItemDelegate(HeaderDelegate(table))
        table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        table.setEditTriggers(
            QtWidgets.QAbstractItemView.DoubleClicked
            | QtWidgets.QAbstractItemView.EditKeyPressed
            | QtWidgets.QAbstractItemView.AnyKeyPressed
        )
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setAlternatingRowColors(True)
        return table

    def _build_layout(self) -> None:
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.file_label)
        box.addWidget(self.filter_edit)
        box.addWidget(self.table, stretch=4)
        box.addWidget(self.message)
        box.addLayout(self.buttons)
        box.addLayout(self.file_buttons)
        box.addWidget(QtWidgets.QLabel("Warnings"))
        box.addWidget(self.warnings)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.derived)
        scroll.setMaximumHeight(230)
        box.addWidget(QtWidgets.QLabel("Derived (read-only)"))
        box.addWidget(scroll, stretch=1)

    def add_button(self, action: QtWidgets.QAction, row: int = 0) -> QtWidgets.QToolButton:
        """A button for ``action`` in the first (history) or second (file) row."""
        button = QtWidgets.QToolButton()
        button.setDefaultAction(action)
        (self.buttons if row == 0 else self.file_buttons).addWidget(button)
        return button

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(PANEL_WIDTH, 600)

    # -- document --------------------------------------------------------------------
    def set_document(self, document: HeaderDocument | None, reason: str = "") -> None:
        """Show ``document``; with None, ``reason`` says why there is nothing to edit."""
        if self.document is not None:
            self.document.changed.disconnect(self.refresh)
        self.document = document
        self.model.set_document(document)
        self.message.clear()
        self.table.setEnabled(document is not None)
        if document is not None:
            document.changed.connect(self.refresh)
            self.table.resizeColumnsToContents()
        self.file_label.setText(reason if document is None else self._file_text(document))
        self.refresh()

    @staticmethod
    def _file_text(document: HeaderDocument) -> str:
        raw = document.current
        order = "little-endian" if raw.byteorder == "<" else "big-endian"
        return f"<b>{document.file.header_path.name}</b> \u2014 {raw.kind} header, {order}"

    def refresh(self) -> None:
        self.warnings.clear()
        if self.document is None:
            self.derived.clear()
            return
        raw = self.document.current
        for warning in raw.warnings():
            where = f"{warning.key}: " if warning.key else ""
            self.warnings.addItem(f"\u26a0 {where}{warning.message}")
        if not raw.warnings():
            self.warnings.addItem("No problems found")
        self.derived.setText(self._derived_text())

    def _derived_text(self) -> str:
        info = self.document.current.derived()
        lines = [
            f"voxel sizes  {info.voxel_sizes}",
            *([f"TR           {info.tr}"] if info.tr else []),
            f"data type    {info.data_type}",
            f"extensions   {info.n_extensions}",
            f"qform        {info.qform_orientation or DASH}",
            matrix_text(info.qform),
            f"sform        {info.sform_orientation or DASH}",
            matrix_text(info.sform),
        ]
        return "\n".join(lines)

    def select_key(self, key: str) -> None:
        """Scroll to and select the row of ``key`` (clearing the filter if it hides it)."""
        row = self.model.row_of(key)
        index = self.proxy.mapFromSource(self.model.index(row, VALUE))
        if not index.isValid():
            self.filter_edit.clear()
            index = self.proxy.mapFromSource(self.model.index(row, VALUE))
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)

    def _on_refused(self, key: str, message: str) -> None:
        self.message.setText(f"Not applied \u2014 {message}")
        self.select_key(key)
