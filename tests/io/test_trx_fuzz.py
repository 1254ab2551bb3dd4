"""Fuzzing: a damaged TRX either opens (and its arrays can be read) or raises VolviewError.

Never anything else: no IndexError, no MemoryError, no SIGBUS from a memory map that runs
past the end of its file, no temporary folder left behind.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.trx_factories import sample_data, trx_entries, write_zip
from volview.errors import VolviewError
from volview.io.tractogram import Tractogram, open_tractogram

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENTRIES = trx_entries(sample_data(n_streamlines=4, seed=3))
NAMES = sorted(ENTRIES)
COMPRESSIONS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.integers(-3, 40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)
entry_names = st.sampled_from(
    [
        "positions.3.float16",
        "positions.3.float64",
        "positions.float32",
        "offsets.uint64",
        "offsets.int8",
        "dps/weight.float32",
        "dps/w.2.uint8",
        "dpv/fa.3.float32",
        "groups/g.uint8",
        "groups/bundleA.int64",
        "dpg/bundleA/c.2.bit",
        "dpg/nogroup/c.float32",
        "top/header.json",
        "header.json",
        "__MACOSX/x",
        "x.json",
    ]
) | st.text(alphabet="abdegfilnoprstuv0123/._", min_size=1, max_size=24)


def touch(tractogram: Tractogram) -> None:
    """Read what a viewer reads first: the ends of every array, two streamlines, the summary."""
    try:
        if tractogram.n_vertices:
            np.array(tractogram.positions[-1])
            np.array(tractogram.positions[0])
        np.array(tractogram.offsets)
        tractogram.lengths()
        arrays = [*tractogram.dps.values(), *tractogram.dpv.values(), *tractogram.groups.values()]
        arrays += [a for group in tractogram.dpg.values() for a in group.values()]
        for array in arrays:
            if len(array):
                np.array(array[-1])
                np.array(array[0])
        if tractogram.n_streamlines:
            tractogram.streamline(0)
            tractogram.streamline(-1)
        tractogram.summary()
    finally:
        tractogram.close()


def open_and_touch(path: Path) -> None:
    try:
        tractogram = open_tractogram(path)
    except VolviewError:
        return
    touch(tractogram)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(autouse=True)
def no_temp_left_behind(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("temp")
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield
    assert not list(root.iterdir())


@FUZZ
@given(
    compression=COMPRESSIONS,
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    keep=st.none() | st.integers(0, 10**6),
)
def test_damaged_bytes(work, compression, flips, keep):
    path = write_zip(work / "bytes.trx", ENTRIES, compression=compression)
    raw = bytearray(path.read_bytes())
    for position, value in flips:
        raw[position % len(raw)] = value
    if keep is not None:
        raw = raw[: keep % (len(raw) + 1)]
    path.write_bytes(bytes(raw))
    open_and_touch(path)


@FUZZ
@given(
    compression=COMPRESSIONS,
    key=st.sampled_from(["VOXEL_TO_RASMM", "DIMENSIONS", "NB_VERTICES", "NB_STREAMLINES", "X"]),
    value=json_values,
    delete=st.booleans(),
)
def test_changed_header(work, compression, key, value, delete):
    header = json.loads(ENTRIES["header.json"])
    if delete:
        header.pop(key, None)
    else:
        header[key] = value
    try:
        text = json.dumps(header).encode()
    except ValueError:  # pragma: no cover - json.dumps accepts every generated value
        return
    entries = {**ENTRIES, "header.json": text}
    open_and_touch(write_zip(work / "header.trx", entries, compression=compression))


@FUZZ
@given(
    compression=COMPRESSIONS,
    old=st.sampled_from(NAMES),
    new=entry_names,
    payload=st.none() | st.binary(max_size=64),
    prefix=st.sampled_from(["", "top/", "a/b/"]),
)
def test_renamed_or_replaced_entries(work, compression, old, new, payload, prefix):
    entries = dict(ENTRIES)
    data = entries.pop(old)
    entries[new] = data if payload is None else payload
    path = work / "entries.trx"
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, blob in entries.items():
            zf.writestr(prefix + name, blob)
    open_and_touch(path)


@FUZZ
@given(
    values=st.lists(st.integers(0, 2**64 - 1), max_size=8),
    dtype=st.sampled_from(["<u4", "<u8", "<i8", "<i2"]),
)
def test_arbitrary_offsets(work, values, dtype):
    info = np.iinfo(dtype)
    array = np.array([min(max(v, int(info.min)), int(info.max)) for v in values], dtype=dtype)
    entries = {k: v for k, v in ENTRIES.items() if not k.startswith("offsets")}
    entries[f"offsets.{np.dtype(dtype).name}"] = array.tobytes()
    open_and_touch(write_zip(work / "offsets.trx", entries))
