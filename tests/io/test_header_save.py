"""Saving headers: every field, nibabel's real files, refusals, backups and Save As.

Crash safety, cancelling and progress are in test_header_save_crash.py.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.factories import fdata4, write_sparse_nifti
from tests.io.test_header import (
    ANALYZE_EDITS,
    DATA,
    EDITS,
    REAL_HEADERS,
    file_bytes,
    make_analyze,
    make_image,
    nibabel_header,
    nibabel_value,
)
from volview.errors import HeaderSaveError, VolviewError
from volview.io.header import HeaderKind
from volview.io.header_fields import ValueKind
from volview.io.header_file import HeaderFile, read_header
from volview.io.header_save import (
    backup_path,
    can_save_in_place,
    discard_backup,
    find_backup,
    restore_backup,
    save,
    save_in_place,
    save_rewrite,
)

SAVE_LAYOUTS = [
    "nifti1-le.nii",
    "nifti1-be.nii",
    "nifti2-le.nii",
    "nifti1-pair.hdr",
    "nifti2-be-pair.hdr",
    "nifti1.nii.gz",
    "nifti1-pair.img.gz",
]


class SimulatedCrashError(Exception):
    """Raised by a checkpoint: the process 'died' after that step."""


def data_digest(hf: HeaderFile) -> str:
    """sha256 of the voxel bytes (after vox_offset in a single file, the whole .img)."""
    data = file_bytes(hf.data_path)
    start = int(hf.raw.value("vox_offset")) if hf.single else 0
    return hashlib.sha256(data[start:]).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Backup and temporary files left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if "volview-" in p.name)


def expected_value(item, value):
    if item.spec.kind == ValueKind.TEXT:
        return value.encode("latin-1")
    return np.asarray(value, dtype=item.spec.dtype).item()


def assert_only_item_changed(before: bytes, after: bytes, item) -> None:
    start, end = item.offset, item.offset + item.nbytes
    assert len(after) == len(before)
    assert after[:start] == before[:start], item.key
    assert after[end:] == before[end:], item.key


# -- every field ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", SAVE_LAYOUTS)
@pytest.mark.parametrize("key", sorted(EDITS))
def test_every_editable_field_is_saved(tmp_path, layout, key):
    path = make_image(tmp_path, layout)
    hf = read_header(path)
    before, digest = file_bytes(hf.header_path), data_digest(hf)
    assert save(hf, hf.raw.with_value(key, EDITS[key])) == path
    item = hf.raw.item(key)
    theirs = nibabel_value(nibabel_header(hf.header_path, hf.raw.kind), item)
    assert np.asarray(theirs).item() == expected_value(item, EDITS[key])
    assert_only_item_changed(before, file_bytes(hf.header_path), item)
    assert data_digest(read_header(path)) == digest
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("key", sorted(ANALYZE_EDITS))
def test_every_editable_analyze_field_is_saved(tmp_path, byteorder, key):
    path = make_analyze(tmp_path, byteorder)
    hf = read_header(path)
    before = path.read_bytes()
    save(hf, hf.raw.with_value(key, ANALYZE_EDITS[key]))
    item = hf.raw.item(key)
    theirs = nibabel_value(nibabel_header(path, HeaderKind.ANALYZE), item)
    assert np.asarray(theirs).item() == expected_value(item, ANALYZE_EDITS[key])
    assert_only_item_changed(before, path.read_bytes(), item)


@pytest.mark.parametrize("layout", ["nifti1-le.nii", "nifti2-be-pair.hdr", "nifti1.nii.gz"])
def test_saved_scaling_is_what_nibabel_applies(tmp_path, layout):
    path = make_image(tmp_path, layout)
    hf = read_header(path)
    unscaled = np.asanyarray(nib.load(path).dataobj.get_unscaled()).astype(np.float64)
    save(hf, hf.raw.with_value("scl_slope", 2.0).with_value("scl_inter", -7.5))
    img = nib.load(path)
    assert (img.dataobj.slope, img.dataobj.inter) == (2.0, -7.5)
    assert read_header(path).raw.slope_inter() == (2.0, -7.5)
    np.testing.assert_array_equal(img.get_fdata(), unscaled * 2.0 - 7.5)


def test_in_place_keeps_the_file_its_size_and_data(tmp_path):
    path = make_image(tmp_path, "nifti1-be.nii")
    hf = read_header(path)
    stat, digest = os.stat(path), data_digest(hf)
    save_in_place(hf, hf.raw.with_value("descrip", "in place").with_qform(np.eye(4)))
    after = os.stat(path)
    assert (after.st_ino, after.st_size) == (stat.st_ino, stat.st_size)
    assert data_digest(read_header(path)) == digest
    assert nib.load(path).header["descrip"] == b"in place"


def test_in_place_on_a_sparse_4_gib_file(tmp_path):
    path = write_sparse_nifti(tmp_path / "big.nii", (1024, 1024, 1024, 2), "uint16")
    if path.stat().st_blocks * 512 > 2**20:
        pytest.skip("the file system does not keep the file sparse")
    hf = read_header(path)
    size, blocks = os.stat(path).st_size, os.stat(path).st_blocks
    save_in_place(hf, hf.raw.with_value("descrip", "big"))
    assert os.stat(path).st_size == size == 352 + 2 * 2**31
    assert os.stat(path).st_blocks == blocks  # nothing beyond the header was written
    assert read_header(path).raw.value("descrip") == "big"


# -- nibabel's real files ---------------------------------------------------------------


@pytest.fixture(params=sorted(REAL_HEADERS))
def real_copy(request, tmp_path) -> Path:
    """A copy of one of nibabel's files (header-only pairs without their .img)."""
    return Path(shutil.copy(DATA / request.param, tmp_path / request.param))


