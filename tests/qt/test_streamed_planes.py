"""A .nii.gz opened in the main window: the sagittal and coronal planes, which need
one pass over the whole stream, show their rows as the pass reads them."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from tests.io.test_partial_planes import PassHold
from tests.qt.test_gzip_controller import gz_path, private_cache  # noqa: F401 (fixtures)
from volview.core.geometry import Plane
from volview.core.slicing import overview_step
from volview.io import nibabel_proxy
from volview.qt.gzip_controller import CHOICE_KEY

SIDE = (Plane.SAGITTAL, Plane.CORONAL)


@pytest.fixture
def hold(monkeypatch):
    """Hold the views' pass once a side plane has ``hold.n`` axial indices read."""
    monkeypatch.setattr(nibabel_proxy, "STREAM_BLOCK_BYTES", 64 * 48 * 2 * 8)  # 8 planes
    held = PassHold(monkeypatch, n=0)
    yield held
    held.release.set()


def shown_part(view, want: np.ndarray, cursor) -> tuple[np.ndarray, int, int]:
    """What ``view`` should show of its plane when its first ``m`` axial samples are
    read (``m`` from the shown image), with ``m`` and the plane's samples along k."""
    layout = view.plane_layout
    step = overview_step(layout, *view.view_pixels())
    plane = np.take(want, cursor[layout.depth_axis], axis=layout.depth_axis)[::step, ::step]
    shown = view.overview_item.image
    m = shown.shape[0] if layout.row_axis == 2 else shown.shape[1]
    return layout.orient(plane[:, :m]), m, plane.shape[1]


def test_side_planes_show_the_rows_read_so_far(qtbot, window, gz_path, hold):  # noqa: F811
    window.gzip.settings.setValue(CHOICE_KEY, "never")
    hold.n = 160  # of 256 axial planes: past the centre, whose plane sets the window
    assert window.open_paths([gz_path]) == []
    views, want = window.ortho_view.views, nib.load(gz_path).get_fdata()
    try:
        assert hold.reached.wait(timeout=30)
        qtbot.waitUntil(lambda: all(views[p].overview_item.image is not None for p in SIDE))
        assert views[Plane.AXIAL].has_planes() and window.session.provisional_window is None
        for plane in SIDE:
            view = views[plane]
            expected, m, n_k = shown_part(view, want, window.state.cursor_ijk)
            assert 0 < m < n_k and not view.has_planes()
            np.testing.assert_allclose(view.overview_item.image, expected, rtol=1e-6)
            assert view.reading_label.isVisible()
            qtbot.waitUntil(lambda v=view: "%" in v.reading_label.text())
            percent = int(view.reading_label.text().split()[-1].rstrip("%"))
            assert abs(percent - 100 * m / n_k) <= 1
            crosshair = view.viewbox.mapViewToScene(view.cursor_mm())
            assert not view.reading_label.sceneBoundingRect().contains(crosshair)
    finally:
        hold.release.set()
    qtbot.waitUntil(lambda: all(v.has_planes() for v in views.values()), timeout=10000)
    for view in views.values():
        expected, m, n_k = shown_part(view, want, window.state.cursor_ijk)
        assert m == n_k or view.plane_layout.depth_axis == 2
        assert not view.reading_label.isVisible()


def test_no_part_is_drawn_before_the_window_is_known(qtbot, window, gz_path, hold):  # noqa: F811
    """Before the centre plane (the window's sample) is read, the views say how far
    the pass is but draw nothing: the placeholder window would show a white block."""
    window.gzip.settings.setValue(CHOICE_KEY, "never")
    hold.n = 40
    assert window.open_paths([gz_path]) == []
    views = window.ortho_view.views
    try:
        assert hold.reached.wait(timeout=30)
        for plane in SIDE:
            qtbot.waitUntil(lambda v=views[plane]: "%" in v.reading_label.text())
        assert window.session.provisional_window is not None
        assert all(views[p].overview_item.image is None for p in SIDE)
    finally:
        hold.release.set()
    qtbot.waitUntil(lambda: all(v.has_planes() for v in views.values()), timeout=10000)
