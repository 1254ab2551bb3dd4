"""One place that picks the Qt binding: PyQt5, imported before pyqtgraph.

Owns: the ``QtCore``/``QtGui``/``QtWidgets`` and ``pg`` names the rest of
``volview.qt`` imports. pyqtgraph would otherwise prefer PyQt6 or PySide6 when
they happen to be installed.
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PyQt5")

import PyQt5  # noqa: F401  (must come before pyqtgraph)
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

__all__ = ["QtCore", "QtGui", "QtWidgets", "pg"]