def test_real_files_round_trip_in_place(real_copy):
    hf = read_header(real_copy)
    if not can_save_in_place(hf):
        pytest.skip("compressed: see the rewrite round trip")
    before = real_copy.read_bytes()
    save_in_place(hf, hf.raw)
    assert real_copy.read_bytes() == before
    edited = hf.raw.with_value("descrip", "round trip")
    save(hf, edited)
    save(read_header(real_copy), hf.raw)
    assert real_copy.read_bytes() == before


def test_real_files_round_trip_by_rewrite(real_copy):
    hf = read_header(real_copy)
    before = file_bytes(real_copy)
    assert save_rewrite(hf, hf.raw) == real_copy
    assert file_bytes(real_copy) == before
    assert leftovers(real_copy.parent) == []


# -- refusals ----------------------------------------------------------------------------


def test_can_save_in_place(tmp_path):
    expected = {
        "nifti1-le.nii": True,
        "nifti2-be-pair.hdr": True,
        "nifti1.nii.gz": False,
        "nifti1-pair.img.gz": False,
    }
    for layout, ok in expected.items():
        folder = tmp_path / layout
        folder.mkdir()
        assert can_save_in_place(read_header(make_image(folder, layout))) is ok
    assert can_save_in_place(read_header(make_analyze(tmp_path)))


def test_compressed_file_is_not_patched_in_place(tmp_path):
    hf = read_header(make_image(tmp_path, "nifti1.nii.gz"))
    with pytest.raises(HeaderSaveError, match=r"img\.nii\.gz: a compressed file cannot be changed"):
        save_in_place(hf, hf.raw)


def test_read_only_fields_cannot_be_saved(tmp_path):
    hf = read_header(make_image(tmp_path))
    changed = hf.raw.with_fields_unchecked(dim=[4, 6, 5, 4, 3, 1, 1, 1][::-1])
    for saver in (save_in_place, save_rewrite):
        with pytest.raises(HeaderSaveError, match=r"dim\[0\], dim\[1\].* cannot be changed"):
            saver(hf, changed)


def test_header_of_another_kind_cannot_be_saved(tmp_path):
    hf = read_header(make_image(tmp_path))
    other = read_header(make_image(tmp_path, "nifti1-be.nii")).raw
    with pytest.raises(HeaderSaveError, match="not a NIfTI-1 header of the same byte order"):
        save(hf, other)


def test_file_changed_on_disk_is_not_overwritten(tmp_path):
    path = make_image(tmp_path)
    hf = read_header(path)
    nib.load(path).header  # noqa: B018 - a read changes nothing
    with open(path, "r+b") as f:
        f.seek(148)
        f.write(b"someone else")
    before = path.read_bytes()
    for saver in (save_in_place, save_rewrite):
        with pytest.raises(HeaderSaveError, match="the header changed on disk since it was read"):
            saver(hf, hf.raw.with_value("descrip", "mine"))
        assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_file(tmp_path):
    path = make_image(tmp_path)
    hf = read_header(path)
    path.chmod(0o444)
    with pytest.raises(HeaderSaveError, match="permission denied"):
        save_in_place(hf, hf.raw.with_value("descrip", "x"))


def test_save_as_needs_the_data_file(tmp_path):
    shutil.copy(DATA / "nifti1.hdr", tmp_path / "x.hdr")
    hf = read_header(tmp_path / "x.hdr")
    with pytest.raises(HeaderSaveError, match=r"x\.img: the voxel data file is missing"):
        save(hf, hf.raw, dst=tmp_path / "y.nii")
    assert save_rewrite(hf, hf.raw) == tmp_path / "x.hdr"  # its own header needs no data


