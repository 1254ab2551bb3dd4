"""Display orientation against an independent oracle: nibabel's closest-canonical (RAS) image.

The oracle: reorient the data to RAS with ``nib.as_closest_canonical`` and slice it.
For an axial plane ``canon[:, :, k].T`` has rows growing anterior (up on screen,
since display rows grow up) and columns growing right; that is the neurological
view, and the radiological view is the same with its columns reversed. Coronal
(``canon[:, j, :].T``) and sagittal (``canon[i, :, :].T``) planes work the same way.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import (
    orientation_letters,
    orientations,
    oriented_affine,
    plane_indices,
    rotation_z,
)
from volview.core.geometry import Geometry, Plane
from volview.core.slicing import extract_slice, full_plane_request
from volview.io.proxy import ArrayProxy

#: RAS axis held fixed by each plane, in the oracle's own terms
CANONICAL_DEPTH = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}
#: RAS axis that runs across the screen in each plane
CANONICAL_ACROSS = {Plane.SAGITTAL: 1, Plane.CORONAL: 0, Plane.AXIAL: 0}
SHAPE = (5, 6, 7)
ZOOMS = (1.0, 2.0, 3.0)
ORIGIN = (-10.0, 20.0, 5.0)
ALL_48 = orientations()


def expected_pixels(canon_data: np.ndarray, plane: Plane, k: int, radiological: bool):
    """Display pixels [row (up), col (right)] of canonical slice ``k``."""
    pixels = np.take(canon_data, k, axis=CANONICAL_DEPTH[plane]).T
    return pixels[:, ::-1] if radiological else pixels


def voxel_depth_index(img, canon, plane: Plane, layout, k: int) -> int:
    """The file's voxel index along the layout's depth axis for canonical slice ``k``."""
    canon_ijk = [0.0, 0.0, 0.0]
    canon_ijk[CANONICAL_DEPTH[plane]] = k
    world = nib.affines.apply_affine(canon.affine, canon_ijk)
    ijk = nib.affines.apply_affine(np.linalg.inv(img.affine), world)
    return round(float(ijk[layout.depth_axis]))


def check_against_canonical(data: np.ndarray, affine: np.ndarray, radiological: bool) -> None:
    img = nib.Nifti1Image(data, affine)
    canon = nib.as_closest_canonical(img)
    canon_data = np.asarray(canon.dataobj)
    canon_zooms = canon.header.get_zooms()
    geometry = Geometry.from_affine(affine, data.shape, radiological=radiological)
    proxy = ArrayProxy(data)
    for plane in Plane:
        layout = geometry.layout(plane)
        depth = CANONICAL_DEPTH[plane]
        assert (layout.n_rows, layout.n_cols) == expected_pixels(canon_data, plane, 0, False).shape
        assert layout.col_spacing_mm == pytest.approx(canon_zooms[CANONICAL_ACROSS[plane]])
        assert layout.row_spacing_mm == pytest.approx(canon_zooms[2 if depth != 2 else 1])
        for k in plane_indices(canon_data.shape[depth]):
            index = voxel_depth_index(img, canon, plane, layout, k)
            result = extract_slice(proxy, full_plane_request(layout, index, 0))
            np.testing.assert_array_equal(
                result.pixels,
                expected_pixels(canon_data, plane, k, radiological),
                err_msg=f"{plane} slice {k} of {nib.aff2axcodes(affine)}",
            )
            assert result.rect_mm == pytest.approx((0, 0, *layout.size_mm))


@pytest.mark.parametrize("radiological", [True, False], ids=["radiological", "neurological"])
@pytest.mark.parametrize(
    ("perm", "signs"), ALL_48, ids=[orientation_letters(p, s) for p, s in ALL_48]
)
def test_all_48_orientations_match_canonical(perm, signs, radiological):
    data = np.random.default_rng(0).random(SHAPE).astype(np.float32)
    affine = oriented_affine(perm, signs, ZOOMS, ORIGIN)
    check_against_canonical(data, affine, radiological)


@pytest.mark.parametrize(("perm", "signs"), ALL_48)
def test_orientation_code_and_axes(perm, signs):
    affine = oriented_affine(perm, signs, ZOOMS, ORIGIN)
    geometry = Geometry.from_affine(affine, SHAPE)
    assert geometry.orientation_code() == "".join(nib.aff2axcodes(affine))
    assert geometry.orientation_code() == orientation_letters(perm, signs)
    assert not geometry.oblique
    assert geometry.voxel_sizes == pytest.approx(ZOOMS)
    for v_axis, (w_axis, sign) in enumerate(zip(perm, signs, strict=True)):
        assert geometry.world_to_voxel_axis[w_axis] == v_axis
        assert geometry.voxel_axis_sign[w_axis] == sign


@pytest.mark.parametrize(("perm", "signs"), ALL_48)
def test_depth_step_moves_toward_positive_world(perm, signs):
    geometry = Geometry.from_affine(oriented_affine(perm, signs, ZOOMS, ORIGIN), SHAPE)
    for plane in Plane:
        layout = geometry.layout(plane)
        ijk = np.array([2, 2, 2])
        moved = ijk.copy()
        moved[layout.depth_axis] += layout.depth_step
        delta = geometry.voxel_to_world(moved) - geometry.voxel_to_world(ijk)
        assert delta[CANONICAL_DEPTH[plane]] > 0
        assert np.count_nonzero(np.round(delta, 9)) == 1


@settings(max_examples=60, deadline=None, database=None)
@given(
    orientation=st.sampled_from(ALL_48),
    shape=st.tuples(*[st.integers(1, 6)] * 3),
    zooms=st.tuples(*[st.sampled_from([0.5, 1.0, 1.5, 4.0])] * 3),
    radiological=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_and_orientations_match_canonical(
    orientation, shape, zooms, radiological, seed
):
    perm, signs = orientation
    data = np.random.default_rng(seed).random(shape).astype(np.float32)
    check_against_canonical(data, oriented_affine(perm, signs, zooms, ORIGIN), radiological)


RADIOLOGICAL_LABELS = {
    Plane.AXIAL: ("R", "L", "P", "A"),
    Plane.CORONAL: ("R", "L", "I", "S"),
    Plane.SAGITTAL: ("A", "P", "I", "S"),
}
NEUROLOGICAL_LABELS = {
    Plane.AXIAL: ("L", "R", "P", "A"),
    Plane.CORONAL: ("L", "R", "I", "S"),
    Plane.SAGITTAL: ("P", "A", "I", "S"),
}
LABELLED_AFFINES = {
    "LAS": np.diag([-1.0, 1.0, 1.0, 1.0]),
    "RAS": np.diag([1.0, 1.0, 1.0, 1.0]),
    "LPI": np.diag([-1.0, -1.0, -1.0, 1.0]),
}


@pytest.mark.parametrize("code", sorted(LABELLED_AFFINES))
def test_edge_labels(code):
    """(left, right, bottom, top) do not depend on how the file stores its axes."""
    affine = LABELLED_AFFINES[code]
    radiological = Geometry.from_affine(affine, SHAPE, radiological=True)
    neurological = Geometry.from_affine(affine, SHAPE, radiological=False)
    assert radiological.orientation_code() == code
    for plane in Plane:
        assert radiological.layout(plane).labels == RADIOLOGICAL_LABELS[plane]
        assert neurological.layout(plane).labels == NEUROLOGICAL_LABELS[plane]


def test_flips_follow_the_convention():
    """LAS stored: radiological shows voxel i left to right unflipped; RAS needs the flip."""
    las = Geometry.from_affine(LABELLED_AFFINES["LAS"], SHAPE, radiological=True)
    ras = Geometry.from_affine(LABELLED_AFFINES["RAS"], SHAPE, radiological=True)
    lpi = Geometry.from_affine(LABELLED_AFFINES["LPI"], SHAPE, radiological=False)
    assert not las.layout(Plane.AXIAL).col_flip
    assert ras.layout(Plane.AXIAL).col_flip
    assert lpi.layout(Plane.AXIAL).col_flip  # neurological: R on the right, i grows L
    assert lpi.layout(Plane.AXIAL).row_flip  # j grows P, display rows grow A
    assert lpi.layout(Plane.CORONAL).row_flip  # k grows I
    assert lpi.layout(Plane.AXIAL).depth_step == -1


@pytest.mark.parametrize("radiological", [True, False])
def test_unknown_orientation_has_question_marks(radiological):
    geometry = Geometry.from_affine(
        np.eye(4), SHAPE, orientation_known=False, radiological=radiological
    )
    for plane in Plane:
        assert geometry.layout(plane).labels == ("?", "?", "?", "?")


@pytest.mark.parametrize(
    ("degrees", "code", "world_to_voxel", "signs"),
    [
        (20.0, "RAS", (0, 1, 2), (1, 1, 1)),
        (-20.0, "RAS", (0, 1, 2), (1, 1, 1)),
        (70.0, "ALS", (1, 0, 2), (-1, 1, 1)),
        (160.0, "LPS", (0, 1, 2), (-1, -1, 1)),
    ],
)
def test_oblique_affine_uses_nearest_axes(degrees, code, world_to_voxel, signs):
    affine = rotation_z(degrees) @ np.diag([2.0, 2.0, 3.0, 1.0])
    geometry = Geometry.from_affine(affine, SHAPE)
    assert geometry.oblique
    assert geometry.orientation_code() == code == "".join(nib.aff2axcodes(affine))
    assert geometry.world_to_voxel_axis == world_to_voxel
    assert geometry.voxel_axis_sign == signs
    assert geometry.voxel_sizes == pytest.approx((2.0, 2.0, 3.0))


@pytest.mark.parametrize("radiological", [True, False])
@pytest.mark.parametrize("degrees", [20.0, 70.0, -135.0 + 10.0])
def test_oblique_display_matches_canonical(degrees, radiological):
    data = np.random.default_rng(1).random(SHAPE).astype(np.float32)
    affine = rotation_z(degrees) @ np.diag([1.0, 2.0, 3.0, 1.0])
    check_against_canonical(data, affine, radiological)


@pytest.mark.parametrize(("degrees", "oblique"), [(0.0, False), (0.001, False), (1.0, True)])
def test_oblique_tolerance(degrees, oblique):
    geometry = Geometry.from_affine(rotation_z(degrees), SHAPE)
    assert geometry.oblique is oblique
    assert geometry.orientation_code() == "RAS"


def test_world_voxel_round_trip_and_clamp():
    affine = oriented_affine((2, 0, 1), (-1, 1, -1), ZOOMS, ORIGIN)
    geometry = Geometry.from_affine(affine, SHAPE)
    ijk = np.array([1.25, 4.0, 6.5])
    np.testing.assert_allclose(geometry.world_to_voxel(geometry.voxel_to_world(ijk)), ijk)
    np.testing.assert_allclose(geometry.voxel_to_world([0, 0, 0]), ORIGIN)
    assert geometry.clamp_ijk((1.4, 4.6, 6.5)) == (1, 5, 6)
    assert geometry.clamp_ijk((-3, 99, 7)) == (0, 5, 6)
    assert all(isinstance(v, int) for v in geometry.clamp_ijk((0.2, 0.2, 0.2)))
