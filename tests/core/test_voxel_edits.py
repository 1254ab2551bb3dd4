"""VoxelEdits: undo/redo, brush discs, storage rounding, and EditedProxy reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from volview.core.edited_proxy import EditedProxy
from volview.core.voxel_edits import Storage, VoxelEditError, VoxelEdits, disc_voxels
from volview.io.proxy import ArrayProxy

SHAPE = (6, 5, 4, 2)


def make_edits(dtype=np.float32, slope=1.0, inter=0.0) -> VoxelEdits:
    return VoxelEdits(Path("/data/img.nii"), SHAPE, Storage(np.dtype(dtype), slope, inter))


def make_proxy():
    data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    edits = make_edits()
    return data, edits, EditedProxy(ArrayProxy(data.copy()), edits)


def test_undo_restores_values_and_redo_reapplies():
    data, edits, proxy = make_proxy()
    edits.set_voxel((1, 2, 3), 100.0)
    edits.set_voxel((1, 2, 3), 200.0)
    edits.set_voxel((0, 0, 0), -5.0, t=1)
    assert proxy.value((1, 2, 3)) == 200.0 and proxy.value((0, 0, 0), 1) == -5.0
    edits.undo()
    assert proxy.value((0, 0, 0), 1) == data[0, 0, 0, 1]
    edits.undo()
    assert proxy.value((1, 2, 3)) == 100.0
    edits.undo()
    assert proxy.value((1, 2, 3)) == data[1, 2, 3, 0]
    assert not edits.can_undo and edits.count == 0
    edits.redo()
    edits.redo()
    assert proxy.value((1, 2, 3)) == 200.0 and edits.can_redo
    edits.set_voxel((2, 2, 2), 1.0)  # a new edit drops the redo history
    assert not edits.can_redo


def test_changed_fires_on_edit_undo_and_redo():
    edits = make_edits()
    seen = []
    edits.changed.connect(lambda: seen.append(edits.count))
    edits.set_voxel((0, 0, 0), 1.0)
    edits.undo()
    edits.redo()
    assert seen == [1, 0, 1]


def test_disc_shape_radius_one_is_a_plus_sign():
    voxels = disc_voxels((6, 5, 4), 2, (2, 2, 1), 1)
    assert sorted(voxels) == [(1, 2, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1), (3, 2, 1)]
    assert disc_voxels((6, 5, 4), 0, (3, 2, 2), 0) == [(3, 2, 2)]
    assert len(disc_voxels((50, 50, 1), 2, (25, 25, 0), 3)) == 29  # |d|^2 <= 9


def test_brush_is_clipped_to_the_image_and_one_undo_step():
    data, edits, proxy = make_proxy()
    edits.paint_disc(1, 4, (0, 99, 0), 2, 7.0, t=1)  # corner of plane j == 4
    expected = {(i, 4, k, 1) for i in range(3) for k in range(3) if i * i + k * k <= 4}
    assert set(edits.edited_values()) == expected
    assert all(v == 7.0 for v in edits.edited_values().values())
    edits.undo()
    assert edits.count == 0
    np.testing.assert_array_equal(proxy.plane(1, 4, 1), data[:, 4, :, 1])


def test_stroke_groups_edits_into_one_step():
    edits = make_edits()
    edits.begin_stroke()
    for i in range(4):
        edits.paint_disc(2, 0, (i, 0, 0), 0, 3.0)
    edits.end_stroke()
    assert edits.count == 4
    edits.undo()
    assert edits.count == 0 and not edits.can_undo


def test_edited_plane_with_strided_and_cropped_in_plane():
    data, edits, proxy = make_proxy()
    edits.set_voxel((2, 1, 3), -1.0, t=1)
    edits.set_voxel((3, 1, 3), -2.0, t=1)
    expected = data.copy()
    expected[2, 1, 3, 1], expected[3, 1, 3, 1] = -1.0, -2.0
    for in_plane in [
        (slice(None), slice(None)),
        (slice(0, 6, 2), slice(1, 5, 2)),
        (slice(3, 5), slice(None)),
        (slice(1, 6, 3), slice(0, 2)),
    ]:
        got = proxy.plane(1, 1, 1, in_plane)
        np.testing.assert_array_equal(got, expected[in_plane[0], 1, in_plane[1], 1])
    np.testing.assert_array_equal(proxy.plane(2, 3, 0), data[:, :, 3, 0])  # other volume
    np.testing.assert_array_equal(proxy.series((2, 1, 3)), expected[2, 1, 3, :])


def test_integer_storage_rounds_and_says_so():
    edits = make_edits(np.int16)
    assert edits.set_voxel((0, 0, 0), 12.0) is None
    message = edits.set_voxel((0, 0, 0), 12.4)
    assert "12.4 is not a whole number and this file stores int16; it is stored as 12" in message
    assert edits.value((0, 0, 0)) == 12.0


def test_integer_storage_clips_to_the_dtype_range():
    edits = make_edits(np.uint8)
    message = edits.set_voxel((1, 1, 1), 300.0)
    assert "outside the range 0 to 255" in message and "stored as 255" in message
    assert edits.value((1, 1, 1)) == 255.0
    assert "stored as 0" in edits.set_voxel((1, 1, 1), -3.0)


def test_scaled_integer_storage_uses_the_inverse_scaling():
    edits = make_edits(np.int16, slope=0.5, inter=10.0)
    assert edits.set_voxel((0, 0, 0), 13.5) is None  # stored number 7
    message = edits.set_voxel((0, 0, 0), 13.3)  # (13.3 - 10) / 0.5 = 6.6 -> 7
    assert "falls between the values this file can store" in message
    assert edits.value((0, 0, 0)) == 13.5
    keys, numbers = edits.stored_values()
    assert keys.tolist() == [[0, 0, 0, 0]] and numbers.tolist() == [7]
    assert numbers.dtype == np.int16
    clipped = edits.set_voxel((0, 0, 0), 1e6)
    assert "outside the range -16374 to 16393.5" in clipped


def test_nan_cannot_go_into_integer_data_but_can_into_float():
    with pytest.raises(VoxelEditError, match="nan cannot be stored in int16"):
        make_edits(np.int16).set_voxel((0, 0, 0), float("nan"))
    edits = make_edits(np.float32)
    assert edits.set_voxel((0, 0, 0), float("nan")) is None
    with pytest.raises(VoxelEditError, match="too large for float32"):
        edits.set_voxel((0, 0, 0), 1e300)


def test_voxel_outside_the_image_is_refused_with_the_file_name():
    edits = make_edits()
    with pytest.raises(VoxelEditError, match=r"img.nii: voxel \(6, 0, 0\) of volume 0 is outside"):
        edits.set_voxel((6, 0, 0), 1.0)
    assert edits.count == 0 and not edits.can_undo


def test_big_endian_stored_values_are_native_numbers():
    edits = make_edits(np.dtype(">i2"))
    edits.set_voxel((0, 1, 2), -300.0)
    _, numbers = edits.stored_values()
    assert numbers.tolist() == [-300]


def test_where_edits_may_be_saved(tmp_path):
    """Save writes into an uncompressed file; a compressed one or data given in memory
    only allows Save As, and says why."""
    import nibabel as nib

    from volview.core.edited_proxy import file_read_only_reason, in_place_reason
    from volview.io.images import open_image
    from volview.io.in_memory import image_from_array

    data = np.zeros((4, 5, 6), np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "plain.nii")
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "packed.nii.gz")
    plain, packed = open_image(tmp_path / "plain.nii"), open_image(tmp_path / "packed.nii.gz")
    try:
        assert in_place_reason(plain) is None and file_read_only_reason(plain) is None
        assert "packed.nii.gz is read gzip" in in_place_reason(packed)
        assert file_read_only_reason(packed) is None  # not a memory-mapped file
        assert "given in memory" in in_place_reason(image_from_array(data))
    finally:
        plain.close()
        packed.close()
