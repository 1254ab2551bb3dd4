"""TimeController: the volume controls and the time-course plot of a 4-D image.

Owns: the "Volumes" toolbar (slider, volume spin box, previous/next, play/pause and
the movie's frames per second); the movie timer, which advances ``state.t`` and
wraps around to the first volume; the previous/next volume actions (``-`` and
``+``/``=``, active while the focus is in the views, the toolbar or the dock, so that
the header table still takes those keys as values); and the "Time course" dock
(View > Time course, Ctrl+Shift+V): the voxel under the cursor through all volumes,
a marker at the current volume, a click on the plot shows the nearest volume. The
same plot fills the fourth cell of the 2x2 grid (View > Time course in the grid).
For a 3-D image all of it is hidden and disabled.
Coordinate spaces: ``state.t`` is 0-based; the spin box shows ``t + 1``; the plot's
x axis is seconds when the header gives the time between volumes, else the 1-based
volume number (``core.timecourse``). The time course comes from
``Volume.time_course``: one voxel through all volumes, never whole volumes (for a
compressed file, read off the GUI thread by ``volview.qt.time_course_reader``); the
plot widget is ``volview.qt.time_plot``.
"""

from __future__ import annotations

import numpy as np

from volview.core.timecourse import describe_volume, time_axis
from volview.errors import VolviewError
from volview.qt.compat import QtCore, QtGui, QtWidgets
from volview.qt.docks import add_dock
from volview.qt.time_course_reader import TimeCourseReader
from volview.qt.time_plot import PLOT_HEIGHT, TimeCoursePlot

Qt = QtCore.Qt
DEFAULT_FPS = 10.0
FPS_RANGE = (0.5, 60.0)
ERROR_MESSAGE_MS = 8000
#: a compressed file's time course is read once the cursor has rested this long
SETTLE_MS = 200
DOCK_TITLE = "Time course"


