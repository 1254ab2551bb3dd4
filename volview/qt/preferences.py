"""Preferences: the settings users change, their QSettings keys and defaults, the dialog.

Owns: ``Setting`` and the registry ``PREFERENCES`` (the ONE place where each key and
default is spelled: cache budget, default colormap, display convention, streamline
cap), ``read_cache_budget_mb(settings)`` for the slice cache, the
``PreferencesDialog`` and the ``PreferencesController`` that applies them: the
convention at once, the cache budget to each image opened next, the colormap to each
newly opened image, the cap to each newly added tractogram. "Reset preferences"
removes these keys (not the recent files or the window layout) and applies the
defaults. No coordinates are involved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from volview.core.colormap_names import COLORMAPS, LABELS
from volview.core.tracts import DEFAULT_CAP
from volview.io.plane_cache import BUDGET_KEY, DEFAULT_BUDGET_MB, MB
from volview.qt.compat import QtCore, QtWidgets
from volview.qt.view_actions import RADIOLOGICAL_KEY

Qt = QtCore.Qt
CAP_RANGE = (1000, 100_000_000)  # as the tract panel's cap box
CACHE_RANGE_MB = (64, 65536)


def _int_in(lo: int, hi: int) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _one_of(names: tuple[str, ...]) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        if str(raw) not in names:
            raise ValueError(f"{raw!r} is not one of {names}")
        return str(raw)

    return parse


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text not in ("true", "false"):
        raise ValueError(f"{raw!r} is not true or false")
    return text == "true"


@dataclass(frozen=True)
class Setting:
    """One remembered preference: its QSettings key, default and parser.

    ``parse`` raises ValueError (or TypeError) for a stored value that is not
    usable, which then reads as the default.
    """

    key: str
    default: object
    parse: Callable[[object], object]

    def read(self, settings: QtCore.QSettings):
        raw = settings.value(self.key, None)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except (TypeError, ValueError):
            return self.default

    def write(self, settings: QtCore.QSettings, value) -> None:
        settings.setValue(self.key, self.parse(value))


CACHE_BUDGET_MB = Setting(BUDGET_KEY, DEFAULT_BUDGET_MB, _int_in(*CACHE_RANGE_MB))
COLORMAP = Setting("display/colormap", "gray", _one_of(COLORMAPS))
RADIOLOGICAL = Setting(RADIOLOGICAL_KEY, True, _bool)
TRACT_CAP = Setting("tracts/cap", DEFAULT_CAP, _int_in(*CAP_RANGE))
PREFERENCES = (CACHE_BUDGET_MB, COLORMAP, RADIOLOGICAL, TRACT_CAP)


def read_cache_budget_mb(settings: QtCore.QSettings) -> int:
    """The slice cache's memory budget in MB (default 1024, within 64..65536)."""
    return CACHE_BUDGET_MB.read(settings)


def reset_preferences(settings: QtCore.QSettings) -> None:
    """Forget every preference (they read as their defaults again)."""
    for setting in PREFERENCES:
        settings.remove(setting.key)
    settings.sync()


