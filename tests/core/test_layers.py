"""Image layers: overlay planes resampled into the base grid equal a direct nibabel lookup."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nibabel.affines import apply_affine

from volview.core.geometry import Plane
from volview.core.layers import (
    ImageLayer,
    LayerStyle,
    colourise,
    default_style,
    label_colours,
    overlay_plane,
    parallel_axes,
)
from volview.core.slicing import SliceRequest, full_plane_request
from volview.core.state import ViewerState
from volview.core.volume import Volume
from volview.errors import UnsupportedFormatError
from volview.io.images import open_image
from volview.session import Session

BASE_AFFINE = np.array([[-2.0, 0, 0, 40.0], [0, 2.0, 0, -30.0], [0, 0, 2.5, -20.0], [0, 0, 0, 1]])
BASE_SHAPE = (20, 18, 14)


OVERLAY_SHAPE = (22, 26, 16)


def centred(linear, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """An overlay affine with ``linear`` whose centre lands near the base's centre."""
    base_centre = apply_affine(BASE_AFFINE, (np.array(BASE_SHAPE) - 1) / 2)
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = base_centre + shift - affine[:3, :3] @ ((np.array(OVERLAY_SHAPE) - 1) / 2)
    return affine


def rotation(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


#: overlay grids relative to the base: shifted, flipped, finer, coarser, oblique, permuted
OVERLAY_AFFINES = {
    "shifted": centred(np.eye(3), shift=(3.3, -2.0, 1.7)),
    "flipped": centred(np.diag([-1.5, -1.0, 2.0])),
    "coarse": centred(np.diag([4.0, 4.0, 4.0])),
    "oblique": centred(rotation(17) * 1.3),
    "permuted": centred(np.array([[0, 0, 1.5], [1.2, 0, 0], [0, -1, 0]])),
}


def write(path, data, affine, **header) -> str:
    img = nib.Nifti1Image(data, affine)
    for name, value in header.items():
        img.header[name] = value
    img.to_filename(str(path))
    return str(path)


@pytest.fixture
def base_volume(tmp_path):
    path = write(tmp_path / "base.nii", np.zeros(BASE_SHAPE, np.float32), BASE_AFFINE)
    volume = Volume.from_image(open_image(path))
    yield volume
    volume.image.close()


def expected_plane(overlay_path, request: SliceRequest, t: int = 0) -> np.ndarray:
    """A direct lookup: base voxel -> world -> nearest overlay voxel, via nibabel."""
    img = nib.load(overlay_path)
    data = img.get_fdata()
    if data.ndim == 4:
        data = data[..., t]
    layout = request.layout
    cols = np.arange(*request.col_range.indices(layout.n_cols))
    rows = np.arange(*request.row_range.indices(layout.n_rows))
    out = np.full((len(rows), len(cols)), np.nan)
    to_overlay = np.linalg.inv(img.affine) @ BASE_AFFINE
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            ijk = np.zeros(3)
            ijk[[layout.col_axis, layout.row_axis, layout.depth_axis]] = (
                col,
                row,
                request.depth_index,
            )
            v = np.floor(apply_affine(to_overlay, ijk) + 0.5).astype(int)
            if np.all(v >= 0) and np.all(v < data.shape[:3]):
                out[r, c] = data[tuple(v)]
    if layout.row_flip:
        out = out[::-1]
    if layout.col_flip:
        out = out[:, ::-1]
    return out


@pytest.mark.parametrize("name", OVERLAY_AFFINES)
@pytest.mark.parametrize("plane", list(Plane))
def test_overlay_plane_equals_a_direct_lookup(tmp_path, base_volume, name, plane):
    rng = np.random.default_rng(7)
    data = rng.normal(size=OVERLAY_SHAPE).astype(np.float32)
    path = write(tmp_path / f"{name}.nii", data, OVERLAY_AFFINES[name])
    image = open_image(path)
    layout = base_volume.geometry.layout(plane)
    inside = 0
    for depth in range(0, BASE_SHAPE[layout.depth_axis], 3):
        request = full_plane_request(layout, depth, 0, 1 + depth % 2)
        got = overlay_plane(image, BASE_AFFINE, request, 0)
        expected = expected_plane(path, request)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-6)
        inside += np.count_nonzero(~np.isnan(got))
    assert inside > 100  # the grids overlap: the test compares values, not just NaN
    image.close()


