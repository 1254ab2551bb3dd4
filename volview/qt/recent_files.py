"""Recent files, the last folder and the empty window that offers them.

Owns: ``RecentFiles`` (the list in QSettings, newest first, at most ``MAX_RECENT``,
files that no longer exist pruned at start and whenever the list is shown), the
File > Open Recent submenu with "Clear recent", the folder the Open dialogs start
in (``last_folder``), and ``EmptyPage``: the drop-target hint of a window without an
image plus the recent files as buttons that open them. Paths only; no coordinates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from volview.qt.compat import QtCore, QtWidgets

Qt = QtCore.Qt
RECENT_KEY = "recent/files"
LAST_FOLDER_KEY = "recent/last_folder"
MAX_RECENT = 10
EMPTY_HINT = "Drop an image or a tractogram here, or use File \u203a Open\u2026 (Ctrl+O)"


def _as_list(raw) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw else []
    return [str(item) for item in raw]


class RecentFiles(QtCore.QObject):
    """The recently opened files (absolute paths as text), remembered in ``settings``."""

    changed = QtCore.pyqtSignal()

    def __init__(self, settings: QtCore.QSettings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.prune()

    def paths(self) -> list[str]:
        """The remembered files, newest first (including any that vanished since)."""
        return _as_list(self.settings.value(RECENT_KEY, None))[:MAX_RECENT]

    def _store(self, paths: list[str]) -> None:
        if paths != self.paths():
            self.settings.setValue(RECENT_KEY, paths[:MAX_RECENT])
            self.settings.sync()
            self.changed.emit()

    def add(self, path: str | os.PathLike) -> None:
        """Put ``path`` first (once), remember its folder, keep at most MAX_RECENT."""
        text = str(Path(path).absolute())
        self._store([text, *(p for p in self.paths() if p != text)])
        self.set_last_folder(str(Path(text).parent))

    def prune(self) -> list[str]:
        """Forget files that no longer exist; returns the ones left."""
        kept = [p for p in self.paths() if Path(p).exists()]
        self._store(kept)
        return kept

    def clear(self) -> None:
        self._store([])

    def follow(self, state, session) -> None:
        """Add every file ``session`` shows, whatever route opened it: images, image
        layers and tractograms (each when it is first added)."""
        session.opened.connect(
            lambda volume: self.add(volume.image.path) if volume.image.on_disk else None
        )
        self._known: dict[str, list] = {"overlays": [], "tracts": []}
        state.overlays_changed.connect(lambda: self._added(state, "overlays"))
        state.tracts_changed.connect(lambda: self._added(state, "tracts"))

    def _added(self, state, kind: str) -> None:
        layers = list(getattr(state, kind))
        for layer in layers:
            if layer not in self._known[kind]:
                source = layer.tractogram if kind == "tracts" else layer.image
                if getattr(source, "on_disk", True):  # not an array given in memory
                    self.add(source.path)
        self._known[kind] = layers

    def last_folder(self) -> str:
        """The folder of the last opened file ("" if none, or it has gone)."""
        folder = str(self.settings.value(LAST_FOLDER_KEY, "") or "")
        return folder if folder and Path(folder).is_dir() else ""

    def set_last_folder(self, folder: str) -> None:
        self.settings.setValue(LAST_FOLDER_KEY, folder)


class RecentMenu(QtWidgets.QMenu):
    """File > Open Recent: rebuilt (and pruned) each time it is shown."""

    def __init__(self, recent: RecentFiles, open_path: Callable[[str], None], parent=None):
        super().__init__("Open &Recent", parent)
        self.recent = recent
        self.open_path = open_path
        self.menuAction().setToolTip("Open one of the files opened lately")
        self.aboutToShow.connect(self.rebuild)
        recent.changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        paths = self.recent.paths()
        for n, path in enumerate(paths, start=1):
            name = Path(path).name.replace("&", "&&")
            action = self.addAction(f"&{n % 10}  {name}")
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.addSeparator()
        clear = self.addAction("&Clear recent", self.recent.clear)
        clear.setToolTip("Forget the list of recently opened files")
        clear.setEnabled(bool(paths))

    def showEvent(self, ev) -> None:
        self.recent.prune()  # before the entries are painted; rebuilds if any vanished
        super().showEvent(ev)


class EmptyPage(QtWidgets.QWidget):
    """What a window without an image shows: the drop hint and the recent files."""

    def __init__(self, recent: RecentFiles, open_path: Callable[[str], None], parent=None):
        super().__init__(parent)
        self.recent = recent
        self.open_path = open_path
        self.hint = QtWidgets.QLabel(EMPTY_HINT)
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setStyleSheet("font-size: 15px; color: palette(mid)")
        self.heading = QtWidgets.QLabel("Recent files")
        self.heading.setAlignment(Qt.AlignCenter)
        self.heading.setStyleSheet("font-weight: bold")
        self.buttons_box = QtWidgets.QVBoxLayout()
        self.buttons: list[QtWidgets.QPushButton] = []
        layout = QtWidgets.QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.hint)
        layout.addSpacing(24)
        layout.addWidget(self.heading)
        layout.addLayout(self.buttons_box)
        layout.addStretch(3)
        recent.changed.connect(self.refresh)
        self.refresh()

    def text(self) -> str:
        """The drop-target hint."""
        return self.hint.text()

    def refresh(self) -> None:
        for button in self.buttons:
            self.buttons_box.removeWidget(button)
            button.deleteLater()
        self.buttons = [self._button(path) for path in self.recent.paths()]
        for button in self.buttons:
            self.buttons_box.addWidget(button, 0, Qt.AlignHCenter)
        self.heading.setVisible(bool(self.buttons))

    def _button(self, path: str) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(Path(path).name)
        button.setFlat(True)
        button.setCursor(Qt.PointingHandCursor)
        button.setStyleSheet("color: palette(link); text-decoration: underline")
        button.setToolTip(f"Open {path}")
        button.clicked.connect(lambda _checked=False: self.open_path(path))
        return button

    def showEvent(self, ev) -> None:
        self.recent.prune()
        super().showEvent(ev)
