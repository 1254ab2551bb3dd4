"""Interrupted and cancelled saves leave the old or the new header, data intact.

A ``checkpoint`` that raises stands for a crash after that step. Afterwards the file
holds the old or the new header, its voxel bytes are unchanged, ``find_backup``
reports what an in-place save left, and ``restore_backup`` puts the old header back.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from tests.factories import fingerprint
from tests.io.test_header import file_bytes, make_image
from tests.io.test_header_save import SimulatedCrashError, data_digest, leftovers
from volview.errors import SaveCancelled
from volview.io import header_rewrite
from volview.io.header_file import read_header
from volview.io.header_save import find_backup, restore_backup, save_in_place, save_rewrite

IN_PLACE_STEPS = ["backup-written", "header-written", "backup-removed"]


def crash_after(wanted: str):
    seen = []

    def checkpoint(step: str) -> None:
        seen.append(step)
        if step == wanted:
            raise SimulatedCrashError(step)

    checkpoint.seen = seen  # type: ignore[attr-defined]
    return checkpoint


def test_in_place_steps_are_reported_in_order(tmp_path):
    hf = read_header(make_image(tmp_path))
    checkpoint = crash_after("none")
    save_in_place(hf, hf.raw.with_value("descrip", "x"), checkpoint=checkpoint)
    assert checkpoint.seen == IN_PLACE_STEPS


@pytest.mark.parametrize("layout", ["nifti1-le.nii", "nifti2-be-pair.hdr"])
@pytest.mark.parametrize("step", IN_PLACE_STEPS)
def test_crash_during_save_in_place(tmp_path, layout, step):
    path = make_image(tmp_path, layout)
    hf = read_header(path)
    new = hf.raw.with_value("descrip", "new header")
    old_bytes, digest = file_bytes(hf.header_path), data_digest(hf)
    with pytest.raises(SimulatedCrashError):
        save_in_place(hf, new, checkpoint=crash_after(step))
    now = read_header(path)
    assert now.raw.block == (hf.raw.block if step == "backup-written" else new.block)
    assert data_digest(now) == digest
    assert len(file_bytes(hf.header_path)) == len(old_bytes)
    if step == "backup-removed":
        assert find_backup(path) is None
        return
    assert find_backup(path) is not None
    restore_backup(path)
    assert file_bytes(hf.header_path) == old_bytes
    assert find_backup(path) is None and leftovers(tmp_path) == []


@pytest.mark.parametrize("step", ["temp-written", "replaced"])
def test_crash_during_rewrite_of_a_gzipped_file(tmp_path, step):
    path = make_image(tmp_path, "nifti1.nii.gz")
    hf = read_header(path)
    new = hf.raw.with_value("descrip", "new header")
    before, data = path.read_bytes(), nib.load(path).get_fdata()
    with pytest.raises(SimulatedCrashError):
        save_rewrite(hf, new, checkpoint=crash_after(step))
    if step == "temp-written":
        assert path.read_bytes() == before
    else:
        assert read_header(path).raw.block == new.block
    np.testing.assert_array_equal(nib.load(path).get_fdata(), data)
    assert leftovers(tmp_path) == []  # the temporary file is removed on any exception


def test_rewrite_steps_of_a_save_as_pair(tmp_path):
    hf = read_header(make_image(tmp_path))
    checkpoint = crash_after("none")
    save_rewrite(hf, hf.raw, tmp_path / "pair.hdr", checkpoint=checkpoint)
    assert checkpoint.seen == ["temp-written", "data-replaced", "replaced"]


@pytest.mark.parametrize("step", ["temp-written", "data-replaced", "replaced"])
def test_crash_during_save_as_pair(tmp_path, step):
    """The documented window: after "data-replaced" the new .img has no new .hdr yet."""
    source = make_image(tmp_path)
    hf = read_header(source)
    before = fingerprint(source)
    hdr, img = tmp_path / "pair.hdr", tmp_path / "pair.img"
    with pytest.raises(SimulatedCrashError):
        save_rewrite(hf, hf.raw, hdr, checkpoint=crash_after(step))
    assert fingerprint(source) == before
    assert img.exists() == (step != "temp-written")
    assert hdr.exists() == (step == "replaced")
    if step == "replaced":
        np.testing.assert_array_equal(nib.load(hdr).get_fdata(), nib.load(source).get_fdata())
    assert leftovers(tmp_path) == []


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(header_rewrite, "CHUNK_BYTES", 256)


def cancel_after(calls: int):
    count = [0]

    def cancelled() -> bool:
        count[0] += 1
        return count[0] > calls

    return cancelled


@pytest.mark.parametrize(
    ("layout", "dst"),
    [
        ("nifti1.nii.gz", None),
        ("nifti1-le.nii", "copy.nii.gz"),
        ("nifti1-le.nii", "copy.hdr"),
        ("nifti1-pair.hdr", "copy.nii"),
    ],
)
def test_cancel_leaves_everything_untouched(tmp_path, small_chunks, layout, dst):
    path = make_image(tmp_path, layout)
    hf = read_header(path)
    before = sorted((p.name, fingerprint(p)) for p in tmp_path.iterdir())
    target = None if dst is None else tmp_path / dst
    with pytest.raises(SaveCancelled, match="save cancelled; the file is unchanged"):
        save_rewrite(hf, hf.raw.with_value("descrip", "never"), target, cancelled=cancel_after(3))
    assert sorted((p.name, fingerprint(p)) for p in tmp_path.iterdir()) == before


def test_progress_counts_source_bytes(tmp_path, small_chunks):
    path = make_image(tmp_path, "nifti1-pair.hdr")
    hf = read_header(path)
    calls = []
    save_rewrite(hf, hf.raw, tmp_path / "copy.nii.gz", progress=lambda *a: calls.append(a))
    total = path.stat().st_size + hf.data_path.stat().st_size
    assert len(calls) >= 4  # 720 data bytes in 256-byte chunks
    assert all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total


def test_progress_of_a_gzipped_source(tmp_path, small_chunks):
    path = make_image(tmp_path, "nifti1.nii.gz")
    hf, size = read_header(path), path.stat().st_size
    calls = []
    save_rewrite(hf, hf.raw, progress=lambda *a: calls.append(a), cancelled=lambda: False)
    assert calls[-1] == (size, size)  # compressed bytes read
