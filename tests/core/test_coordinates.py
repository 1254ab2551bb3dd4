"""The "Go to" box's parsing and targets: voxel indices or world mm, refused outside."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from volview.core.coordinates import parse_triple, target_ijk
from volview.core.volume import Volume
from volview.io.images import open_image


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 40 7", (12, 40, 7)),
        ("[12, 40, 7]", (12, 40, 7)),
        ("-3.5,20,4 mm", (-3.5, 20, 4)),
        (" (1;2;3) MM ", (1, 2, 3)),
        ("1e1\t2 3", (10, 2, 3)),
    ],
)
def test_parse_triple(text, expected):
    assert parse_triple(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [("1 2", "three numbers"), ("", "three numbers"), ("a b c", "not three numbers"),
     ("1 2 inf", "finite"), ("1 2 3 4", "three numbers")],
)  # fmt: skip
def test_parse_triple_refuses(text, words):
    with pytest.raises(ValueError, match=words):
        parse_triple(text)


@pytest.fixture
def volume(tmp_path):
    affine = np.array([[-2.0, 0, 0, 20], [0, 2, 0, -10], [0, 0, 3, -6], [0, 0, 0, 1]])
    nib.Nifti1Image(np.zeros((10, 8, 6), np.float32), affine).to_filename(tmp_path / "v.nii")
    volume = Volume.from_image(open_image(tmp_path / "v.nii"))
    yield volume
    volume.image.close()


def test_targets_in_voxels_and_mm(volume):
    assert target_ijk(volume, (3, 4, 5), "voxel") == (3, 4, 5)
    # x = -2 i + 20 -> i = 4 for x = 12; y = 2 j - 10 -> j = 5 for y = 0.4 (nearest)
    assert target_ijk(volume, (12, 0.4, 0), "mm") == (4, 5, 2)


@pytest.mark.parametrize(
    ("values", "space", "words"),
    [
        ((10, 0, 0), "voxel", "outside the image"),
        ((-1, 0, 0), "voxel", "outside the image"),
        ((1.5, 0, 0), "voxel", "whole numbers"),
        ((100, 0, 0), "mm", r"voxel \(-40, 5, 2\) is outside"),
        ((0, 0, 0), "ras", "space must be"),
    ],
)
def test_targets_outside_are_refused(volume, values, space, words):
    with pytest.raises(ValueError, match=words):
        target_ijk(volume, values, space)
