"""Valid TRX files: what volview reads equals what trx-python (the oracle) reads."""

from __future__ import annotations

import gc
import json
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.trx_factories import (
    OFFSET_DTYPES,
    POSITION_DTYPES,
    TRX_FORMS,
    TrxData,
    read_with_trx_python,
    sample_data,
    sparse_trx,
    trx_entries,
    with_header,
    write_folder,
    write_raw_zip,
    write_with_trx_python,
    write_zip,
)
from volview.errors import OpenCancelled
from volview.io import trx_container
from volview.io.tractogram import (
    TRACTOGRAM_SUFFIXES,
    Tractogram,
    is_tractogram_path,
    open_tractogram,
)


def assert_same(tractogram: Tractogram, expected: TrxData) -> None:
    """Every array of ``tractogram`` equals ``expected`` (exactly: values are float16-exact)."""
    np.testing.assert_array_equal(tractogram.positions, expected.positions)
    np.testing.assert_array_equal(tractogram.offsets, expected.offsets)
    np.testing.assert_array_equal(tractogram.lengths(), expected.lengths)
    assert tractogram.offsets.dtype == np.int64
    assert tractogram.n_streamlines == len(expected.streamlines)
    for mine, theirs in ((tractogram.dps, expected.dps), (tractogram.dpv, expected.dpv)):
        assert mine.keys() == theirs.keys()
        for key in theirs:
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)
            assert mine[key].shape == theirs[key].shape, key
    assert tractogram.groups.keys() == expected.groups.keys()
    for key, indices in expected.groups.items():
        np.testing.assert_array_equal(tractogram.groups[key], indices)
    assert tractogram.dpg.keys() == expected.dpg.keys()
    for group, arrays in expected.dpg.items():
        for key, values in arrays.items():
            np.testing.assert_array_equal(tractogram.dpg[group][key], values)
    np.testing.assert_allclose(tractogram.voxel_to_rasmm, expected.affine)
    assert tractogram.dimensions == tuple(expected.dimensions)


@pytest.fixture
def data() -> TrxData:
    return sample_data()


@pytest.mark.parametrize("offsets_dtype", OFFSET_DTYPES)
@pytest.mark.parametrize("positions_dtype", POSITION_DTYPES)
@pytest.mark.parametrize("form", TRX_FORMS)
def test_equals_trx_python(tmp_path, data, form, positions_dtype, offsets_dtype):
    path = write_with_trx_python(
        tmp_path / "t",
        data,
        form=form,
        positions_dtype=positions_dtype,
        offsets_dtype=offsets_dtype,
    )
    oracle = read_with_trx_python(path)
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, oracle)
        assert_same(tractogram, data)
        assert tractogram.positions.dtype == np.dtype(positions_dtype)
        assert not tractogram.positions.flags.writeable
        assert tractogram.format_name.startswith("TRX (" + {"stored": "zip, stored"}.get(form, ""))


@pytest.mark.parametrize("form", ["stored", "folder"])
def test_in_place_forms_map_the_users_file(tmp_path, data, form):
    path = write_with_trx_python(tmp_path / "t", data, form=form)
    with open_tractogram(path) as tractogram:
        positions = tractogram.positions
        assert isinstance(positions, np.memmap)
        expected_file = path if form == "stored" else path / "positions.3.float32"
        assert Path(positions.filename) == expected_file.resolve()
        assert positions.mode == "r"
        for arrays in (tractogram.dps, tractogram.dpv, tractogram.groups):
            assert all(
                isinstance(a.base, np.memmap) or isinstance(a, np.memmap) for a in arrays.values()
            )


def test_stored_zip_is_not_copied(tmp_path):
    rng = np.random.default_rng(1)
    big = TrxData([rng.random((200_000, 3)).astype(np.float32) for _ in range(10)])
    path = write_zip(tmp_path / "big.trx", trx_entries(big))
    tracemalloc.start()
    try:
        with open_tractogram(path) as tractogram:
            _, peak = tracemalloc.get_traced_memory()
            assert tractogram.positions.nbytes == 24_000_000
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the 24 MB of positions were not copied into the heap


def mapped_bytes(path: Path) -> int:
    """Resident bytes of this process's memory maps of ``path`` (Linux /proc/self/smaps)."""
    total, current = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                current = len(fields) >= 6 and fields[-1] == str(path)
            elif current and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total


needs_smaps = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps"
)


