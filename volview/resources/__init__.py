"""Bundled resources (demo data and its licence notice), found with importlib.resources.

Owns: the names and paths of the files in ``demo/``. Qt-free: the model layers may
import it. ``demo/make_demo_tracts.py`` is the script that generated the demo
tractogram (``python -m volview.resources.demo.make_demo_tracts``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_IMAGE = "mni_icbm152_t1_tal_nlin_sym_09a.nii.gz"
DEMO_TRACTS = "demo_tracts.trx"


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
