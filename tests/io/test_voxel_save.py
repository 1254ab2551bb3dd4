"""Saving voxel edits: in place writes exactly the edited voxels' bytes; Save As."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from volview.core.edited_proxy import base_proxy, storage_of
from volview.core.voxel_edits import VoxelEdits
from volview.errors import SaveCancelled
from volview.io.images import open_image
from volview.io.in_memory import image_from_array
from volview.io.voxel_save import (
    VoxelSaveError,
    read_only_reason,
    save_array_as,
    save_file_as,
    save_in_place,
)


def write_nifti(path: Path, data, slope=None, inter=None, dtype=None, endian="<") -> Path:
    header = nib.Nifti1Header(endianness=endian)
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]), header)
    if dtype is not None:
        img.header.set_data_dtype(dtype)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    img.to_filename(str(path))
    return path


def edits_for(image) -> VoxelEdits:
    return VoxelEdits(image.path, image.shape, storage_of(image))


def save(image, edits) -> int:
    return save_in_place(base_proxy(image.proxy), *edits.stored_values())


def expected_file(before: bytes, image, keys_numbers: dict) -> bytes:
    """``before`` with each voxel's bytes replaced, computed from the header alone."""
    proxy = base_proxy(image.proxy)
    out = bytearray(before)
    for (i, j, k, t), number in keys_numbers.items():
        ni, nj, nk, _ = image.shape
        at = proxy.offset + proxy.dtype.itemsize * (i + ni * (j + nj * (k + nk * t)))
        out[at : at + proxy.dtype.itemsize] = np.array(number, dtype=proxy.dtype).tobytes()
    return bytes(out)


def test_save_writes_exactly_the_edited_voxels(tmp_path):
    data = np.arange(8 * 7 * 6, dtype=np.float32).reshape(8, 7, 6)
    path = write_nifti(tmp_path / "a.nii", data)
    before = path.read_bytes()
    image = open_image(path)
    edits = edits_for(image)
    edits.set_voxel((1, 2, 3), -7.5)
    edits.paint_disc(0, 4, (4, 3, 3), 1, 99.0)  # sagittal: no two voxels adjacent on disk
    edits.set_voxel((7, 6, 5), 1e9)
    written = save(image, edits)
    assert written == 7 * 4
    expected = data.copy()
    expected[1, 2, 3] = -7.5
    expected[4, [3, 2, 4, 3, 3], [3, 3, 3, 2, 4]] = 99.0
    expected[7, 6, 5] = 1e9
    after = path.read_bytes()
    np.testing.assert_array_equal(np.asarray(nib.load(path).dataobj), expected)
    numbers = {
        k: v
        for k, v in zip(
            map(tuple, edits.stored_values()[0].tolist()),
            edits.stored_values()[1].tolist(),
            strict=True,
        )
    }
    assert after == expected_file(before, image, numbers)
    diff = np.flatnonzero(np.frombuffer(after, np.uint8) != np.frombuffer(before, np.uint8))
    assert diff.min() >= 352 and len(diff) <= written  # the header is untouched
    # the read-only map sees the saved values
    assert image.proxy.value((1, 2, 3)) == -7.5
    image.close()


def test_scaled_int16_saves_stored_numbers(tmp_path):
    raw = np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3)
    path = write_nifti(tmp_path / "s.nii", raw, slope=0.5, inter=-3.0, dtype=np.int16)
    before = path.read_bytes()
    image = open_image(path)
    assert image.scaling == (0.5, -3.0)
    edits = edits_for(image)
    assert edits.set_voxel((2, 1, 0), 10.0) is None  # stored 26
    assert "stored as 5" in edits.set_voxel((0, 0, 2), 5.2)  # 16.4 -> 16
    save(image, edits)
    after = nib.load(path)
    unscaled = after.dataobj.get_unscaled()
    expected = raw.copy()
    expected[2, 1, 0], expected[0, 0, 2] = 26, 16
    np.testing.assert_array_equal(unscaled, expected)
    assert (after.dataobj.slope, after.dataobj.inter) == (0.5, -3.0)
    assert path.read_bytes() == expected_file(before, image, {(2, 1, 0, 0): 26, (0, 0, 2, 0): 16})


def test_big_endian_4d_at_a_later_volume(tmp_path):
    data = np.arange(4 * 3 * 2 * 3, dtype=">i4").reshape(4, 3, 2, 3)
    path = write_nifti(tmp_path / "be.nii", data, endian=">")
    assert nib.load(path).get_data_dtype().byteorder == ">"
    before = path.read_bytes()
    image = open_image(path)
    edits = edits_for(image)
    edits.paint_disc(2, 1, (1, 1, 1), 1, -123456.0, t=2)
    save(image, edits)
    expected = data.copy()
    expected[[1, 0, 2, 1, 1], [1, 1, 1, 0, 2], 1, 2] = -123456
    np.testing.assert_array_equal(np.asarray(nib.load(path).dataobj), expected)
    numbers = dict.fromkeys(map(tuple, edits.stored_values()[0].tolist()), -123456)
    assert path.read_bytes() == expected_file(before, image, numbers)
    assert image.proxy.plane(2, 1, 2)[1, 1] == -123456


