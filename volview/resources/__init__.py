"""Bundled resources (demo data and its licence notice), found with importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_IMAGE = "mni_icbm152_t1_tal_nlin_sym_09a.nii.gz"


def demo_image() -> Path:
    """Path of the bundled demo T1 image (the MNI ICBM152 2009a template, 1 mm)."""
    return Path(str(resources.files(__name__) / "demo" / DEMO_IMAGE))


def demo_notice() -> str:
    """The copyright notice that must accompany the demo image."""
    return (resources.files(__name__) / "demo" / "NOTICE.txt").read_text(encoding="utf-8")
