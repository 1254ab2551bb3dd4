"""The header table: a QAbstractTableModel over a HeaderDocument, and its editors.

Owns: one row per header item (a scalar field or one element of an array field,
e.g. ``pixdim[1]``), columns Field / Value / Type, tooltips with the field's
description (or why it is read-only), and the type-appropriate editors: combo
boxes for codes, spin boxes for small integers, length-limited text, and free text
for floats so that any precision can be typed. An edit the document refuses is not
applied; the model reports it through ``edit_refused(key, message)``.
"""

from __future__ import annotations

import numpy as np

from volview.core.header_edit import HeaderDocument
from volview.io.header import HeaderItem, HeaderValueError
from volview.io.header_fields import ValueKind
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
COLUMNS = ("Field", "Value", "Type")
FIELD, VALUE, TYPE = range(3)
#: role carrying the item key of a row (for filters and tests)
KEY_ROLE = Qt.UserRole + 1
CHANGED_BRUSH = QtGui.QBrush(QtGui.QColor(255, 236, 160))
READ_ONLY_BRUSH = QtGui.QBrush(QtGui.QColor(120, 120, 120))


def type_name(item: HeaderItem) -> str:
    """The on-disk type of a row in C words, e.g. ``float32``, ``char[80]``, ``int16 code``."""
    dtype = item.spec.dtype
    if dtype.kind == "S":
        return f"char[{dtype.itemsize}]"
    name = dtype.name
    return f"{name} code" if item.spec.kind is ValueKind.CODE else name


class HeaderTableModel(QtCore.QAbstractTableModel):
    edit_refused = QtCore.pyqtSignal(str, str)  # key, message
    edit_accepted = QtCore.pyqtSignal(str)  # key

    def __init__(self, document: HeaderDocument | None = None, parent=None) -> None:
        super().__init__(parent)
        self.document: HeaderDocument | None = None
        self._items: tuple[HeaderItem, ...] = ()
        self._changed: frozenset[str] = frozenset()
        self.set_document(document)

    def set_document(self, document: HeaderDocument | None) -> None:
        self.beginResetModel()
        if self.document is not None:
            self.document.changed.disconnect(self._on_changed)
        self.document = document
        self._items = document.current.items() if document is not None else ()
        self._changed = self._changed_keys()
        if document is not None:
            document.changed.connect(self._on_changed)
        self.endResetModel()

    def item(self, row: int) -> HeaderItem:
        return self._items[row]

    def row_of(self, key: str) -> int:
        return next(row for row, item in enumerate(self._items) if item.key == key)

    # -- Qt model interface ------------------------------------------------------------
    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._items)

    def columnCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return COLUMNS[section]
        return None

    def flags(self, index):
        base = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if index.column() == VALUE and self._items[index.row()].spec.editable:
            return base | Qt.ItemIsEditable
        return base

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or self.document is None:
            return None
        item = self._items[index.row()]
        if role == Qt.DisplayRole:
            return self._display(item, index.column())
        if role == Qt.EditRole:
            return self.document.current.value(item.key)
        if role == Qt.ToolTipRole:
            return self._tooltip(item)
        if role == KEY_ROLE:
            return item.key
        if role == Qt.BackgroundRole and item.key in self._changed:
            return CHANGED_BRUSH
        if role == Qt.ForegroundRole and not item.spec.editable:
            return READ_ONLY_BRUSH
        return None

    def setData(self, index, value, role=Qt.EditRole) -> bool:
        if role != Qt.EditRole or self.document is None or not index.isValid():
            return False
        key = self._items[index.row()].key
        try:
            self.document.edit(key, value)
        except HeaderValueError as exc:
            self.edit_refused.emit(key, str(exc))
            return False
        self.edit_accepted.emit(key)
        return True

    # -- internals ---------------------------------------------------------------------
    def _display(self, item: HeaderItem, column: int) -> str:
        if column == FIELD:
            return item.key
        if column == TYPE:
            return type_name(item)
        return self.document.current.text(item.key)

    @staticmethod
    def _tooltip(item: HeaderItem) -> str:
        if item.spec.editable:
            return item.description
        return f"{item.description}\nRead-only: {item.spec.readonly_reason}"

    def _changed_keys(self) -> frozenset[str]:
        doc = self.document
        return frozenset(doc.current.changed_keys(doc.saved)) if doc is not None else frozenset()

    def _on_changed(self) -> None:
        self._changed = self._changed_keys()
        if self._items:
            last = self.index(len(self._items) - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)


class HeaderDelegate(QtWidgets.QStyledItemDelegate):
    """Editors by field kind: combo for codes, spin box for small ints, text otherwise."""

    def createEditor(self, parent, option, index):
        item = self._item(index)
        if item is None:
            return super().createEditor(parent, option, index)
        kind = item.spec.kind
        if kind is ValueKind.CODE:
            combo = QtWidgets.QComboBox(parent)
            for code, label in item.spec.codes:
                combo.addItem(f"{code} ({label})", code)
            return combo
        if kind is ValueKind.INT and np.iinfo(item.spec.dtype).bits <= 16:
            spin = QtWidgets.QSpinBox(parent)
            info = np.iinfo(item.spec.dtype)
            spin.setRange(int(info.min), int(info.max))
            return spin
        edit = QtWidgets.QLineEdit(parent)
        if kind is ValueKind.TEXT:
            edit.setMaxLength(item.spec.dtype.itemsize)
        return edit

    def setEditorData(self, editor, index) -> None:
        value = index.model().data(index, Qt.EditRole)
        if isinstance(editor, QtWidgets.QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(int(value))))
        elif isinstance(editor, QtWidgets.QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QtWidgets.QLineEdit):
            editor.setText(index.model().data(index, Qt.DisplayRole))
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor, model, index) -> None:
        if isinstance(editor, QtWidgets.QComboBox):
            model.setData(index, int(editor.currentData()), Qt.EditRole)
        elif isinstance(editor, QtWidgets.QSpinBox):
            model.setData(index, int(editor.value()), Qt.EditRole)
        elif isinstance(editor, QtWidgets.QLineEdit):
            model.setData(index, editor.text(), Qt.EditRole)
        else:
            super().setModelData(editor, model, index)

    @staticmethod
    def _item(index) -> HeaderItem | None:
        model = index.model()
        while isinstance(model, QtCore.QSortFilterProxyModel):
            index = model.mapToSource(index)
            model = model.sourceModel()
        return model.item(index.row()) if isinstance(model, HeaderTableModel) else None