def test_parallel_grids_are_recognised():
    to_overlay = {name: np.linalg.inv(a) @ BASE_AFFINE for name, a in OVERLAY_AFFINES.items()}
    assert parallel_axes(to_overlay["shifted"]) == (0, 1, 2)
    assert parallel_axes(to_overlay["permuted"]) == (2, 0, 1)  # base i is world x: overlay k
    assert parallel_axes(to_overlay["oblique"]) is None
    residue = to_overlay["flipped"].copy()
    residue[0, 1] = 1e-14  # what inverting a float affine leaves
    assert parallel_axes(residue) == (0, 1, 2)
    residue[0, 1] = 1e-3  # a real (tiny) rotation
    assert parallel_axes(residue) is None
    assert parallel_axes(np.diag([1.0, 1.0, 0.0, 1.0])) is None  # degenerate


@pytest.mark.parametrize(
    "linear",
    [
        np.diag([0.5, 0.5, 0.5]),
        np.diag([-2.0, 0.5, 1.25]),
        np.array([[0, 0.5, 0], [0, 0, 2], [-1, 0, 0]]),
    ],
    ids=["half-voxel ties", "mixed", "permuted ties"],
)
def test_parallel_path_equals_the_pixel_by_pixel_path(tmp_path, base_volume, linear, monkeypatch):
    """Row/column resampling gives what the pixel-by-pixel path gives, ties at half a
    voxel included, for every plane, depth, stride and crop; and reads one block."""
    from volview.core import layers

    affine = np.eye(4)
    affine[:3, :3] = linear @ np.linalg.inv(BASE_AFFINE[:3, :3]) @ np.diag([2.0, 2.0, 2.5])
    affine[:3, 3] = BASE_AFFINE[:3, 3] + [1.0, -2.0, 1.25]
    data = np.random.default_rng(3).normal(size=OVERLAY_SHAPE).astype(np.float32)
    image = open_image(write(tmp_path / "ties.nii", data, affine))
    assert parallel_axes(np.linalg.inv(affine) @ BASE_AFFINE) is not None
    reads = []
    read = image.proxy.plane
    image.proxy.plane = lambda *args: reads.append(args) or read(*args)
    for plane in Plane:
        layout = base_volume.geometry.layout(plane)
        for depth in range(BASE_SHAPE[layout.depth_axis]):
            for request in (
                full_plane_request(layout, depth, 0, 1 + depth % 3),
                SliceRequest(layout, depth, 0, slice(3, None, 2), slice(1, 9)),
            ):
                reads.clear()
                got = overlay_plane(image, BASE_AFFINE, request, 0)
                assert len(reads) <= 1
                with monkeypatch.context() as patched:
                    patched.setattr(layers, "parallel_axes", lambda _m: None)
                    expected = overlay_plane(image, BASE_AFFINE, request, 0)
                np.testing.assert_array_equal(got, expected)
    image.close()


def test_cropped_strided_request_and_4d_volume(tmp_path, base_volume):
    data = np.arange(np.prod(OVERLAY_SHAPE) * 3, dtype=np.float32).reshape(*OVERLAY_SHAPE, 3)
    path = write(tmp_path / "four.nii", data, OVERLAY_AFFINES["shifted"])
    layer = ImageLayer.open(Volume.from_image(open_image(path)))
    layout = base_volume.geometry.layout(Plane.CORONAL)
    request = SliceRequest(layout, 5, 7, slice(2, 15, 3), slice(1, 12, 2))  # t past the end
    got = layer.plane(BASE_AFFINE, request)
    np.testing.assert_allclose(got, expected_plane(path, request, t=2))  # t clamped to 2
    assert np.isfinite(got).sum() >= 9
    assert layer.seen_range == (np.nanmin(got), np.nanmax(got))
    layer.close()


