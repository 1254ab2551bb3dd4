"""AffineDialog: edit a header's qform or sform as a 4x4 voxel-to-world matrix.

Owns: a grid of 3x4 editable cells (the last row is fixed at 0 0 0 1), parsing of
what the user typed and the call to ``HeaderDocument.set_affine``. A refused matrix
(not a number, singular, non-finite) is explained in the dialog, which stays open.
For the qform, the quaternion, qoffset and qfac follow from the matrix.
"""

from __future__ import annotations

import numpy as np

from volview.core.header_edit import HeaderDocument
from volview.io.header import HeaderValueError
from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt


class AffineDialog(QtWidgets.QDialog):
    def __init__(self, document: HeaderDocument, which: str, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.which = which
        self.setWindowTitle(f"Edit {which} (voxel \u2192 world mm)")
        info = document.current.derived()
        start = info.qform if which == "qform" else info.sform
        if start is None:
            start = info.best_affine
        self.cells = [[QtWidgets.QLineEdit() for _ in range(4)] for _ in range(3)]
        grid = QtWidgets.QGridLayout()
        for r, row in enumerate(self.cells):
            for c, cell in enumerate(row):
                cell.setText(f"{float(start[r, c]):.6g}")
                cell.setToolTip(f"{which} row {r + 1}, column {c + 1}")
                grid.addWidget(cell, r, c)
        for c, v in enumerate((0, 0, 0, 1)):
            fixed = QtWidgets.QLabel(str(v))
            fixed.setAlignment(Qt.AlignCenter)
            grid.addWidget(fixed, 3, c)
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c02020")
        note = QtWidgets.QLabel(self._note())
        note.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
        )
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(note)
        box.addLayout(grid)
        box.addWidget(self.message)
        box.addWidget(buttons)

    def _note(self) -> str:
        if self.which == "qform":
            return (
                "A rotation, voxel sizes and a flip: the quaternion, qoffset, pixdim[1..3] and "
                "qfac are computed from it. Shears cannot be stored in a qform."
            )
        return "Any affine: written to srow_x, srow_y and srow_z."

    def matrix(self) -> np.ndarray:
        """The 4x4 matrix typed so far; raises HeaderValueError for a non-number."""
        matrix = np.eye(4)
        for r, row in enumerate(self.cells):
            for c, cell in enumerate(row):
                text = cell.text().strip()
                try:
                    matrix[r, c] = float(text)
                except ValueError:
                    raise HeaderValueError(
                        self.which, f"row {r + 1}, column {c + 1}: {text!r} is not a number"
                    ) from None
        return matrix

    def apply(self) -> None:
        try:
            self.document.set_affine(self.which, self.matrix())
        except HeaderValueError as exc:
            self.message.setText(str(exc))
            return
        self.accept()
