"""The bundled demo tractogram: reproducible, readable by volview and trx-python, plausible.

Coordinates are MNI152 RAS+ mm (the demo image's world space). No Qt.
"""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest

from tests.trx_factories import read_with_trx_python
from volview.io.tractogram import open_tractogram
from volview.resources import demo_image, demo_notice, demo_tracts
from volview.resources.demo import make_demo_tracts as gen

GROUPS = ("CST_left", "CST_right", "CC_body")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh generation into a temporary folder: (path, float64 arrays)."""
    path = tmp_path_factory.mktemp("demo") / gen.DEMO_TRACTS
    return path, gen.write_demo_tracts(path)


@pytest.fixture(scope="module")
def shipped():
    with open_tractogram(demo_tracts()) as tractogram:
        yield tractogram


@pytest.fixture(scope="module")
def t1_values(shipped):
    """T1 intensity at every shipped vertex."""
    t1, affine = gen.load_t1()
    return gen.t1_at(np.asarray(shipped.positions, np.float64), t1, affine)


def _bundle(tractogram, name: str) -> list[np.ndarray]:
    return [tractogram.streamline(int(i)) for i in tractogram.groups[name]]


def test_shipped_file_is_byte_identical_to_a_fresh_generation(fresh):
    path, _ = fresh
    assert path.read_bytes() == demo_tracts().read_bytes()


def test_shipped_file_is_small_and_noticed():
    assert demo_tracts().stat().st_size < 1_500_000
    assert "demo_tracts.trx" in demo_notice() and "make_demo_tracts" in demo_notice()


def test_volview_reads_a_stored_trx_on_the_demo_grid(shipped):
    reference = nib.load(demo_image())
    assert shipped.format_name == "TRX (zip, stored)"
    assert shipped.positions.dtype == np.float16 and shipped.notes == ()
    assert shipped.dimensions == reference.shape
    np.testing.assert_array_equal(shipped.voxel_to_rasmm, reference.affine)
    assert 2000 <= shipped.n_streamlines <= 3000
    assert set(shipped.groups) == set(GROUPS)
    assert sum(len(ids) for ids in shipped.groups.values()) == shipped.n_streamlines


def test_groups_colours_and_scalars(shipped):
    for name in GROUPS:
        np.testing.assert_array_equal(shipped.dpg[name]["color"].ravel(), gen.COLOURS[name])
    assert shipped.dps["length_mm"].shape == (shipped.n_streamlines,)
    assert shipped.dpv["curvature"].shape == (shipped.n_vertices,)
    assert shipped.dpv["curvature"].dtype == np.float32
    assert np.all(np.isfinite(shipped.dpv["curvature"])) and shipped.dpv["curvature"].min() >= 0


def test_trx_python_reads_the_same_arrays(shipped, tmp_path):
    copy = tmp_path / "demo.trx"  # trx-python maps files read-write: never hand it ours
    shutil.copyfile(demo_tracts(), copy)
    oracle = read_with_trx_python(copy)
    np.testing.assert_array_equal(np.concatenate(oracle.streamlines), shipped.positions)
    assert [len(s) for s in oracle.streamlines] == shipped.lengths().tolist()
    for name in GROUPS:
        np.testing.assert_array_equal(oracle.groups[name], shipped.groups[name])
        np.testing.assert_array_equal(oracle.dpg[name]["color"], gen.COLOURS[name])
    np.testing.assert_array_equal(oracle.dps["length_mm"], shipped.dps["length_mm"])
    np.testing.assert_array_equal(oracle.dpv["curvature"], shipped.dpv["curvature"])


def test_float16_positions_stay_within_a_32nd_of_a_mm_of_the_curves(fresh, shipped):
    _, arrays = fresh
    error = np.abs(np.asarray(shipped.positions, np.float64) - arrays.positions)
    assert error.max() <= 1 / 32 + 1e-5  # float16 spacing is 1/16 mm in [64, 128)


def test_steps_are_about_2_mm_and_lengths_add_up(fresh, shipped):
    _, arrays = fresh
    steps = np.linalg.norm(np.diff(arrays.positions, axis=0), axis=1)
    inside = np.ones(len(steps), bool)
    inside[arrays.offsets[1:-1] - 1] = False  # the jumps between streamlines
    assert steps[inside].min() >= 1.5 and steps[inside].max() <= 2.2
    per_line = np.add.reduceat(np.where(inside, steps, 0.0), arrays.offsets[:-1])
    np.testing.assert_allclose(shipped.dps["length_mm"], per_line, rtol=1e-6)


def test_vertices_lie_in_the_brain_and_mostly_in_white_matter(t1_values):
    assert np.mean(t1_values > gen.BRAIN_THRESHOLD) > 0.9
    assert np.mean(t1_values > gen.WHITE_MATTER_THRESHOLD) > 0.8


@pytest.mark.parametrize(("name", "side"), [("CST_left", -1), ("CST_right", 1)])
def test_cst_climbs_from_the_pons_to_the_motor_strip_on_its_own_side(shipped, name, side):
    for line in _bundle(shipped, name):
        above = line[line[:, 2] > 0]
        assert np.all(above[:, 0] * side > 0)
        low, high = line[np.argmin(line[:, 2])], line[np.argmax(line[:, 2])]
        assert low[2] < -30 and 4 <= abs(low[0]) <= 14 and -28 <= low[1] <= -14
        assert high[2] > 35 and abs(high[0]) > 8 and -32 <= high[1] <= 0


def test_cc_body_arches_up_across_the_midline(shipped):
    for line in _bundle(shipped, "CC_body"):
        assert line[0, 0] < -20 and line[-1, 0] > 20
        middle = line[np.argmin(np.abs(line[:, 0]))]
        assert abs(middle[0]) < 1.5 and -32 <= middle[1] <= 20 and 12 <= middle[2] <= 28
        assert line[0, 2] > middle[2] + 10 and line[-1, 2] > middle[2] + 10
