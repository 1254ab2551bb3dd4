"""The time course of a compressed 4-D image is read off the GUI thread: a long read
never blocks the window, a read the cursor has moved away from is not plotted, and a
failed read is reported for the voxel it was for."""

from __future__ import annotations

import threading

import numpy as np

from tests.qt.conftest import open_and_wait
from tests.qt.test_time_dock import controller, oracle, plotted, wait_for_course, write_4d
from volview.errors import ImageReadError

ELLIPSIS = "\u2026"


def hold_series(proxy):
    """Make ``proxy.series`` wait for the returned event (on the reader's thread) and
    record the voxels it was asked for and the threads that asked."""
    gate, calls = threading.Event(), []
    read = proxy.series

    def held(ijk):
        calls.append((tuple(ijk), threading.current_thread()))
        assert gate.wait(timeout=30)
        return read(ijk)

    proxy.series = held
    return gate, calls


def test_a_long_read_leaves_the_window_answering(qtbot, window, tmp_path):
    path = write_4d(tmp_path / "bold.nii.gz")
    open_and_wait(qtbot, window, path)
    time, state = controller(window), window.state
    wait_for_course(qtbot, window)
    gate, calls = hold_series(state.volume.image.proxy)
    try:
        state.set_cursor((1, 2, 3))
        qtbot.waitUntil(lambda: len(calls) == 1)
        assert calls[0][1] is not threading.main_thread()
        assert time.reader.busy and time.dock.windowTitle().endswith(ELLIPSIS)
        state.set_time(5)  # the GUI thread is free meanwhile
        assert time.slider.value() == 5
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not time.reader.busy)
    qtbot.waitUntil(lambda: time.dock.windowTitle() == "Time course \u2014 voxel [1, 2, 3]")
    np.testing.assert_array_equal(plotted(window)[1], oracle(path, (1, 2, 3)))


def test_a_read_the_cursor_moved_away_from_is_not_plotted(qtbot, window, tmp_path):
    path = write_4d(tmp_path / "bold.nii.gz")
    open_and_wait(qtbot, window, path)
    time, state = controller(window), window.state
    wait_for_course(qtbot, window)
    drawn = []
    draw = time.plot.set_series
    time.plot.set_series = lambda values: drawn.append(np.array(values)) or draw(values)
    gate, calls = hold_series(state.volume.image.proxy)
    try:
        state.set_cursor((1, 1, 1))
        qtbot.waitUntil(lambda: len(calls) == 1)
        state.set_cursor((4, 3, 2))  # moved on while (1, 1, 1) is being read
    finally:
        gate.set()
    qtbot.waitUntil(lambda: [c[0] for c in calls] == [(1, 1, 1), (4, 3, 2)])
    qtbot.waitUntil(lambda: time.dock.windowTitle() == "Time course \u2014 voxel [4, 3, 2]")
    assert not time.reader.busy
    assert len(drawn) == 1
    np.testing.assert_array_equal(drawn[0], oracle(path, (4, 3, 2)))


def test_a_failed_background_read_is_reported(qtbot, window, tmp_path):
    path = write_4d(tmp_path / "bold.nii.gz")
    open_and_wait(qtbot, window, path)
    time, state = controller(window), window.state
    wait_for_course(qtbot, window)

    def broken(ijk):
        raise ImageReadError(f"{path}: could not read the voxel data (damaged)")

    state.volume.image.proxy.series = broken
    state.set_cursor((2, 2, 2))
    unreadable = "Time course \u2014 voxel [2, 2, 2] (unreadable)"
    qtbot.waitUntil(lambda: time.dock.windowTitle() == unreadable)
    assert "could not read the voxel data" in window.statusBar().currentMessage()
    assert time.plot.curve.getData() == (None, None)
