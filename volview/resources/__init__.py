"""Bundled resources (demo data and its licence notice, the application icon, the
desktop-integration files), found with importlib.resources.

Owns: the names and paths of the files in ``demo/``, ``icons/`` and ``desktop/``.
Qt-free: the model layers may import it. ``demo/make_demo_tracts.py`` is the script
that generated the demo tractogram (``python -m volview.resources.demo.make_demo_tracts``).
``packaging/make_icons.py`` renders the icon PNGs from ``icons/volview.svg``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_IMAGE = "mni_icbm152_t1_tal_nlin_sym_09a.nii.gz"
DEMO_TRACTS = "demo_tracts.trx"
#: the square PNG sizes rendered from ``icons/volview.svg`` (packaging/make_icons.py)
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def demo_image() -> Path:
    """Path of the bundled demo T1 image (the MNI ICBM152 2009a template, 1 mm)."""
    return Path(str(resources.files(__name__) / "demo" / DEMO_IMAGE))


def demo_tracts() -> Path:
    """Path of the bundled demo tractogram: synthetic, in the demo image's RAS+ mm space.

    A stored TRX zip with groups ``CST_left``, ``CST_right`` and ``CC_body`` (each with a
    ``color``), ``dps/length_mm`` and ``dpv/curvature``; made by ``demo/make_demo_tracts.py``.
    """
    return Path(str(resources.files(__name__) / "demo" / DEMO_TRACTS))


def demo_notice() -> str:
    """The copyright notice that must accompany the demo image."""
    return (resources.files(__name__) / "demo" / "NOTICE.txt").read_text(encoding="utf-8")


def icon_path(size: int | None = None) -> Path:
    """Path of the application icon: the SVG, or the ``size`` x ``size`` PNG.

    ``size`` must be one of ``ICON_SIZES``; None gives the scalable SVG.
    """
    if size is not None and size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes are {', '.join(map(str, ICON_SIZES))}")
    name = "volview.svg" if size is None else f"volview-{size}.png"
    return Path(str(resources.files(__name__) / "icons" / name))


def desktop_file(name: str) -> Path:
    """Path of one of the Linux desktop-integration files in ``desktop/`` (by file name)."""
    return Path(str(resources.files(__name__) / "desktop" / name))