@needs_smaps
def test_open_does_not_read_the_positions(tmp_path):
    rng = np.random.default_rng(2)
    big = TrxData([rng.random((1_000_000, 3)).astype(np.float32) for _ in range(4)])
    path = write_zip(tmp_path / "big.trx", trx_entries(big)).resolve()
    with open_tractogram(path) as tractogram:
        assert mapped_bytes(path) < 64 * 1024  # not one page of the 48 MB was touched
        assert bool(np.isfinite(tractogram.positions).all())  # ...and this test would see it:
        assert mapped_bytes(path) >= 48_000_000


@needs_smaps
def test_open_a_huge_sparse_positions_entry(tmp_path):
    """600 MB of positions (a sparse file): mapped, never read, nothing allocated."""
    path = sparse_trx(tmp_path / "huge.trx", n_vertices=50_000_000).resolve()
    tracemalloc.start()
    try:
        tractogram = open_tractogram(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert mapped_bytes(path) < 64 * 1024
    assert isinstance(tractogram.positions, np.memmap)
    assert tractogram.offsets.tolist() == [0, 50_000_000]
    assert tractogram.positions[-1].tolist() == [0.0, 0.0, 0.0]
    tractogram.close()


# --- edge cases trx-python rejects or mis-reads -----------------------------------------


def test_offsets_without_sentinel(tmp_path, data):
    path = write_zip(tmp_path / "old.trx", trx_entries(data, sentinel=False))
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, data)


def test_empty_first_streamline(tmp_path):
    data = sample_data(empty_first=True)
    path = write_zip(tmp_path / "empty_first.trx", trx_entries(data))
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, data)
        assert tractogram.lengths()[0] == 0
        assert tractogram.streamline(0).shape == (0, 3)


def test_top_folder_and_junk_entries(tmp_path, data):
    entries = trx_entries(data)
    entries |= {"__MACOSX/._header.json": b"junk", ".DS_Store": b"junk", "dps/._weight": b"x"}
    path = write_zip(tmp_path / "zipped_folder.trx", entries, prefix="my_bundle/")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("my_bundle/dpv/", b"")  # a folder entry, as the zip tool writes
        zf.writestr("README.txt", b"made by hand")
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, data)
        assert any("README.txt" in note for note in tractogram.notes)


def test_local_extra_field_differs_from_central_directory(tmp_path, data):
    entries = list(trx_entries(data).items())
    path = write_raw_zip(tmp_path / "zip_cli.trx", entries, local_extra=bytes(28))
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, data)


def test_empty_trx_with_only_a_header(tmp_path):
    data = TrxData([])
    path = write_zip(tmp_path / "empty.trx", {"header.json": json.dumps(data.header()).encode()})
    with open_tractogram(path) as tractogram:
        assert tractogram.n_streamlines == 0
        assert tractogram.n_vertices == 0
        assert tractogram.offsets.tolist() == [0]
        assert "streamlines: 0" in tractogram.summary()


def test_empty_trx_written_by_trx_python(tmp_path):
    path = write_with_trx_python(tmp_path / "empty", TrxData([np.zeros((0, 3), np.float32)]))
    with open_tractogram(path) as tractogram:
        assert tractogram.n_vertices == 0


def test_other_spec_variants(tmp_path, data):
    entries = trx_entries(data, offsets_dtype="int64")
    entries["dps/keep.bit"] = np.array([1, 0, 1, 1, 0, 1], bool).tobytes()
    entries["dps/algo.json"] = b'{"name": "sidecar"}'
    entries["dps/single.1.int16"] = np.arange(6, dtype="<i2").tobytes()
    flat = data.affine.reshape(-1).tolist()
    entries = with_header(entries, VOXEL_TO_RASMM=flat, SOFTWARE="hand made")
    path = write_folder(tmp_path / "variants", entries)
    with open_tractogram(path) as tractogram:
        np.testing.assert_array_equal(tractogram.offsets, data.offsets)
        assert tractogram.dps["keep"].dtype == bool
        assert tractogram.dps["keep"].tolist() == [True, False, True, True, False, True]
        assert tractogram.dps["single"].shape == (6,)
        np.testing.assert_array_equal(tractogram.voxel_to_rasmm, data.affine)
        assert tractogram.format_name == "TRX (folder)"


