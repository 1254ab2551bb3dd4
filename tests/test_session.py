"""Session.open_paths: the one way files are opened; errors are returned, never raised."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from tests.factories import fingerprint, random_data, write_nifti
from volview.core.state import ViewerState
from volview.core.volume import Volume
from volview.errors import (
    CorruptFileError,
    FileAccessError,
    ImageReadError,
    UnsupportedFormatError,
    VolviewError,
)
from volview.session import Session, path_from_argument

SHAPE = (9, 8, 7)
AWKWARD_FOLDER = "my scans ü/Tête 脑"


def mapped_files() -> set[str]:
    """Files this process has memory-mapped (from /proc/self/maps)."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def open_files() -> set[str]:
    """Files this process holds open (from /proc/self/fd)."""
    names = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            names.add(os.readlink(fd))
        except OSError:
            continue
    return names


def is_held(path: Path) -> bool:
    """True while the process still maps or holds open ``path``."""
    name = str(path.resolve())
    return name in mapped_files() or name in open_files()


@pytest.fixture
def state() -> ViewerState:
    return ViewerState()


@pytest.fixture
def session(state) -> Session:
    yield Session(state)
    state.set_volume(None)  # closes whatever is open


def write(path: Path, seed: int = 0, shape=SHAPE, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_nifti(path, random_data(shape, "int16", seed=seed), np.eye(4), **kwargs)


def test_open_sets_volume_window_and_cursor(session, state, tmp_path):
    path = write(tmp_path / "a.nii", cal=(10.0, 90.0))
    assert session.open_paths([path]) == []
    assert isinstance(state.volume, Volume)
    assert state.volume.image.path == path
    assert state.window == (10.0, 90.0)
    assert state.cursor_ijk == (4, 4, 3)


def test_open_path_returns_the_volume(session, state, tmp_path):
    volume = session.open_path(write(tmp_path / "b.nii.gz"))
    assert volume is state.volume
    assert volume.image.proxy.access == "gzip-indexed"


@pytest.mark.parametrize("as_what", ["str", "path", "uri", "localhost-uri"])
@pytest.mark.parametrize("name", ["plain.nii", "with space.nii.gz", "naïve façade 脑.nii"])
def test_paths_with_spaces_and_non_ascii(session, state, tmp_path, name, as_what):
    path = write(tmp_path / AWKWARD_FOLDER / name)
    argument = {
        "str": str(path),
        "path": path,
        "uri": path.as_uri(),
        "localhost-uri": path.as_uri().replace("file://", "file://localhost"),
    }[as_what]
    if as_what.endswith("uri"):
        assert "%20" in argument or " " not in name  # really percent-encoded
    assert session.open_paths([argument]) == []
    assert state.volume.image.path == path
    assert state.volume.name == name


def test_path_from_argument(tmp_path):
    path = tmp_path / "a b" / "é.nii"
    assert path_from_argument(path.as_uri()) == path
    assert path_from_argument(str(path)) == path
    assert path_from_argument(path) == path
    assert path_from_argument("file:///data/scan%231.nii") == Path("/data/scan#1.nii")
    assert path_from_argument("relative/x.nii") == Path("relative/x.nii")


def test_second_image_replaces_and_closes_the_first(session, state, tmp_path):
    first = write(tmp_path / "first.nii", seed=1)
    second = write(tmp_path / "second.nii", seed=2, shape=(5, 6, 7))
    assert session.open_paths([first]) == []
    first_volume = state.volume
    assert is_held(first)
    assert session.open_paths([second]) == []
    assert state.volume is not first_volume
    assert state.volume.shape == (5, 6, 7)
    assert not is_held(first)  # the first file's map is gone
    assert is_held(second)


def test_replacing_a_compressed_image_closes_its_file(session, state, tmp_path):
    first = write(tmp_path / "first.nii.gz", seed=1)
    second = tmp_path / "second.mgz"
    nib.MGHImage(random_data(SHAPE, "float32"), np.eye(4)).to_filename(second)
    assert session.open_paths([first]) == []
    assert is_held(first)
    assert session.open_paths([second]) == []
    assert not is_held(first)
    assert state.volume.image.format_name == "MGH"


def test_several_images_open_as_a_base_and_overlays(session, state, tmp_path):
    first = write(tmp_path / "1.nii", seed=1)
    last = write(tmp_path / "2.nii", seed=2)
    errors = session.open_paths([tmp_path / "missing.nii", first, last])
    assert [type(e) for e in errors] == [FileAccessError]
    assert state.volume.image.path == first
    assert [layer.image.path for layer in state.overlays] == [last]
    session.open_paths([last])  # alone: it replaces the base, the overlay stays
    assert state.volume.image.path == last and not is_held(first)


@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    """One file per kind of problem, with the error Session must return for it."""
    folder = tmp_path / "bad"
    folder.mkdir()
    noise = folder / "noise.nii"
    noise.write_bytes(np.random.default_rng(3).bytes(2048))
    notes = folder / "notes.txt"
    notes.write_text("not an image\n")
    empty = folder / "empty.nii"
    empty.touch()
    short = write(folder / "short.nii")
    os.truncate(short, short.stat().st_size - 1)
    cut = write(folder / "cut.nii.gz", shape=(40, 40, 40))
    blob = cut.read_bytes()
    cut.write_bytes(blob[: len(blob) // 3])  # the header survives, the middle plane does not
    cifti = Path(shutil.copy(Path(data_path) / "row_major.dconn.nii", folder))
    lonely = write(folder / "lonely.hdr", image_class=nib.Nifti1Pair)
    (folder / "lonely.img").unlink()
    return {
        "missing": folder / "missing.nii",
        "folder": folder,
        "empty": empty,
        "noise": noise,
        "notes": notes,
        "short": short,
        "cut": cut,
        "cifti": cifti,
        "lonely": lonely,
    }


EXPECTED_ERRORS = {
    "missing": (FileAccessError, "not found"),
    "folder": (FileAccessError, "folder"),
    "empty": (FileAccessError, "empty"),
    "noise": (CorruptFileError, "not a valid image"),
    "notes": (UnsupportedFormatError, "not a supported file type"),
    "short": (CorruptFileError, "truncated"),
    "cut": (ImageReadError, "could not read"),
    "cifti": (UnsupportedFormatError, "CIFTI"),
    "lonely": (FileAccessError, "missing"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_ERRORS))
def test_bad_file_returns_its_error(session, state, bad_files, kind):
    path = bad_files[kind]
    before = fingerprint(path) if path.is_file() else None
    errors = session.open_paths([path])
    cls, words = EXPECTED_ERRORS[kind]
    assert len(errors) == 1
    error = errors[0]
    assert type(error) is cls
    assert str(error).startswith(f"{path.name}: ")
    assert words.lower() in str(error).lower()
    assert state.volume is None
    if before is not None:
        assert fingerprint(path) == before
        assert not is_held(path)  # a failed open leaves nothing open


def test_errors_do_not_disturb_the_open_image(session, state, tmp_path, bad_files):
    good = write(tmp_path / "good.nii")
    assert session.open_paths([good]) == []
    volume = state.volume
    window = state.window
    errors = session.open_paths(list(bad_files.values()))
    assert len(errors) == len(bad_files)
    assert all(isinstance(e, VolviewError) for e in errors)
    assert state.volume is volume
    assert state.window == window
    volume.image.proxy.plane(0, 1)  # still open and readable
    assert is_held(good)


def test_truncated_gzip_is_reported_not_raised(session, state, bad_files):
    errors = session.open_paths([bad_files["cut"], bad_files["cut"].as_uri()])
    assert [type(e) for e in errors] == [ImageReadError, ImageReadError]
    assert "truncated" in str(errors[0])


def test_opening_never_writes(session, tmp_path):
    paths = [
        write(tmp_path / "x.nii"),
        write(tmp_path / "y.nii.gz"),
        write(tmp_path / "z.hdr", image_class=nib.Nifti1Pair),
    ]
    files = sorted(tmp_path.iterdir())
    before = [fingerprint(p) for p in files]
    assert session.open_paths(paths) == []
    assert sorted(tmp_path.iterdir()) == files
    assert [fingerprint(p) for p in files] == before


def test_new_volume_follows_the_display_convention(session, state, tmp_path):
    state.set_radiological(False)
    session.open_paths([write(tmp_path / "n.nii")])
    assert not state.volume.geometry.radiological


@pytest.mark.parametrize("cal", [None, (-5.0, 50.0)])
def test_a_stream_image_opens_without_waiting_and_its_window_settles_later(tmp_path, cal):
    """``window_in_foreground = False`` (the GUI): a .nii.gz is shown with the
    provisional window until its sample has been read in the background; then the
    window is the one a waiting open computes. A calibrated range needs no sample."""
    import threading

    data = random_data((20, 18, 16), "int16", seed=9)
    path = write_nifti(tmp_path / "s.nii.gz", data, np.eye(4), cal=cal)
    waiting = Session(ViewerState())
    waiting.open_paths([path])
    session = Session(ViewerState())
    session.window_in_foreground = False
    assert session.open_paths([path]) == []
    try:
        if cal is not None:
            assert session.provisional_window is None and session.state.window == cal
            assert session.state.window_settled
            return
        assert session.state.window == session.provisional_window
        assert not session.state.window_settled
        arrived = threading.Event()
        session.state.volume.image.proxy.add_ready_listener(arrived.set)
        while not session.settle_window():
            assert arrived.wait(timeout=10)
            arrived.clear()
        assert session.provisional_window is None and session.state.window_settled
        assert session.state.window == pytest.approx(waiting.state.window)
    finally:
        session.state.volume.image.close()
        waiting.state.volume.image.close()