class TimeController(QtCore.QObject):
    """Volume toolbar, movie, volume-step actions and the time-course dock of a window."""

    def __init__(self, window: QtWidgets.QMainWindow, state) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.movie = QtCore.QTimer(self)
        self.movie.timeout.connect(self.advance)
        self._settle = QtCore.QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._read_plot)
        self.reader = TimeCourseReader(self)  # compressed files: off the GUI thread
        self.reader.arrived.connect(self._show_course)
        self.reader.failed.connect(self._show_unreadable)
        window.destroyed.connect(self.reader.close)
        self._dock_wanted = True  # the user's choice; a 3-D image hides the dock anyway
        self._dock_sized = False
        self._build_actions()
        self._build_toolbar()
        self._build_dock()
        self._bind_step_keys()
        self.set_fps(DEFAULT_FPS)
        state.volume_changed.connect(self._on_volume_changed)
        state.cursor_changed.connect(lambda _ijk: self.refresh_plot())
        state.time_changed.connect(self._on_time_changed)
        self._on_volume_changed(state.volume)

    # -- construction ----------------------------------------------------------------
    def _build_actions(self) -> None:
        icon = self.window.style().standardIcon
        self._play_icon = icon(QtWidgets.QStyle.SP_MediaPlay)
        self._pause_icon = icon(QtWidgets.QStyle.SP_MediaPause)
        self.prev_action = self._action(
            "&Previous volume",
            ["-"],
            "Show the previous volume",
            icon(QtWidgets.QStyle.SP_MediaSeekBackward),
        )
        self.prev_action.triggered.connect(lambda: self.step(-1))
        self.next_action = self._action(
            "&Next volume",
            ["+", "="],
            "Show the next volume",
            icon(QtWidgets.QStyle.SP_MediaSeekForward),
        )
        self.next_action.triggered.connect(lambda: self.step(1))
        self.play_action = self._action(
            "Play &movie",
            [],
            "Play or pause the movie: the volumes one after another",
            self._play_icon,
        )
        self.play_action.setCheckable(True)
        self.play_action.toggled.connect(self.set_playing)

    def _action(self, text: str, keys: list[str], tip: str, icon) -> QtWidgets.QAction:
        action = QtWidgets.QAction(icon, text, self.window)
        if keys:
            action.setShortcuts([QtGui.QKeySequence(key) for key in keys])
            # not window-wide: "-" typed into the header table starts editing a value
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            tip = f"{tip} ({' or '.join(keys)})"
        action.setToolTip(tip)
        return action

    def _bind_step_keys(self) -> None:
        """``+``/``-`` act over the views, the volume toolbar and the time-course dock."""
        for widget in (self.window.centralWidget(), self.dock):
            widget.addActions([self.prev_action, self.next_action])

    def _build_toolbar(self) -> None:
        self.toolbar = QtWidgets.QToolBar("Volumes", self.window)
        self.toolbar.setObjectName("volume_toolbar")
        self.slider = QtWidgets.QSlider(Qt.Horizontal)
        self.slider.setMinimumWidth(200)
        self.slider.setPageStep(10)
        self.slider.setToolTip("Volume shown (drag to move through the volumes; Shift+wheel)")
        self.slider.valueChanged.connect(self.state.set_time)
        self.spin = QtWidgets.QSpinBox()
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("Volume shown, counted from 1 (type a number and press Enter)")
        self.spin.valueChanged.connect(lambda number: self.state.set_time(number - 1))
        self.fps_spin = QtWidgets.QDoubleSpinBox()
        self.fps_spin.setRange(*FPS_RANGE)
        self.fps_spin.setDecimals(1)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setToolTip("Movie speed: volumes shown per second")
        self.fps_spin.valueChanged.connect(self.set_fps)
        label = QtWidgets.QLabel(" Volume ")
        label.setToolTip("The volume of the 4-D image shown in the views")
        self.toolbar.addWidget(label)
        self.toolbar.addAction(self.prev_action)
        self.toolbar.addWidget(self.slider)
        self.toolbar.addAction(self.next_action)
        self.toolbar.addWidget(self.spin)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.play_action)
        self.toolbar.addWidget(self.fps_spin)
        self.toolbar.toggleViewAction().setToolTip("Show or hide the volume controls")
        self.window.addToolBar(Qt.TopToolBarArea, self.toolbar)

    def _build_dock(self) -> None:
        self.plot = TimeCoursePlot()  # in the dock
        self.cell_plot = TimeCoursePlot()  # in the 2x2 grid's fourth cell
        for plot in (self.plot, self.cell_plot):
            plot.volume_clicked.connect(self.state.set_time)
        self.cell_plot.shown.connect(self.refresh_plot)
        self.cell_action = QtWidgets.QAction("Time course in the 2\u00d72 &grid", self.window)
        self.cell_action.setToolTip(
            "Show the time course of a 4-D image in the grid's fourth cell (else the info pane)"
        )
        self.cell_action.setCheckable(True)
        self.cell_action.setChecked(True)
        self.cell_action.toggled.connect(lambda _on: self._place_cell_plot())
        self.dock, self.toggle_action = add_dock(
            self.window,
            self.plot,
            title=DOCK_TITLE,
            name="time_course_dock",
            menu_text="T&ime course",
            shortcut="Ctrl+Shift+V",
            tip="Show or hide the plot of the cursor voxel through all volumes",
            area=Qt.BottomDockWidgetArea,
        )
        self.dock.visibilityChanged.connect(self._on_dock_visibility)
        self.dock.installEventFilter(self)  # its close button says "not wanted"
        self.toggle_action.triggered.connect(self._on_toggle_triggered)

    @property
    def view_actions(self) -> list[QtWidgets.QAction]:
        """The actions of the View menu, in menu order."""
        return [
            self.toggle_action, self.cell_action, self.play_action, self.prev_action,
            self.next_action,
        ]  # fmt: skip

    # -- volume index ----------------------------------------------------------------
    def is_time_series(self) -> bool:
        volume = self.state.volume
        return volume is not None and volume.n_volumes > 1

    def step(self, n_steps: int) -> None:
        """Show the volume ``n_steps`` after (or before) the current one (clamped)."""
        if self.is_time_series():
            self.state.set_time(self.state.t + n_steps)

    def advance(self) -> None:
        """The movie's next frame: the next volume, back to the first after the last."""
        if not self.is_time_series():
            self.set_playing(False)
            return
        self.state.set_time((self.state.t + 1) % self.state.volume.n_volumes)

    def set_playing(self, playing: bool) -> None:
        """Start or stop the movie (a 3-D image never plays)."""
        playing = bool(playing) and self.is_time_series()
        if playing:
            self.movie.start()
        else:
            self.movie.stop()
        with QtCore.QSignalBlocker(self.play_action):
            self.play_action.setChecked(playing)
        self.play_action.setIcon(self._pause_icon if playing else self._play_icon)
        self.play_action.setText("Pause &movie" if playing else "Play &movie")

    def set_fps(self, fps: float) -> None:
        """Movie speed in volumes per second (clamped to the spin box's range)."""
        fps = min(max(float(fps), FPS_RANGE[0]), FPS_RANGE[1])
        self.movie.setInterval(round(1000 / fps))
        if self.fps_spin.value() != fps:
            with QtCore.QSignalBlocker(self.fps_spin):
                self.fps_spin.setValue(fps)

    # -- state -> widgets ------------------------------------------------------------
    def _on_volume_changed(self, volume) -> None:
        is_4d = self.is_time_series()
        self.set_playing(self.movie.isActive() and is_4d)
        for action in (self.play_action, self.prev_action, self.next_action):
            action.setEnabled(is_4d)
        self.toggle_action.setEnabled(is_4d)
        self.cell_action.setEnabled(is_4d)
        self._place_cell_plot()
        self.toolbar.setVisible(is_4d)
        self.toolbar.toggleViewAction().setEnabled(is_4d)
        if not is_4d:
            self.dock.hide()
            self.dock.setWindowTitle(DOCK_TITLE)
            for plot in (self.plot, self.cell_plot):
                plot.set_axis(np.zeros(0), "")
                plot.clear_series()
            return
        n = volume.n_volumes
        with QtCore.QSignalBlocker(self.slider), QtCore.QSignalBlocker(self.spin):
            self.slider.setRange(0, n - 1)
            self.spin.setRange(1, n)
            self.spin.setSuffix(f" / {n}")
        for plot in (self.plot, self.cell_plot):
            plot.set_axis(*time_axis(n, volume.image.time_step))
        self.dock.setVisible(self._dock_wanted)
        self._on_time_changed(self.state.t)
        self.refresh_plot()

    def _on_time_changed(self, t: int) -> None:
        with QtCore.QSignalBlocker(self.slider), QtCore.QSignalBlocker(self.spin):
            self.slider.setValue(t)
            self.spin.setValue(t + 1)
        for plot in (self.plot, self.cell_plot):
            plot.set_current(t)
        volume = self.state.volume
        if volume is not None:
            self.slider.setToolTip(
                f"{describe_volume(t, volume.n_volumes, volume.image.time_step)} "
                "(drag to move through the volumes; Shift+wheel over a view)"
            )

    def _place_cell_plot(self) -> None:
        wanted = self.is_time_series() and self.cell_action.isChecked()
        self.window.ortho_view.set_cell_widget(self.cell_plot if wanted else None)

    def shown_plots(self) -> list[TimeCoursePlot]:
        """The plots on screen: the dock's and the one in the grid's fourth cell."""
        return [plot for plot in (self.plot, self.cell_plot) if plot.isVisible()]

    def refresh_plot(self) -> None:
        """Plot the cursor voxel's time course (only while a plot is shown).

        A memory-mapped file is read at once. A compressed one costs a decompression
        per volume, and the first read of a large one a pass over the whole stream, so
        it is read once the cursor has rested and on a background thread
        (``TimeCourseReader``): neither a drag nor a long read blocks the window.
        """
        self._settle.stop()
        if not self.is_time_series() or not self.shown_plots():
            return
        if self.state.volume.image.proxy.random_access:
            self._read_plot()
            return
        self._set_titles(f"{self._voxel_title()} \u2026")
        self._settle.start()

    def _voxel_title(self) -> str:
        i, j, k = self.state.cursor_ijk
        return f"{DOCK_TITLE} \u2014 voxel [{i}, {j}, {k}]"

    def _set_titles(self, title: str) -> None:
        self.dock.setWindowTitle(title)
        self.cell_plot.setTitle(title, size="9pt")

    def _read_plot(self) -> None:
        if not self.is_time_series() or not self.shown_plots():
            return
        volume, ijk = self.state.volume, self.state.cursor_ijk
        if not volume.image.proxy.random_access:
            self.reader.request(volume, ijk)  # _show_course or _show_unreadable follows
            return
        try:
            values = volume.time_course(ijk)
        except VolviewError as exc:
            self._show_unreadable(volume, ijk, str(exc))
            return
        self._show_course(volume, ijk, values)

    def _still_shown(self, volume, ijk) -> bool:
        """Whether a read for ``volume`` at ``ijk`` is still the one to plot."""
        return volume is self.state.volume and tuple(ijk) == tuple(self.state.cursor_ijk)

    def _show_course(self, volume, ijk, values: np.ndarray) -> None:
        if not self._still_shown(volume, ijk):
            return  # the cursor moved on: its own read follows
        for plot in self.shown_plots():
            plot.set_series(values)
            plot.set_current(self.state.t)
        self._set_titles(self._voxel_title())

    def _show_unreadable(self, volume, ijk, message: str) -> None:
        if not self._still_shown(volume, ijk):
            return
        for plot in self.shown_plots():
            plot.clear_series()
        self._set_titles(f"{self._voxel_title()} (unreadable)")
        self.window.statusBar().showMessage(
            f"Could not read the time course: {message}", ERROR_MESSAGE_MS
        )

    # -- dock ------------------------------------------------------------------------
    def _on_dock_visibility(self, visible: bool) -> None:
        if not visible:
            return
        if not self._dock_sized:  # the first time, a plot's height, not what is left
            self._dock_sized = True
            self.window.resizeDocks([self.dock], [PLOT_HEIGHT], Qt.Vertical)
        self.refresh_plot()

    def _on_toggle_triggered(self, checked: bool) -> None:
        self._dock_wanted = checked

    def eventFilter(self, watched, event) -> bool:
        if watched is self.dock and event.type() == QtCore.QEvent.Close:
            self._dock_wanted = False
        return super().eventFilter(watched, event)
