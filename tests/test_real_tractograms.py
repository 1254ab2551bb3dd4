"""Real tractograms from nibabel's test data land on the voxels they were made for.

``standard.trk`` (and its TCK/LPS/TRX versions) draws a 3-D "X" centred on every
non-zero voxel of ``standard.nii.gz`` (nibabel's ``gen_standard.py``). Opened through
the session, each X's middle point must map to exactly such a voxel centre, and
the slab query of every slice must return the X's of that slice's voxels.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from tests.trx_factories import TrxData, write_with_trx_python
from volview.core.state import ViewerState
from volview.session import Session

DATA = Path(data_path)
MASK = nib.load(DATA / "standard.nii.gz").get_fdata() != 0


def trx_from(source: Path, target: Path) -> Path:
    """``source`` converted to a deflated TRX by trx-python, in the image's grid."""
    image = nib.load(DATA / "standard.nii.gz")
    streamlines = [np.asarray(s, np.float32) for s in nib.streamlines.load(source).streamlines]
    data = TrxData(streamlines, affine=image.affine, dimensions=image.shape[:3])
    return write_with_trx_python(target, data, form="deflated")


@pytest.fixture(params=["standard.trk", "standard.LPS.trk", "standard.tck", "trx"])
def opened(request, tmp_path):
    tracts = DATA / request.param
    if request.param == "trx":
        tracts = trx_from(DATA / "standard.trk", tmp_path / "standard.trx")
    state = ViewerState()
    errors = Session(state).open_paths([DATA / "standard.nii.gz", tracts])
    assert errors == []
    (layer,) = state.tracts
    yield state, layer
    layer.close()


def centres_ijk(state, layer) -> np.ndarray:
    """Voxel coordinates of every X's middle point (each streamline has 3 points)."""
    positions = np.asarray(layer.tractogram.positions, dtype=np.float64)
    middles = positions[layer.tractogram.offsets[:-1] + 1]
    return nib.affines.apply_affine(np.linalg.inv(state.volume.image.affine), middles)


def test_every_x_is_centred_on_a_marked_voxel(opened):
    state, layer = opened
    ijk = centres_ijk(state, layer)
    np.testing.assert_allclose(ijk, np.round(ijk), atol=1e-3)
    marked = {tuple(v) for v in np.round(ijk).astype(int)}
    assert marked == {tuple(v) for v in np.argwhere(MASK)}


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_each_slab_holds_the_xs_of_its_slice(opened, axis):
    state, layer = opened
    layer.set_style(half_width=0.25)  # the X's reach 0.5 voxel: neighbours stay out
    owners = np.round(centres_ijk(state, layer)).astype(int)
    for depth in range(MASK.shape[axis]):
        segments = layer.segments(axis, float(depth))
        expected = set(np.flatnonzero(owners[:, axis] == depth))
        assert set(np.unique(segments.streamline)) == expected
