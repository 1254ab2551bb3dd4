"""Proxies against nibabel as the oracle, on every volume in nibabel's own test data."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from tests.factories import FLOAT32_RTOL, assert_planes_match, fdata4, fingerprint, plane_indices
from volview.errors import VolviewError
from volview.io.images import open_image

DATA = Path(data_path)
EXPECTED_ACCEPTED = {
    "anatomical.nii",
    "functional.nii",
    "example4d.nii.gz",
    "example_nifti2.nii.gz",
    "reoriented_anat_moved.nii",
    "resampled_anat_moved.nii",
    "standard.nii.gz",
    "test.mgz",
}
IN_PLANE_CROPS = [
    (slice(1, None, 3), slice(0, 5, 2)),
    (slice(None, None, 2), slice(1, 3)),
    (slice(2, 3), slice(None)),
]


def accepted_files() -> dict[str, object]:
    """Open every file of nibabel's test data; keep those volview accepts."""
    accepted = {}
    for path in sorted(p for p in DATA.iterdir() if p.is_file()):
        try:
            image = open_image(path)
        except VolviewError:
            continue
        image.close()
        accepted[path.name] = path
    return accepted


ACCEPTED = accepted_files()


def test_expected_volumes_are_accepted():
    assert set(ACCEPTED) >= EXPECTED_ACCEPTED


def test_nothing_unexpected_is_accepted():
    """Only NIfTI, Analyze and MGH files open; PAR/REC, MINC, DICOM, tracts do not."""
    suffixes = {"".join(Path(name).suffixes[-2:]) for name in ACCEPTED}
    assert suffixes <= {".nii", ".nii.gz", ".mgz", ".mgh", ".hdr", ".img", ".dconn.nii"}
    assert "row_major.dconn.nii" not in ACCEPTED


@pytest.fixture(params=sorted(ACCEPTED))
def opened(request):
    path = ACCEPTED[request.param]
    image = open_image(path)
    yield image, nib.load(path)
    image.close()


def test_shape_and_affine_match_nibabel(opened):
    image, img = opened
    assert image.shape == fdata4(img).shape
    np.testing.assert_allclose(image.affine, img.affine)
    # the affine is the truth (test.mgz's header zooms disagree with its skewed affine)
    np.testing.assert_allclose(image.voxel_sizes, nib.affines.voxel_sizes(img.affine))


def test_every_plane_matches_nibabel(opened):
    image, img = opened
    data4 = fdata4(img)
    n_checked = assert_planes_match(image.proxy, data4)
    assert n_checked >= 3 * data4.shape[3]


@pytest.mark.parametrize("in_plane", IN_PLANE_CROPS, ids=["stride3-crop", "stride2", "one"])
def test_strided_and_cropped_planes_match_nibabel(opened, in_plane):
    image, img = opened
    assert_planes_match(image.proxy, fdata4(img), in_plane=in_plane)


def test_values_match_nibabel(opened):
    image, img = opened
    data4 = fdata4(img)
    ni, nj, nk, nt = data4.shape
    for ijk in [(0, 0, 0), (ni // 2, nj // 2, nk // 2), (ni - 1, nj - 1, nk - 1), (ni - 1, 0, 0)]:
        for t in plane_indices(nt):
            expected = data4[(*ijk, t)]
            value = image.proxy.value(ijk, t)
            assert isinstance(value, float)
            assert value == pytest.approx(expected, rel=FLOAT32_RTOL, abs=1e-9, nan_ok=True)


def test_plane_index_out_of_range_raises(opened):
    image, _ = opened
    ni, _, _, nt = image.shape
    with pytest.raises(IndexError):
        image.proxy.plane(0, ni)
    with pytest.raises(IndexError):
        image.proxy.plane(2, -1)
    with pytest.raises(IndexError):
        image.proxy.plane(1, 0, nt)
    with pytest.raises(ValueError, match="axis"):
        image.proxy.plane(3, 0)


def test_reading_leaves_files_untouched():
    for path in ACCEPTED.values():
        before = fingerprint(path)
        image = open_image(path)
        for axis in range(3):
            image.proxy.plane(axis, image.shape[axis] // 2)
        image.close()
        assert fingerprint(path) == before, path.name
