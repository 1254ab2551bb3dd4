"""Bad input: each case raises its own VolviewError subclass naming the file and the problem."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from tests.factories import (
    DATATYPE_OFFSET,
    DIM_OFFSET,
    fingerprint,
    patch_header,
    random_data,
    write_nifti,
)
from volview.errors import (
    CorruptFileError,
    FileAccessError,
    ImageReadError,
    UnsupportedFormatError,
    VolviewError,
)
from volview.io.images import open_image

SHAPE = (12, 10, 8)


def assert_message(error: VolviewError, path: Path, *words: str) -> None:
    """The message starts with the file name, contains the full path and every word."""
    message = str(error)
    assert message.startswith(f"{path.name}: "), message
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


@pytest.fixture
def valid_nii(tmp_path) -> Path:
    return write_nifti(tmp_path / "valid.nii", random_data(SHAPE, "int16"), np.eye(4))


def test_every_error_is_a_volview_error():
    for cls in (FileAccessError, UnsupportedFormatError, CorruptFileError, ImageReadError):
        assert issubclass(cls, VolviewError)


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("nowhere.nii", lambda path: None, "not found"),
        ("folder.nii", lambda path: path.mkdir(), "folder"),
        ("empty.nii", lambda path: path.touch(), "empty"),
    ],
)
def test_missing_folder_or_empty(tmp_path, name, make, words):
    path = tmp_path / name
    make(path)
    with pytest.raises(FileAccessError) as info:
        open_image(path)
    assert_message(info.value, path, words)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.nii"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(CorruptFileError) as info:
        open_image(path)
    assert_message(info.value, path, "not a valid image", "header")


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [
        (DIM_OFFSET + 2, -5, ["impossible", "dimensions", "-5"]),  # dim[1] = -5
        (DIM_OFFSET + 4, 0, ["impossible", "dimensions"]),  # dim[2] = 0
        (DIM_OFFSET, 0, ["impossible", "dimensions"]),  # dim[0] = 0: no axes
        (DIM_OFFSET, 9, ["not a valid image"]),  # dim[0] = 9 (> 7)
    ],
    ids=["dim1-negative", "dim2-zero", "dim0-zero", "dim0-nine"],
)
def test_impossible_dimensions(valid_nii, offset, value, words):
    patch_header(valid_nii, offset, "<h", value)
    with pytest.raises(CorruptFileError) as info:
        open_image(valid_nii)
    assert_message(info.value, valid_nii, *words)


def test_unknown_datatype_code(valid_nii):
    patch_header(valid_nii, DATATYPE_OFFSET, "<h", 999)
    with pytest.raises(CorruptFileError) as info:
        open_image(valid_nii)
    assert_message(info.value, valid_nii, "999", "not a valid image")


@pytest.mark.parametrize("keep", [352, 352 + 1, -1], ids=["no-data", "one-byte", "one-short"])
def test_truncated_data(valid_nii, keep):
    full = valid_nii.stat().st_size
    size = full + keep if keep < 0 else keep
    os.truncate(valid_nii, size)
    with pytest.raises(CorruptFileError) as info:
        open_image(valid_nii)
    assert_message(info.value, valid_nii, "truncated", f"{full:,}", f"{size:,}")


def test_truncated_inside_header(valid_nii):
    os.truncate(valid_nii, 200)
    with pytest.raises(CorruptFileError) as info:
        open_image(valid_nii)
    assert_message(info.value, valid_nii, "not a valid image")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(valid_nii):
    valid_nii.chmod(0)
    try:
        with pytest.raises(FileAccessError) as info:
            open_image(valid_nii)
    finally:
        valid_nii.chmod(0o644)
    assert_message(info.value, valid_nii, "permission denied")


def test_header_without_its_image_file(tmp_path):
    write_nifti(tmp_path / "pair.hdr", random_data(SHAPE, "int16"), image_class=nib.Nifti1Pair)
    (tmp_path / "pair.img").unlink()
    path = tmp_path / "pair.hdr"
    with pytest.raises(FileAccessError) as info:
        open_image(path)
    assert_message(info.value, path, "pair.img", "missing")


@pytest.mark.parametrize(
    ("name", "header"), [("pair.img", "pair.hdr"), ("pair.img.gz", "pair.hdr.gz")]
)
def test_image_file_without_its_header(tmp_path, name, header):
    write_nifti(tmp_path / name, random_data(SHAPE, "int16"), image_class=nib.Nifti1Pair)
    (tmp_path / header).unlink()
    path = tmp_path / name
    with pytest.raises(FileAccessError) as info:
        open_image(path)
    assert_message(info.value, path, header, "missing")


def test_analyze_header_from_nibabel_data_without_image(tmp_path):
    path = Path(shutil.copy(Path(data_path) / "analyze.hdr", tmp_path))
    with pytest.raises(FileAccessError) as info:
        open_image(path)
    assert_message(info.value, path, "analyze.img", "missing")


def test_cifti(tmp_path):
    path = Path(shutil.copy(Path(data_path) / "row_major.dconn.nii", tmp_path))
    with pytest.raises(UnsupportedFormatError) as info:
        open_image(path)
    assert_message(info.value, path, "CIFTI", "not a volume")


@pytest.mark.parametrize("name", ["notes.txt", "scan.PAR", "no_suffix", "tract.trk"])
def test_unsupported_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_text("hello\n")
    with pytest.raises(UnsupportedFormatError) as info:
        open_image(path)
    assert_message(info.value, path, "not a supported image type", ".nii")


def test_nifti_saved_under_unsupported_suffix(tmp_path):
    path = write_nifti(tmp_path / "scan.nii", random_data(SHAPE, "int16"))
    path = path.rename(tmp_path / "scan.dat")
    with pytest.raises(UnsupportedFormatError):
        open_image(path)


def test_complex_data_is_unsupported(tmp_path):
    data = random_data(SHAPE, "float32") + 1j * random_data(SHAPE, "float32")
    path = write_nifti(tmp_path / "complex.nii", data.astype(np.complex64))
    with pytest.raises(UnsupportedFormatError) as info:
        open_image(path)
    assert_message(info.value, path, "complex", "not supported")


def test_more_than_four_dimensions(tmp_path):
    path = write_nifti(tmp_path / "five.nii", random_data((3, 3, 3, 2, 2), "int16"))
    with pytest.raises(UnsupportedFormatError) as info:
        open_image(path)
    assert_message(info.value, path, "5 dimensions", "3-D and 4-D")


@pytest.fixture
def truncated_gz(tmp_path) -> Path:
    """A .nii.gz cut in half: the header is intact, the voxel stream ends early."""
    data = random_data((40, 40, 40), "int16", seed=4)
    path = write_nifti(tmp_path / "cut.nii.gz", data)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    return path


def test_truncated_gzip_fails_when_reading(truncated_gz):
    image = open_image(truncated_gz)  # the header is readable: opening may succeed
    try:
        assert image.shape == (40, 40, 40, 1)
        with pytest.raises(ImageReadError) as info:
            for axis in range(3):
                image.proxy.plane(axis, image.shape[axis] - 1)
        assert_message(info.value, truncated_gz, "could not read", "truncated")
        with pytest.raises(ImageReadError):
            image.proxy.value((39, 39, 39))
    finally:
        image.close()


def test_bad_files_are_left_untouched(tmp_path, valid_nii, truncated_gz):
    noise = tmp_path / "noise.nii"
    noise.write_bytes(np.random.default_rng(2).bytes(1000))
    short = write_nifti(tmp_path / "short.nii", random_data(SHAPE, "int16"))
    os.truncate(short, short.stat().st_size - 10)
    for path in (valid_nii, truncated_gz, noise, short):
        before = fingerprint(path)
        try:
            image = open_image(path)
            for axis in range(3):
                image.proxy.plane(axis, 0)
            image.close()
        except VolviewError:
            pass
        assert fingerprint(path) == before, path.name


@pytest.mark.parametrize("name", ["img.nii", "img.nii.gz", "img.mgz", "img.mgh", "img.hdr"])
def test_reading_never_writes(tmp_path, name):
    data = random_data((9, 8, 7, 2), "int16", seed=6)
    if name.endswith((".mgz", ".mgh")):
        nib.MGHImage(data.astype(np.int32), np.eye(4)).to_filename(tmp_path / name)
    else:
        image_class = nib.Nifti1Pair if name.endswith(".hdr") else nib.Nifti1Image
        write_nifti(tmp_path / name, data, image_class=image_class)
    files = sorted(tmp_path.iterdir())
    before = [fingerprint(p) for p in files]
    image = open_image(tmp_path / name)
    for axis in range(3):
        for t in range(2):
            image.proxy.plane(axis, 1, t, (slice(None, None, 2), slice(1, None)))
    image.proxy.value((1, 2, 3), 1)
    image.close()
    assert sorted(tmp_path.iterdir()) == files
    assert [fingerprint(p) for p in files] == before