def test_analyze_pair_saves_into_the_img_file(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(4, 3, 2)
    nib.AnalyzeImage(data, np.eye(4)).to_filename(str(tmp_path / "p.hdr"))
    header_before = (tmp_path / "p.hdr").read_bytes()
    image = open_image(tmp_path / "p.img")
    edits = edits_for(image)
    edits.set_voxel((3, 2, 1), 777)
    save(image, edits)
    assert (tmp_path / "p.hdr").read_bytes() == header_before
    assert np.asarray(nib.load(tmp_path / "p.hdr").dataobj)[3, 2, 1] == 777


def test_files_are_opened_read_only_until_save(tmp_path):
    path = write_nifti(tmp_path / "r.nii", np.zeros((3, 3, 3), np.float32))
    image = open_image(path)
    proxy = base_proxy(image.proxy)
    with pytest.raises(TypeError, match="readonly"):  # mapped with ACCESS_READ
        proxy._mmap[400] = 1


def test_read_only_reason_names_the_file_and_the_way_out(tmp_path, monkeypatch):
    path = write_nifti(tmp_path / "ro.nii", np.zeros((2, 2, 2), np.float32))
    assert read_only_reason(path) is None
    monkeypatch.setattr(os, "access", lambda p, mode: mode != os.W_OK)
    reason = read_only_reason(path)
    assert reason.startswith("ro.nii: is read-only")
    assert "you can edit and Save As a new file" in reason


def test_save_into_a_file_that_cannot_be_opened_for_writing_changes_nothing(tmp_path):
    path = write_nifti(tmp_path / "gone.nii", np.zeros((2, 2, 2), np.float32))
    image = open_image(path)
    edits = edits_for(image)
    edits.set_voxel((0, 0, 0), 1.0)
    path.unlink()
    path.mkdir()  # a folder where the file was: open(O_RDWR) fails even as root
    with pytest.raises(
        VoxelSaveError, match=r"cannot open the file for writing.*nothing was saved"
    ):
        save(image, edits)


def test_save_as_nii_gz_equals_nibabel_data_plus_edits(tmp_path):
    raw = (np.arange(6 * 5 * 4 * 2) % 200).astype(np.int16).reshape(6, 5, 4, 2)
    src = write_nifti(tmp_path / "src.nii.gz", raw, slope=2.0, inter=1.0, dtype=np.int16)
    src_bytes = src.read_bytes()
    image = open_image(src)
    edits = edits_for(image)
    edits.paint_disc(2, 3, (2, 2, 3), 1, 41.0, t=1)
    seen = []
    out = save_file_as(
        src,
        *edits.stored_values(),
        tmp_path / "out.nii.gz",
        progress=lambda d, n: seen.append((d, n)),
    )
    assert seen and seen[-1][0] == seen[-1][1]
    expected = nib.load(src).get_fdata()
    for (i, j, k, t), value in edits.edited_values().items():
        expected[i, j, k, t] = value
    saved = nib.load(out)
    np.testing.assert_array_equal(saved.get_fdata(), expected)
    assert saved.get_data_dtype() == np.int16
    assert (saved.dataobj.slope, saved.dataobj.inter) == (2.0, 1.0)
    np.testing.assert_array_equal(saved.affine, nib.load(src).affine)
    assert src.read_bytes() == src_bytes
    assert [p.name for p in tmp_path.iterdir() if "volview-tmp" in p.name] == []


def test_save_as_refuses_to_overwrite_the_source(tmp_path):
    src = write_nifti(tmp_path / "src.nii.gz", np.zeros((2, 2, 2), np.float32))
    with pytest.raises(VoxelSaveError, match="is the image being edited"):
        save_file_as(src, np.zeros((0, 4), int), np.zeros(0), tmp_path / "." / "src.nii.gz")
    with pytest.raises(VoxelSaveError, match=r"choose a \.nii or \.nii\.gz name"):
        save_file_as(src, np.zeros((0, 4), int), np.zeros(0), tmp_path / "x.img")


def test_cancelled_save_as_leaves_no_file(tmp_path):
    src = write_nifti(tmp_path / "c.nii.gz", np.zeros((4, 4, 4), np.float32))
    with pytest.raises(SaveCancelled):
        save_file_as(
            src, np.zeros((0, 4), int), np.zeros(0), tmp_path / "out.nii", cancelled=lambda: True
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.nii.gz"]


def test_save_array_as_writes_scaled_values_and_edits(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    image = image_from_array(data, np.diag([1.0, 2.0, 3.0, 1.0]), name="arr")
    edits = edits_for(image)
    edits.set_voxel((1, 2, 3), 500)
    out = save_array_as(image.proxy, image.affine, *edits.arrays(), tmp_path / "arr.nii")
    expected = data.astype(np.float32)
    expected[1, 2, 3] = 500
    np.testing.assert_array_equal(nib.load(out).get_fdata(), expected)
    np.testing.assert_array_equal(nib.load(out).affine, image.affine)


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from volview.core.edited_proxy import EditedProxy, storage_of
    from volview.core.voxel_edits import VoxelEdits
    from volview.io.images import open_image
    image = open_image(sys.argv[1])
    edits = VoxelEdits(image.path, image.shape, storage_of(image))
    proxy = EditedProxy(image.proxy, edits)
    edits.paint_disc(2, 2, (3, 3, 2), 2, 12345.0)
    assert proxy.value((3, 3, 2)) == 12345.0
    print("edited", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_crash_between_edit_and_save_leaves_the_file_untouched(tmp_path):
    path = write_nifti(tmp_path / "crash.nii", np.ones((8, 8, 5), np.float32))
    before, stat = path.read_bytes(), path.stat()
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout == "edited\n", proc.stderr
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