def test_value_at_the_cursor(tmp_path, base_volume):
    data = np.random.default_rng(2).normal(size=OVERLAY_SHAPE).astype(np.float32)
    path = write(tmp_path / "o.nii", data, OVERLAY_AFFINES["flipped"])
    layer = ImageLayer.open(Volume.from_image(open_image(path)))
    to_overlay = np.linalg.inv(OVERLAY_AFFINES["flipped"]) @ BASE_AFFINE
    for ijk in [(0, 0, 0), (5, 9, 3), (19, 17, 13), (10, 2, 8)]:
        v = np.floor(apply_affine(to_overlay, ijk) + 0.5).astype(int)
        inside = np.all(v >= 0) and np.all(v < data.shape)
        expected = float(data[tuple(v)]) if inside else None
        assert layer.value_at(BASE_AFFINE, ijk) == pytest.approx(expected)
    layer.close()


def test_a_layer_waiting_for_a_copy_reads_nothing_until_it_is_there(tmp_path, base_volume):
    from volview.core.memory_load import copy_in_ram

    data = np.arange(np.prod(OVERLAY_SHAPE), dtype=np.float32).reshape(OVERLAY_SHAPE)
    path = write(tmp_path / "copied.nii.gz", data, OVERLAY_AFFINES["shifted"])
    layer = ImageLayer.open(Volume.from_image(open_image(path)))
    request = full_plane_request(base_volume.geometry.layout(Plane.SAGITTAL), 9, 0)
    redraws = []
    layer.changed.connect(lambda: redraws.append(layer.waiting_for_copy))
    layer.set_waiting_for_copy(True)
    layer.set_waiting_for_copy(True)  # no change, no redraw
    file_image = layer.image
    file_image.proxy.plane = lambda *args: pytest.fail("the file was read")
    file_image.proxy.value = lambda *args: pytest.fail("the file was read")
    assert layer.plane(BASE_AFFINE, request) is None
    assert layer.value_at(BASE_AFFINE, (9, 9, 7)) is None
    assert layer.value_text(None) == "reading\u2026"
    layer.use_image(copy_in_ram(file_image, available=2**40))
    assert redraws == [True, False] and not layer.waiting_for_copy
    np.testing.assert_allclose(layer.plane(BASE_AFFINE, request), expected_plane(path, request))
    assert layer.value_text(None) == "outside"
    file_image.close()
    layer.close()


def test_default_styles(tmp_path):
    stat = np.zeros((20, 20, 20), np.float32)
    stat[4:8, 4:8, 4:8] = 5.0
    stat[12:16, 12:16, 12:16] = -4.0
    labels = np.zeros((20, 20, 20), np.int16)
    labels[2:6] = 3
    labels[10:14] = 17
    t1 = np.random.default_rng(0).integers(0, 3000, (20, 20, 20)).astype(np.int16)
    styles = {}
    for name, data, header in [
        ("stat", stat, {}),
        ("labels", labels, {}),
        ("t1", t1, {}),
        ("intent", (labels > 0).astype(np.float32) * 2.5, {"intent_code": 1002}),
    ]:
        path = write(tmp_path / f"{name}.nii", data, np.eye(4), **header)
        state = ViewerState()
        session = Session(state)
        session.open_paths([write(tmp_path / "b.nii", np.zeros((4, 4, 4)), np.eye(4)), path])
        (layer,) = state.overlays
        styles[name] = layer.style
        assert default_style(layer.volume) == layer.style or name == "intent"
    assert styles["stat"].negative_colormap == "blue_lightblue"
    assert styles["stat"].threshold_mode == "outside"
    assert styles["labels"].labels and styles["intent"].labels
    assert not styles["t1"].labels and styles["t1"].threshold_mode == "above"
    assert styles["t1"].threshold == styles["t1"].window[0]


