"""Side panels of the main window: one way to make a dock and its View-menu toggle.

Owns: ``add_dock`` — a hidden QDockWidget holding a panel, placed in the window,
with a toggle action that names the panel, its shortcut and a tooltip.
"""

from __future__ import annotations

from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt


def add_dock(
    window: QtWidgets.QMainWindow,
    widget: QtWidgets.QWidget,
    *,
    title: str,
    name: str,
    menu_text: str,
    shortcut: str,
    tip: str,
    area=Qt.RightDockWidgetArea,
) -> tuple[QtWidgets.QDockWidget, QtWidgets.QAction]:
    """A hidden dock showing ``widget`` and its toggle action (``tip`` gets the shortcut)."""
    dock = QtWidgets.QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    dock.hide()
    window.addDockWidget(area, dock)
    toggle = dock.toggleViewAction()
    toggle.setText(menu_text)
    toggle.setShortcut(QtGui.QKeySequence(shortcut))
    toggle.setToolTip(f"{tip} ({shortcut})")
    return dock, toggle