def test_save_as_destination_problems(tmp_path):
    hf = read_header(make_image(tmp_path))
    with pytest.raises(HeaderSaveError, match="the destination folder does not exist"):
        save(hf, hf.raw, dst=tmp_path / "nowhere" / "x.nii")
    with pytest.raises(VolviewError, match=r"header editor opens \.nii"):
        save(hf, hf.raw, dst=tmp_path / "x.mgz")


def test_analyze_saves_only_as_a_pair(tmp_path):
    path = make_analyze(tmp_path)
    hf = read_header(path)
    with pytest.raises(HeaderSaveError, match=r"only be saved as a \.hdr/\.img pair"):
        save(hf, hf.raw, dst=tmp_path / "x.nii.gz")
    dst = save(hf, hf.raw.with_value("descrip", "gz pair"), dst=tmp_path / "x.img.gz")
    assert dst == tmp_path / "x.img.gz" and (tmp_path / "x.hdr.gz").is_file()
    copy = read_header(dst)
    assert copy.compressed and copy.raw.value("descrip") == "gz pair"
    np.testing.assert_array_equal(nib.load(dst).get_fdata(), nib.load(path).get_fdata())


# -- leftover backups --------------------------------------------------------------------


def interrupted(tmp_path, layout="nifti1-le.nii") -> tuple[Path, HeaderFile, bytes]:
    """An image whose in-place save stopped after the header was written."""

    def crash(step: str) -> None:
        if step == "header-written":
            raise SimulatedCrashError(step)

    path = make_image(tmp_path, layout)
    hf = read_header(path)
    before = file_bytes(hf.header_path)
    with pytest.raises(SimulatedCrashError):
        save_in_place(hf, hf.raw.with_value("descrip", "new"), checkpoint=crash)
    return path, hf, before


def test_backup_is_beside_the_header(tmp_path):
    assert backup_path(tmp_path / "a.nii") == tmp_path / "a.nii.volview-backup"
    path, hf, _ = interrupted(tmp_path, "nifti1-pair.hdr")
    expected = tmp_path / "img.hdr.volview-backup"
    assert find_backup(path) == find_backup(path.with_suffix(".img")) == expected
    assert find_backup(tmp_path / "other.nii") is None
    assert find_backup(tmp_path / "x.mgz") is None
    record = expected.read_bytes()
    assert record.startswith(b"VOLVIEW HEADER BACKUP 1\n{")
    assert record.endswith(hf.raw.block + hf.raw.with_value("descrip", "new").block)


def test_no_save_over_a_leftover_backup(tmp_path):
    path, hf, _ = interrupted(tmp_path)
    with pytest.raises(HeaderSaveError, match="from an interrupted save is still there"):
        save_in_place(read_header(path), hf.raw)


def test_restore_backup(tmp_path):
    path, _, before = interrupted(tmp_path)
    restore_backup(path)
    assert path.read_bytes() == before and find_backup(path) is None
    with pytest.raises(HeaderSaveError, match="there is no header backup to restore"):
        restore_backup(path)


def test_discard_backup(tmp_path):
    path, _, _ = interrupted(tmp_path)
    discard_backup(path)
    assert find_backup(path) is None
    assert read_header(path).raw.value("descrip") == "new"
    discard_backup(path)  # nothing to do


def test_restore_repairs_a_torn_write(tmp_path):
    path, _, before = interrupted(tmp_path)
    with open(path, "r+b") as f:  # only the first half of the new block reached the disk
        f.write(before[:170])
    restore_backup(path)
    assert path.read_bytes() == before


def test_restore_refuses_a_file_changed_since(tmp_path):
    path, _, _ = interrupted(tmp_path)
    with open(path, "r+b") as f:
        f.seek(148)
        f.write(b"edited elsewhere")
    with pytest.raises(HeaderSaveError, match="the file was changed after the interrupted save"):
        restore_backup(path)
    assert find_backup(path) is not None
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(HeaderSaveError, match="changed after"):
        restore_backup(path)


def test_restore_refuses_a_damaged_backup(tmp_path):
    path, _, _ = interrupted(tmp_path)
    backup = find_backup(path)
    backup.write_bytes(backup.read_bytes()[:-10])
    with pytest.raises(HeaderSaveError, match=r"incomplete or damaged.*can be discarded"):
        restore_backup(path)
    backup.write_bytes(b"junk")
    with pytest.raises(HeaderSaveError, match="incomplete or damaged"):
        restore_backup(path)


