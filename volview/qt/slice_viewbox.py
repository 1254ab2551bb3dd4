"""SliceViewBox: the mouse gestures of one slice view (interaction-conventions.md §3).

- left click/drag: move the cursor; middle drag or Shift+left drag: pan; with an
  ``edit_handler`` set on the view (voxel editing on) a plain left click/drag goes to
  it first, and Shift+left click still moves the cursor;
- right drag: window/level of the selected layer (right/left widens/narrows,
  up/down raises/lowers);
- wheel: step the slice (Shift: x10, or the volume of a 4-D image); Ctrl+wheel: zoom.

Coordinate space: display millimetres (``mapToView``), handed to the ``SliceView``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from volview.qt.compat import QtCore, pg

if TYPE_CHECKING:
    from volview.qt.slice_view import SliceView

Qt = QtCore.Qt
WHEEL_STEP = 120  # angleDelta units of one wheel notch
ZOOM_PER_NOTCH = 1.15
PAGE_STEP = 10


class SliceViewBox(pg.ViewBox):
    """A ViewBox whose mouse gestures are the viewer's, not pyqtgraph's defaults."""

    def __init__(self, view: SliceView) -> None:
        super().__init__(lockAspect=True, enableMenu=False, invertY=False)
        self.setMouseEnabled(False, False)
        self._view = view
        self._wheel_accum = 0
        self._drag_window: tuple[float, float] | None = None

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.LeftButton:
            ev.accept()
            if not self._edit(ev, "click"):
                self._view.move_cursor_to(self.mapToView(ev.pos()))
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        button, shift = ev.button(), bool(ev.modifiers() & Qt.ShiftModifier)
        ev.accept()
        if button == Qt.LeftButton and not shift:
            phase = "start" if ev.isStart() else "finish" if ev.isFinish() else "move"
            if not self._edit(ev, phase):
                self._view.move_cursor_to(self.mapToView(ev.pos()))
        elif button == Qt.MiddleButton or button == Qt.LeftButton:
            delta = self.mapToView(ev.lastPos()) - self.mapToView(ev.pos())
            self.translateBy(x=delta.x(), y=delta.y())
        elif button == Qt.RightButton:
            self._window_level_drag(ev)

    def _edit(self, ev, phase: str) -> bool:
        """Offer a plain left click/drag to the view's ``edit_handler``; True if taken."""
        handler = self._view.edit_handler
        if handler is None or ev.modifiers() & Qt.ShiftModifier:
            return False
        if phase == "start":  # the stroke begins where the button went down
            ijk = self._view.voxel_at(self.mapToView(ev.buttonDownPos()))
            if ijk is None or not handler(self._view, ijk, "start"):
                return False
            phase = "move"
        ijk = self._view.voxel_at(self.mapToView(ev.pos()))
        return ijk is not None and bool(handler(self._view, ijk, phase))

    def _window_level_drag(self, ev) -> None:
        state = self._view.state
        if ev.isStart() or self._drag_window is None:
            self._drag_window = state.active_window()  # the selected layer's
        lo, hi = self._drag_window
        moved = ev.pos() - ev.buttonDownPos()  # ViewBox pixels
        width = max(hi - lo, 1e-12) * 1.01 ** moved.x()
        level = (lo + hi) / 2 - moved.y() * (hi - lo) / 256
        state.set_active_window(level - width / 2, level + width / 2)
        if ev.isFinish():
            self._drag_window = None

    def wheelEvent(self, ev, axis=None) -> None:
        ev.accept()
        if ev.modifiers() & Qt.ControlModifier:
            factor = ZOOM_PER_NOTCH ** (-ev.delta() / WHEEL_STEP)
            self.scaleBy(x=factor, y=factor, center=self.mapToView(ev.pos()))
            self._view.zoomed.emit(factor)
            return
        self._wheel_accum += ev.delta()
        steps = int(self._wheel_accum / WHEEL_STEP)
        if steps:
            self._wheel_accum -= steps * WHEEL_STEP
            shift = bool(ev.modifiers() & Qt.ShiftModifier)
            state = self._view.state
            if shift and state.volume is not None and state.volume.n_volumes > 1:
                state.set_time(state.t + steps)  # 4-D: Shift+wheel steps the volume
                return
            self._view.step_slice(steps * (PAGE_STEP if shift else 1))
