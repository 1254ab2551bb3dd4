"""Render the application icon's PNG sizes from its SVG.

Owns: ``volview/resources/icons/volview-<N>.png`` for N in ``ICON_SIZES``, drawn by
Qt's SVG renderer from ``volview/resources/icons/volview.svg`` (the one source of
truth). Run ``python packaging/make_icons.py`` after editing the SVG; the PNGs are
committed so that installing volview needs no renderer. Pixel space only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "volview" / "resources" / "icons"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int, out: Path) -> None:
    """Draw ``svg`` into a transparent ``size`` x ``size`` PNG at ``out``."""
    from PyQt5 import QtCore, QtGui, QtSvg

    renderer = QtSvg.QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg.name}: not a valid SVG ({svg})")
    image = QtGui.QImage(size, size, QtGui.QImage.Format_ARGB32_Premultiplied)
    image.fill(QtCore.Qt.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.Antialiasing)
    painter.setRenderHint(QtGui.QPainter.SmoothPixmapTransform)
    renderer.render(painter, QtCore.QRectF(0, 0, size, size))
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out.name}: could not write the PNG ({out})")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5 import QtGui

    app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication(sys.argv[:1])
    svg = ICONS / "volview.svg"
    for size in ICON_SIZES:
        out = ICONS / f"volview-{size}.png"
        render(svg, size, out)
        print(f"wrote {out} ({out.stat().st_size} bytes)")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