def test_restore_refuses_a_backup_of_another_file(tmp_path):
    path, _, _ = interrupted(tmp_path)
    shutil.copy(path, tmp_path / "y.nii")
    shutil.copy(find_backup(path), backup_path(tmp_path / "y.nii"))
    with pytest.raises(HeaderSaveError, match=r"it belongs to img\.nii, not this file"):
        restore_backup(tmp_path / "y.nii")


# -- Save As -------------------------------------------------------------------------------


def assert_same_header_fields(a, b) -> None:
    """Every item equal except the layout fields a conversion rewrites."""
    for item in a.items():
        if item.key in ("magic", "vox_offset"):
            continue
        ours, theirs = a.value(item.key), b.value(item.key)
        both_nan = item.spec.kind == ValueKind.FLOAT and np.isnan(ours) and np.isnan(theirs)
        assert ours == theirs or both_nan, item.key


@pytest.mark.parametrize(
    ("source", "magics", "single_offset"),
    [
        ("example4d.nii.gz", (b"n+1\0", b"ni1\0"), 416),
        ("example_nifti2.nii.gz", (b"n+2\0", b"ni2\0"), 608),
    ],
)
def test_save_as_chain(tmp_path, source, magics, single_offset):
    """.nii -> .nii.gz -> .hdr/.img -> .nii: data, fields and extensions carried."""
    start = tmp_path / "a.nii"
    start.write_bytes(gzip.decompress((DATA / source).read_bytes()))
    expected = fdata4(nib.load(start))
    hf = read_header(start)
    edited = hf.raw.with_value("descrip", "chain")
    gz = save(hf, edited, dst=tmp_path / "b.nii.gz")
    pair = save(read_header(gz), read_header(gz).raw, dst=tmp_path / "c.hdr")
    back = save(
        read_header(pair.with_suffix(".img")), read_header(pair).raw, dst=tmp_path / "d.nii"
    )
    assert (gz, pair, back) == (tmp_path / "b.nii.gz", tmp_path / "c.hdr", tmp_path / "d.nii")
    for path in (gz, pair, back):
        np.testing.assert_array_equal(fdata4(nib.load(path)), expected)
        copy = read_header(path)
        assert_same_header_fields(edited, copy.raw)
        assert copy.raw.n_extensions == 2
        assert [e.get_content() for e in nib.load(path).header.extensions] == [
            e.get_content() for e in nib.load(start).header.extensions
        ]
    assert read_header(pair).raw.value("magic") == magics[1]
    assert read_header(pair).raw.value("vox_offset") == 0
    assert read_header(back).raw.value("magic") == magics[0]
    assert read_header(back).raw.value("vox_offset") == single_offset
    expected_bytes = bytearray(start.read_bytes())
    expected_bytes[: len(edited.block)] = edited.block
    assert back.read_bytes() == bytes(expected_bytes)
    assert leftovers(tmp_path) == []


def test_save_as_gzipped_pair_and_back(tmp_path):
    path = make_image(tmp_path, "nifti1-be.nii")
    hf = read_header(path)
    dst = save(hf, hf.raw, dst=tmp_path / "z.img.gz")
    assert (tmp_path / "z.hdr.gz").is_file() and dst.is_file()
    pair = read_header(dst)
    assert pair.compressed and pair.raw.byteorder == ">"
    np.testing.assert_array_equal(nib.load(dst).get_fdata(), nib.load(path).get_fdata())
    assert save(pair, pair.raw.with_value("descrip", "gz hdr")) == dst  # rewrites z.hdr.gz only
    assert read_header(dst).raw.value("descrip") == "gz hdr"
    np.testing.assert_array_equal(nib.load(dst).get_fdata(), nib.load(path).get_fdata())
    single = save(read_header(dst), read_header(dst).raw, dst=tmp_path / "s.nii")
    assert single.read_bytes()[348:] == path.read_bytes()[348:]


def test_save_as_onto_itself(tmp_path):
    path = make_image(tmp_path)
    hf = read_header(path)
    inode = os.stat(path).st_ino
    assert save(hf, hf.raw.with_value("descrip", "same"), dst=path) == path
    assert os.stat(path).st_ino == inode  # the same file: saved in place
    hf = read_header(path)
    assert save_rewrite(hf, hf.raw.with_value("descrip", "again"), dst=path) == path
    assert read_header(path).raw.value("descrip") == "again"
    assert leftovers(tmp_path) == []


def test_save_as_overwrites_an_existing_file_and_keeps_its_mode(tmp_path):
    path = make_image(tmp_path)
    dst = tmp_path / "existing.nii.gz"
    dst.write_bytes(b"old")
    dst.chmod(0o600)
    hf = read_header(path)
    save(hf, hf.raw, dst=dst)
    assert file_bytes(dst) == path.read_bytes()
    assert dst.stat().st_mode & 0o777 == 0o600