class PreferencesDialog(QtWidgets.QDialog):
    """Edits the preferences; OK writes them, "Reset preferences" restores defaults."""

    reset_requested = QtCore.pyqtSignal()

    def __init__(self, settings: QtCore.QSettings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("volview preferences")
        self.settings = settings
        self.cache = QtWidgets.QSpinBox()
        self.cache.setRange(*CACHE_RANGE_MB)
        self.cache.setSingleStep(256)
        self.cache.setSuffix(" MB")
        self.cache.setToolTip("Memory kept for recently read slices (64 MB to 64 GB)")
        self.colormap = QtWidgets.QComboBox()
        for name in COLORMAPS:
            self.colormap.addItem(LABELS[name], name)
        self.colormap.setToolTip("Colormap each newly opened image starts with")
        self.radiological = QtWidgets.QComboBox()
        self.radiological.addItem("Radiological (patient right on screen left)", True)
        self.radiological.addItem("Neurological (patient left on screen left)", False)
        self.radiological.setToolTip("How left and right are shown; applies at once")
        self.cap = QtWidgets.QSpinBox()
        self.cap.setRange(*CAP_RANGE)
        self.cap.setSingleStep(50_000)
        self.cap.setGroupSeparatorShown(True)
        self.cap.setToolTip("At most this many streamlines are drawn for a new tractogram")
        form = QtWidgets.QFormLayout(self)
        form.addRow("Slice cache", self.cache)
        form.addRow("Colormap of new images", self.colormap)
        form.addRow("Display convention", self.radiological)
        form.addRow("Streamline cap of new tractograms", self.cap)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
        )
        buttons.button(QtWidgets.QDialogButtonBox.Ok).setToolTip("Keep these preferences")
        buttons.button(QtWidgets.QDialogButtonBox.Cancel).setToolTip("Close without changes")
        self.reset_button = buttons.addButton(
            "Reset preferences", QtWidgets.QDialogButtonBox.ResetRole
        )
        self.reset_button.setToolTip("Restore every preference to its default (asks first)")
        self.reset_button.clicked.connect(self.reset_requested)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.load()

    def load(self) -> None:
        """Show the stored preferences."""
        s = self.settings
        self.cache.setValue(CACHE_BUDGET_MB.read(s))
        self.colormap.setCurrentIndex(COLORMAPS.index(COLORMAP.read(s)))
        self.radiological.setCurrentIndex(0 if RADIOLOGICAL.read(s) else 1)
        self.cap.setValue(TRACT_CAP.read(s))

    def store(self) -> None:
        """Write what the dialog shows."""
        s = self.settings
        CACHE_BUDGET_MB.write(s, self.cache.value())
        COLORMAP.write(s, self.colormap.currentData())
        RADIOLOGICAL.write(s, bool(self.radiological.currentData()))
        TRACT_CAP.write(s, self.cap.value())
        s.sync()


class PreferencesController(QtCore.QObject):
    """Edit > Preferences… (Ctrl+,) and the live effect of the preferences.

    ``window`` provides ``state``, ``session``, ``settings`` and the checkable
    ``radiological_action`` (whose toggling switches and remembers the convention).
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.state = window.state
        self.dialog: PreferencesDialog | None = None
        self.action = QtWidgets.QAction("&Preferences\u2026", window)
        self.action.setShortcut("Ctrl+,")
        self.action.setShortcutContext(Qt.WindowShortcut)
        self.action.setMenuRole(QtWidgets.QAction.PreferencesRole)
        self.action.setToolTip("Cache size, default colormap, convention, streamline cap (Ctrl+,)")
        self.action.triggered.connect(lambda _checked=False: self.show_dialog())
        window.addAction(self.action)
        self._known_tracts: list = []
        # before the tract panel and indexer hear of a new layer, so that they see its cap
        self.state.tracts_changed.connect(self._on_tracts_changed, priority=10)
        window.session.opened.connect(self._on_opened)
        if self.state.volume is None:
            self.state.set_colormap(COLORMAP.read(self.settings))
        self.apply()

    def show_dialog(self) -> PreferencesDialog:
        """Open the dialog (window-modal; returns it so tests can drive it)."""
        dialog = PreferencesDialog(self.settings, self.window)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._accepted(dialog))
        dialog.reset_requested.connect(lambda: self.confirm_reset(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _accepted(self, dialog: PreferencesDialog) -> None:
        dialog.store()
        self.apply()

    def confirm_reset(self, dialog: PreferencesDialog | None = None) -> None:
        """Ask, then forget every preference and apply the defaults."""
        answer = QtWidgets.QMessageBox.question(
            dialog or self.window,
            "Reset preferences",
            "Restore every preference to its default?\n"
            "(Recent files and the window layout are kept.)",
        )
        if answer == QtWidgets.QMessageBox.Yes:
            self.reset()
            if dialog is not None:
                dialog.load()

    def reset(self) -> None:
        reset_preferences(self.settings)
        self.apply()

    def apply(self) -> None:
        """Apply what takes effect now: the convention and the next image's cache."""
        self.window.session.cache_budget_bytes = read_cache_budget_mb(self.settings) * MB
        radiological = getattr(self.window, "radiological_action", None)
        if radiological is not None:  # None while the window builds its menus
            radiological.setChecked(RADIOLOGICAL.read(self.settings))

    def _on_opened(self, volume) -> None:
        """A newly opened image starts with the preferred colormap."""
        if volume is self.state.volume:
            self.state.set_colormap(COLORMAP.read(self.settings))

    def _on_tracts_changed(self) -> None:
        """A newly added tractogram gets the preferred streamline cap."""
        cap = TRACT_CAP.read(self.settings)
        for layer in self.state.tracts:
            if layer not in self._known_tracts:
                layer.set_style(cap=cap)
        self._known_tracts = list(self.state.tracts)