def test_colourise_threshold_labels_and_signs():
    values = np.array([[np.nan, -3.0, -0.5, 0.0, 0.5, 3.0]], np.float32)
    ramp = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    blue = np.zeros((256, 3), np.uint8)
    blue[:, 2] = 255
    luts = {"gray": ramp, "blue_lightblue": blue}.__getitem__
    style = LayerStyle(colormap="gray", window=(0.0, 3.0), opacity=0.5)
    rgba = colourise(values, style, luts)
    assert rgba[0, :, 3].tolist() == [0, 128, 128, 128, 128, 128]
    assert rgba[0, 5, :3].tolist() == [255, 255, 255] and rgba[0, 3, :3].tolist() == [0, 0, 0]
    above = colourise(
        values, LayerStyle(colormap="gray", threshold_mode="above", threshold=0.5), luts
    )
    assert (above[0, :, 3] > 0).tolist() == [False, False, False, False, True, True]
    below = colourise(
        values, LayerStyle(colormap="gray", threshold_mode="below", threshold=0), luts
    )
    assert (below[0, :, 3] > 0).tolist() == [False, True, True, True, False, False]
    signed = LayerStyle(
        colormap="gray", negative_colormap="blue_lightblue", window=(0.0, 3.0),
        threshold_mode="outside", threshold=1.0,
    )  # fmt: skip
    both = colourise(values, signed, luts)
    assert (both[0, :, 3] > 0).tolist() == [False, True, False, False, False, True]
    assert both[0, 1, :3].tolist() == [0, 0, 255] and both[0, 5, :3].tolist() == [255] * 3
    labels = colourise(np.array([[0.0, 1.0, 2.0, 2.0]]), LayerStyle(labels=True), luts)
    assert labels[0, 0, 3] == 0 and (labels[0, 1:, 3] == 255).all()
    assert labels[0, 2, :3].tolist() == labels[0, 3, :3].tolist() != labels[0, 1, :3].tolist()


def test_label_colours_are_stable_and_distinct():
    first = label_colours(np.arange(1, 200))
    assert np.array_equal(first, label_colours(np.arange(1, 200)))
    assert len({tuple(c) for c in first}) == 199
    assert first.min() >= 60  # none too dark to see


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"opacity": 1.5}, "opacity"),
        ({"colormap": "nope"}, "unknown colormap"),
        ({"negative_colormap": "nope"}, "unknown colormap"),
        ({"threshold_mode": "sideways"}, "threshold mode"),
        ({"window": (2.0, 1.0)}, "window"),
        ({"threshold": float("nan")}, "threshold"),
    ],
)
def test_invalid_styles_are_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        LayerStyle(**changes)


def test_state_adds_moves_and_removes_overlays(tmp_path):
    state = ViewerState()
    session = Session(state)
    base = write(tmp_path / "b.nii", np.zeros((6, 6, 6), np.float32), np.eye(4))
    paths = [
        write(tmp_path / f"o{n}.nii", np.full((6, 6, 6), n, np.float32), np.eye(4))
        for n in range(3)
    ]
    events = []
    state.overlays_changed.connect(lambda: events.append([o.name for o in state.overlays]))
    assert session.open_paths([base, *paths]) == []
    assert state.volume.name == "b.nii"
    assert [o.name for o in state.overlays] == ["o0.nii", "o1.nii", "o2.nii"]
    first = state.overlays[0]
    state.move_overlay(first, 1)
    assert [o.name for o in state.overlays] == ["o1.nii", "o0.nii", "o2.nii"]
    state.move_overlay(first, 5)  # clamped to the top
    state.move_overlay(first, 1)  # already on top: no event
    assert [o.name for o in state.overlays] == ["o1.nii", "o2.nii", "o0.nii"]
    assert len(events) == 5
    state.overlays[1].set_style(visible=False)
    assert [(o.name, v) for o, v in state.overlay_values()] == [("o1.nii", 1.0), ("o0.nii", 0.0)]
    state.remove_overlay(first)
    assert [o.name for o in state.overlays] == ["o1.nii", "o2.nii"]
    assert session.open_paths([paths[0]], as_overlays=True) == []
    assert len(state.overlays) == 3 and state.volume.name == "b.nii"
    assert session.open_paths([paths[1]]) == []  # alone, not as an overlay: replaces the base
    assert state.volume.name == "o1.nii" and len(state.overlays) == 3


def test_overlay_errors_name_the_file(tmp_path):
    state = ViewerState()
    session = Session(state)
    base = write(tmp_path / "b.nii", np.zeros((6, 6, 6), np.float32), np.eye(4))
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    errors = session.open_paths([base, bad, tmp_path / "missing.nii"])
    assert isinstance(errors[0], UnsupportedFormatError) and "notes.txt" in str(errors[0])
    assert "missing.nii" in str(errors[1])
    assert state.overlays == [] and state.volume.name == "b.nii"
