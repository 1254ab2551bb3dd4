"""TCK and TRK files read through open_tractogram equal nibabel's (eager) reading of them."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nibabel.testing import data_path

from tests.trx_factories import read_with_trx_python
from volview.errors import CorruptFileError, FileAccessError, OpenCancelled, VolviewError
from volview.io import tck_trk
from volview.io.tractogram import open_tractogram

DATA = Path(data_path)
TRACTOGRAM_FILES = [
    "simple.trk",
    "complex.trk",
    "complex_big_endian.trk",
    "standard.trk",
    "standard.LPS.trk",
    "empty.trk",
    "simple.tck",
    "simple_big_endian.tck",
    "standard.tck",
    "empty.tck",
    "matlab_nan.tck",
    "multiline_header_field.tck",
]


def nibabel_load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nib.streamlines.load(str(path), lazy_load=False)


def assert_message(error: VolviewError, path: Path, *words: str) -> None:
    message = str(error)
    assert message.startswith(f"{path.name}: "), message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


@pytest.mark.parametrize("name", TRACTOGRAM_FILES)
def test_equals_nibabel(name):
    path = DATA / name
    expected = nibabel_load(path)
    with open_tractogram(path) as tractogram:
        streamlines = expected.streamlines
        assert tractogram.n_streamlines == len(streamlines)
        assert tractogram.positions.dtype == np.float32
        assert tractogram.offsets.dtype == np.int64
        np.testing.assert_array_equal(tractogram.positions, streamlines.get_data().reshape(-1, 3))
        np.testing.assert_array_equal(tractogram.lengths(), streamlines._lengths)
        assert tractogram.offsets[-1] == tractogram.n_vertices
        for i in range(min(3, len(streamlines))):
            np.testing.assert_array_equal(tractogram.streamline(i), streamlines[i])
        assert tractogram.format_name == name.rsplit(".", 1)[1].upper()
        if name.endswith(".trk"):
            np.testing.assert_array_equal(
                tractogram.voxel_to_rasmm, expected.header["voxel_to_rasmm"]
            )
            assert tractogram.dimensions == tuple(int(n) for n in expected.header["dimensions"])
        else:
            assert tractogram.voxel_to_rasmm is None and tractogram.dimensions is None


@pytest.mark.parametrize("name", ["complex.trk", "complex_big_endian.trk"])
def test_trk_data_per_streamline_and_point(name):
    expected = nibabel_load(DATA / name).tractogram
    with open_tractogram(DATA / name) as tractogram:
        assert tractogram.dps.keys() == set(expected.data_per_streamline.keys())
        for key, values in expected.data_per_streamline.items():
            np.testing.assert_array_equal(
                tractogram.dps[key], np.squeeze(values, axis=-1) if values.shape[1] == 1 else values
            )
        assert tractogram.dpv.keys() == set(expected.data_per_point.keys())
        for key, values in expected.data_per_point.items():
            flat = values.get_data()
            np.testing.assert_array_equal(
                tractogram.dpv[key], flat[:, 0] if flat.shape[1] == 1 else flat
            )
        assert tractogram.dpv["colors"].dtype.byteorder in ("<", "=")


def trk_to_trx(trk_path: Path, trx_path: Path) -> Path:
    """Convert with trx-python, the TRK header as reference (dps/dpv come along)."""
    import trx.trx_file_memmap as tmm

    trk = nib.streamlines.load(str(trk_path))
    trx_file = tmm.TrxFile.from_tractogram(trk.tractogram, reference=trk.header)
    tmm.save(trx_file, str(trx_path))
    trx_file.close()
    return trx_path


@pytest.mark.parametrize("name", ["standard.trk", "standard.LPS.trk", "complex.trk"])
def test_trk_converted_to_trx_reads_the_same(tmp_path, name):
    trx_path = trk_to_trx(DATA / name, tmp_path / "converted.trx")
    with open_tractogram(DATA / name) as trk, open_tractogram(trx_path) as trx:
        np.testing.assert_array_equal(trx.positions, trk.positions)
        np.testing.assert_array_equal(trx.offsets, trk.offsets)
        np.testing.assert_allclose(trx.voxel_to_rasmm, trk.voxel_to_rasmm, rtol=1e-6)
        assert trx.dimensions == trk.dimensions
        assert trx.dps.keys() == trk.dps.keys() and trx.dpv.keys() == trk.dpv.keys()
        for key in trk.dps:
            np.testing.assert_array_equal(trx.dps[key], trk.dps[key])
        for key in trk.dpv:
            np.testing.assert_array_equal(trx.dpv[key], trk.dpv[key])
        oracle = read_with_trx_python(trx_path)
        np.testing.assert_array_equal(trx.positions, oracle.positions)


def test_progress_and_cancel(monkeypatch):
    monkeypatch.setattr(tck_trk, "CHUNK_VERTICES", 30)
    seen: list[tuple[int, int]] = []
    with open_tractogram(DATA / "standard.tck", progress=lambda d, t: seen.append((d, t))) as t:
        assert t.n_streamlines == 120
    assert len(seen) > 5
    assert seen[-1] == (120, 120)
    assert all(done <= total for done, total in seen)
    with pytest.raises(OpenCancelled, match=r"standard\.trk: opening was cancelled"):
        open_tractogram(DATA / "standard.trk", cancelled=lambda: True)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("no_header_end.tck", ["not a valid TCK file", "END"]),
        ("no_header_end_eof.tck", ["not a valid TCK file"]),
        ("no_magic_number.tck", ["not a valid TCK file", "magic number"]),
    ],
)
def test_nibabel_negative_files(name, words):
    with pytest.raises(CorruptFileError) as caught:
        open_tractogram(DATA / name)
    assert_message(caught.value, DATA / name, *words)


@pytest.mark.parametrize("name", ["standard.trk", "standard.tck", "complex.trk"])
@pytest.mark.parametrize("keep", [0.1, 0.3, 0.9, 0.999])
def test_truncated(tmp_path, name, keep):
    raw = (DATA / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(CorruptFileError) as caught:
        open_tractogram(path)
    assert_message(caught.value, path, "truncated")


@pytest.mark.parametrize("suffix", [".trk", ".tck"])
def test_garbage(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CorruptFileError) as caught:
        open_tractogram(path)
    assert_message(caught.value, path, "not a valid")


def test_empty_tck(tmp_path):
    path = tmp_path / "nothing.tck"
    path.touch()
    with pytest.raises(FileAccessError) as caught:
        open_tractogram(path)
    assert_message(caught.value, path, "empty")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["standard.trk", "complex.trk", "standard.tck", "simple.tck"]),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    keep=st.none() | st.integers(0, 10**6),
)
def test_damaged_bytes_raise_only_volview_errors(tmp_path_factory, name, flips, keep):
    raw = bytearray((DATA / name).read_bytes())
    for position, value in flips:
        raw[position % len(raw)] = value
    if keep is not None:
        raw = raw[: keep % (len(raw) + 1)]
    path = tmp_path_factory.getbasetemp() / name
    path.write_bytes(bytes(raw))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tractogram = open_tractogram(path)
    except VolviewError:
        return
    with tractogram:
        assert tractogram.offsets[-1] == tractogram.n_vertices
        tractogram.summary()
