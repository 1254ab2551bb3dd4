"""Colormaps by name (the names ``volview.core.state.COLORMAPS`` allows) as pyqtgraph maps.

Owns: ``colormap(name) -> pg.ColorMap`` and ``lookup_table(name)`` (256 x 3 or 4 uint8).
"""

from __future__ import annotations

import functools

import numpy as np

from volview.qt.compat import pg

_STOPS = {
    "gray": ([0.0, 1.0], [(0, 0, 0), (255, 255, 255)]),
    "gray_r": ([0.0, 1.0], [(255, 255, 255), (0, 0, 0)]),
    # the classic "hot": black, red, yellow, white
    "hot": ([0.0, 0.375, 0.75, 1.0], [(0, 0, 0), (255, 0, 0), (255, 255, 0), (255, 255, 255)]),
    # statistical maps, as in FSLeyes/FSLview: positive and negative
    "red_yellow": ([0.0, 1.0], [(255, 0, 0), (255, 255, 0)]),
    "blue_lightblue": ([0.0, 1.0], [(0, 0, 255), (0, 200, 255)]),
}


@functools.cache
def colormap(name: str) -> pg.ColorMap:
    if name in _STOPS:
        positions, colors = _STOPS[name]
        return pg.ColorMap(positions, np.array(colors, dtype=np.ubyte), name=name)
    return pg.colormap.get(name)


def lookup_table(name: str, alpha: bool = False) -> np.ndarray:
    """256 x 3 uint8 (or 256 x 4 with ``alpha``) colours of ``name``."""
    return colormap(name).getLookupTable(0.0, 1.0, 256, alpha=alpha)