def test_positions_are_read_little_endian(tmp_path, data):
    path = write_zip(tmp_path / "t.trx", trx_entries(data, positions_dtype="float64"))
    with open_tractogram(path) as tractogram:
        assert tractogram.positions.dtype.byteorder in ("<", "=")
        np.testing.assert_array_equal(tractogram.positions, data.positions)


def test_streamline_summary_and_close(tmp_path, data):
    path = write_with_trx_python(tmp_path / "t", data)
    tractogram = open_tractogram(path)
    second = tractogram.streamline(1)
    assert second.dtype == np.float32
    np.testing.assert_array_equal(second, data.streamlines[1])
    np.testing.assert_array_equal(tractogram.streamline(-1), data.streamlines[-1])
    with pytest.raises(IndexError):
        tractogram.streamline(len(data.streamlines))
    summary = tractogram.summary()
    for words in (
        "t.trx",
        "streamlines: 6",
        "float32",
        "weight",
        "rgb",
        "bundleA: 2",
        "color",
        "91",
    ):
        assert words in summary, words
    tractogram.close()
    tractogram.close()
    assert tractogram.n_streamlines == 0 and not tractogram.dps


# --- compressed archives: a temporary folder, removed on close ------------------------------


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    """Send temporary folders to a folder of our own, to see what is left behind."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_deflated_temp_folder_lives_until_close(tmp_path, data, temp_root):
    path = write_with_trx_python(tmp_path / "t", data, form="deflated")
    seen = []
    tractogram = open_tractogram(path, progress=lambda done, total: seen.append((done, total)))
    (folder,) = list(temp_root.iterdir())
    assert folder.name.startswith("volview-trx-")
    assert Path(tractogram.positions.filename).parent == folder
    assert tractogram.format_name == "TRX (zip, deflated → temp)"
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    tractogram.close()
    assert not list(temp_root.iterdir())
    tractogram.close()


def test_deflated_temp_folder_removed_when_garbage_collected(tmp_path, data, temp_root):
    path = write_with_trx_python(tmp_path / "t", data, form="deflated")
    tractogram = open_tractogram(path)
    assert list(temp_root.iterdir())
    del tractogram
    gc.collect()
    assert not list(temp_root.iterdir())


def test_cancel_during_decompression(tmp_path, data, temp_root, monkeypatch):
    monkeypatch.setattr(trx_container, "CHUNK_BYTES", 16)
    path = write_with_trx_python(tmp_path / "t", data, form="deflated")
    calls = []
    with pytest.raises(OpenCancelled, match=r"t\.trx: opening was cancelled"):
        open_tractogram(
            path, progress=lambda d, t: calls.append(d), cancelled=lambda: len(calls) > 3
        )
    assert len(calls) == 4
    assert not list(temp_root.iterdir())


def test_mixed_zip_maps_stored_entries_in_place(tmp_path, data, temp_root):
    path = tmp_path / "mixed.trx"
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in trx_entries(data).items():
            method = zipfile.ZIP_STORED if name.startswith("positions") else zipfile.ZIP_DEFLATED
            zf.writestr(name, payload, compress_type=method)
    with open_tractogram(path) as tractogram:
        assert_same(tractogram, data)
        assert Path(tractogram.positions.filename) == path.resolve()
        assert Path(tractogram.dpv["fa"].base.filename).parent.parent == temp_root
    assert not list(temp_root.iterdir())


def test_damaged_deflate_stream_leaves_no_temp_folder(tmp_path, data, temp_root):
    path = write_zip(tmp_path / "bad.trx", trx_entries(data), compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("positions.3.float32")
    start = info.header_offset + 30 + len(info.filename)
    raw[start + 5 : start + 25] = bytes(20)
    path.write_bytes(bytes(raw))
    with pytest.raises(Exception) as caught:
        open_tractogram(path)
    assert "positions.3.float32" in str(caught.value)
    assert type(caught.value).__name__ == "CorruptFileError"
    assert not list(temp_root.iterdir())


# --- paths ----------------------------------------------------------------------------------


def test_is_tractogram_path(tmp_path, data):
    assert TRACTOGRAM_SUFFIXES == (".trx", ".tck", ".trk")
    for name in ("a.trx", "B.TRK", "c.tck"):
        assert is_tractogram_path(tmp_path / name)
    assert not is_tractogram_path(tmp_path / "brain.nii.gz")
    folder = write_folder(tmp_path / "bundle", trx_entries(data))
    assert is_tractogram_path(folder)
    assert not is_tractogram_path(tmp_path)
