"""``volview FILE --screenshot OUT.png``: the PNG shows the expected slice, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.conftest import write_image
from volview.cli import main
from volview.qt.compat import QtGui

PADDING = 0.02  # SliceView.reset_view's padding around the plane


def png_gray(path) -> np.ndarray:
    image = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.height() * image.bytesPerLine())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def pixel_of(x_mm, y_mm, plane_mm, size_px):
    """Where display millimetres land in a view fitted to the plane with padding."""
    (w, h), (w_px, h_px) = plane_mm, size_px
    scale = min(w_px / (w * (1 + 2 * PADDING)), h_px / (h * (1 + 2 * PADDING)))
    return w_px / 2 + (x_mm - w / 2) * scale, h_px / 2 - (y_mm - h / 2) * scale


@pytest.fixture
def blocky(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 1000, size=(40, 30, 10)).astype(np.int16)
    affine = np.diag([1.0, 2.0, 1.0, 1.0])
    return write_image(tmp_path / "blocky.nii", data, affine), data


def test_screenshot_pixels_show_the_axial_slice(qapp, tmp_path, blocky):
    path, data = blocky
    out = tmp_path / "shot.png"
    size = (300, 400)
    code = main(
        [path, "--screenshot", str(out), "--layout", "axial", "--size", *map(str, size),
         "--window", "0", "1000", "--voxel", "20", "15", "4"]
    )  # fmt: skip
    assert code == 0
    rgb = png_gray(out)
    assert rgb.shape[:2] == (size[1], size[0])
    checked = 0
    for i in range(40):
        for j in range(30):
            col, row = 39 - i, j  # radiological: patient right (low i in RAS) on the left
            if abs(col - (39 - 20)) <= 1 or abs(row - 15) <= 1:
                continue  # under the crosshair
            px, py = pixel_of((col + 0.5) * 1.0, (row + 0.5) * 2.0, (40.0, 60.0), size)
            if min(px, py, size[0] - px, size[1] - py) < 25:
                continue  # orientation labels live near the edges
            expected = min(255, int(data[i, j, 4] / 1000 * 256))
            r, g, b = rgb[int(py), int(px)]
            assert r == g == b
            assert abs(int(r) - expected) <= 2, (i, j, r, expected)
            checked += 1
    assert checked > 500


def test_screenshot_with_hot_colormap_and_world_cursor(qapp, tmp_path, blocky):
    path, _data = blocky
    out = tmp_path / "hot.png"
    assert main([path, "--screenshot", str(out), "--cmap", "hot", "--world", "5", "5", "5"]) == 0
    rgb = png_gray(out).astype(int)
    assert rgb.shape[:2] == (420, 1200)
    assert (rgb[..., 0] > rgb[..., 2] + 50).sum() > 1000  # reds and yellows, not grays


def test_screenshot_of_a_bad_file_exits_1_with_message(qapp, tmp_path, capsys):
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"not an image at all" * 30)
    assert main([str(bad), "--screenshot", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "bad.nii" in err and "not a valid image file" in err
    assert not (tmp_path / "x.png").exists()


def test_demo_screenshot(qapp, tmp_path):
    out = tmp_path / "demo.png"
    assert main(["--demo", "--screenshot", str(out), "--size", "600", "200"]) == 0
    rgb = png_gray(out)
    assert rgb.shape[:2] == (200, 600)
    assert rgb.mean() > 20  # a brain, not a black frame


def test_screenshot_draws_tractograms(qapp, tmp_path):
    from tests.trx_factories import TrxData, trx_entries, write_zip

    path = write_image(tmp_path / "dark.nii", np.zeros((40, 30, 10), np.int16))
    line = np.array([[5, 15, 4], [35, 15, 4]], np.float32)  # along i through j=15, k=4
    trx = write_zip(tmp_path / "t.trx", trx_entries(TrxData([line], affine=np.eye(4))))
    size = (300, 300)
    args = ["--layout", "axial", "--size", *map(str, size), "--voxel", "20", "2", "4"]
    without, with_tracts = tmp_path / "without.png", tmp_path / "with.png"
    assert main([path, "--screenshot", str(without), *args]) == 0
    assert main([path, str(trx), "--screenshot", str(with_tracts), *args]) == 0
    changed = np.argwhere((png_gray(without) != png_gray(with_tracts)).any(axis=2))
    cross_x, y = pixel_of(39 - 20 + 0.5, 15.5, (40.0, 30.0), size)
    changed = changed[abs(changed[:, 1] - cross_x) > 1.5]  # the crosshair is drawn on top
    red = png_gray(with_tracts)[tuple(changed.T)]
    assert len(changed) >= 20 and (red[:, 0] > 200).all() and (red[:, 1:] < 60).all()
    assert set(changed[:, 0]) <= {int(y) - 1, int(y), int(y) + 1}
