"""The Help menu: the keyboard and mouse reference and the About dialog.

Owns: ``shortcut_rows(window)`` — the keys of the window's actual QActions (so the
list can never disagree with the menus) — plus ``VIEW_GESTURES``, the mouse gestures
and view keys that are not actions (README.md's table lists the same ones), the
``ShortcutsDialog``, ``library_versions()`` and the ``AboutDialog`` (versions,
licences, the demo data's notice), and the ``HelpController`` with its two actions.
The gesture texts name world directions (R, A, S) as the views do.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata, resources

import volview
from volview.qt.compat import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt
#: gestures of the slice views that no QAction carries: (gesture, what it does)
VIEW_GESTURES = (
    ("Left click / drag", "move the cursor; the other views follow"),
    (
        "Wheel, \u2191/\u2193, PageUp/PageDown",
        "previous/next slice in the view under the pointer (toward R, A, S); with Shift \u00d710",
    ),
    ("Shift+wheel", "next/previous volume of a 4-D image (on a 3-D image: \u00d710 slices)"),
    ("Ctrl+wheel", "zoom; linked views zoom together"),
    ("Middle drag, Shift+left drag", "pan"),
    (
        "Right drag",
        "window/level of the selected layer: right/left widens/narrows, "
        "up/down raises/lowers the level",
    ),
    ("Double click", "show this view alone / the whole layout again"),
)
#: what the window does with dropped files
DROP_GESTURE = ("Drop files", "open them; with Ctrl or Shift held, images are added as overlays")
#: distribution names of the libraries the About dialog lists
LIBRARIES = ("numpy", "nibabel", "pyqtgraph", "rapidgzip", "psygnal", "PyQt5")


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("\u2026. ")


def _menu_of(action: QtWidgets.QAction) -> str:
    menus = [w for w in action.associatedWidgets() if isinstance(w, QtWidgets.QMenu)]
    return _clean(menus[0].title()) if menus else ""


def shortcut_rows(window: QtWidgets.QWidget) -> list[tuple[str, str, str]]:
    """(keys, action, menu) for every action of ``window`` that has a shortcut."""
    rows, seen = [], set()
    for action in window.findChildren(QtWidgets.QAction):
        keys = [k.toString(QtGui.QKeySequence.PortableText) for k in action.shortcuts()]
        keys = [k for k in keys if k]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        rows.append((" or ".join(keys), _clean(action.text()), _menu_of(action)))
    return sorted(rows, key=lambda row: (row[2], row[1]))


class ShortcutsDialog(QtWidgets.QDialog):
    """A table of the keyboard shortcuts and the mouse gestures of the views."""

    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        rows = [(g, text, "Views") for g, text in VIEW_GESTURES]
        rows += [(*DROP_GESTURE, "Window"), *shortcut_rows(window)]
        self.table = QtWidgets.QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Key or gesture", "Action", "Where"])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        for column, mode in enumerate(
            (header.ResizeToContents, header.Stretch, header.ResizeToContents)
        ):
            header.setSectionResizeMode(column, mode)
        self.table.setWordWrap(True)
        self.table.setToolTip("Single keys (L, F, G, R) act while the pointer is over a view")
        _lay_out(self, self.table, "Close this reference", (900, 600))

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.table.resizeRowsToContents()  # wrapped at the width the table now has

    def texts(self) -> list[str]:
        """Every cell's text, row by row (for tests and searching)."""
        table = self.table
        return [table.item(r, c).text() for r in range(table.rowCount()) for c in range(3)]


def _licence(dist: metadata.PackageMetadata) -> str:
    expression = dist.get("License-Expression")
    if expression:
        return expression
    text = (dist.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 60:
        return text
    classifiers = [c for c in dist.get_all("Classifier") or [] if c.startswith("License ::")]
    return classifiers[0].split("::")[-1].strip() if classifiers else "see the package"


def library_versions() -> list[tuple[str, str, str]]:
    """(name, version, licence) of Python, Qt and each library volview uses."""
    rows = [
        ("Python", platform.python_version(), "PSF-2.0"),
        ("Qt", QtCore.QT_VERSION_STR, "LGPL-3.0 (as shipped in the PyQt5 wheels)"),
    ]
    for name in LIBRARIES:
        try:
            dist = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", ""))
            continue
        rows.append((name, dist["Version"], _licence(dist)))
    return rows


def project_licence() -> str:
    """volview's licence, as its package metadata (pyproject.toml) states it."""
    try:
        return _licence(metadata.metadata("volview"))
    except metadata.PackageNotFoundError:
        return "MIT"


def demo_notice() -> str:
    return (resources.files("volview.resources.demo") / "NOTICE.txt").read_text("utf-8")


def about_html() -> str:
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td><td>{html.escape(lic)}</td></tr>"
        for n, v, lic in library_versions()
    )
    return (
        f"<h2>volview {html.escape(volview.__version__)}</h2>"
        "<p>A fast, lazy desktop viewer for NIfTI and other volumetric images.</p>"
        f"<p>Licence: {html.escape(project_licence())}</p>"
        "<h3>Libraries</h3><table cellspacing='6'>"
        f"<tr><th align='left'>name</th><th align='left'>version</th>"
        f"<th align='left'>licence</th></tr>{rows}</table>"
        f"<h3>Demo data</h3><pre>{html.escape(demo_notice())}</pre>"
    )


class AboutDialog(QtWidgets.QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About volview")
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setHtml(about_html())
        self.browser.setToolTip("Versions and licences of volview and what it is built on")
        _lay_out(self, self.browser, "Close this window", (640, 560))


class HelpController(QtCore.QObject):
    """Help > Keyboard and mouse shortcuts (F1) and Help > About volview."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: QtWidgets.QDialog | None = None
        self.shortcuts_action = QtWidgets.QAction("&Keyboard and mouse shortcuts", window)
        self.shortcuts_action.setShortcut("F1")
        self.shortcuts_action.setShortcutContext(Qt.WindowShortcut)
        self.shortcuts_action.setToolTip("List every key and mouse gesture (F1)")
        self.shortcuts_action.triggered.connect(lambda _checked=False: self.show_shortcuts())
        window.addAction(self.shortcuts_action)
        self.about_action = QtWidgets.QAction("&About volview", window)
        self.about_action.setMenuRole(QtWidgets.QAction.AboutRole)
        self.about_action.setToolTip("Version, library versions and licences")
        self.about_action.triggered.connect(lambda _checked=False: self.show_about())

    def fill_menu(self, menu: QtWidgets.QMenu) -> None:
        menu.addActions([self.shortcuts_action, self.about_action])

    def _show(self, dialog: QtWidgets.QDialog) -> QtWidgets.QDialog:
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        return self._show(ShortcutsDialog(self.window))

    def show_about(self) -> AboutDialog:
        return self._show(AboutDialog(self.window))


def _lay_out(dialog: QtWidgets.QDialog, content, close_tip: str, size) -> None:
    """``content`` above a Close button, at ``size`` (width, height)."""
    close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
    close.button(QtWidgets.QDialogButtonBox.Close).setToolTip(close_tip)
    close.rejected.connect(dialog.reject)
    layout = QtWidgets.QVBoxLayout(dialog)
    layout.addWidget(content)
    layout.addWidget(close)
    dialog.resize(*size)
