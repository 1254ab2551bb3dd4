"""Malformed TRX input: each case raises a VolviewError naming the file and the problem."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.trx_factories import (
    sample_data,
    trx_entries,
    with_header,
    write_folder,
    write_raw_zip,
    write_zip,
)
from volview.errors import (
    CorruptFileError,
    FileAccessError,
    OpenCancelled,
    UnsupportedFormatError,
    VolviewError,
)
from volview.io.tractogram import open_tractogram

DATA = sample_data()  # 6 streamlines, 27 vertices
N_STREAMLINES = len(DATA.streamlines)
N_VERTICES = int(DATA.lengths.sum())


def assert_message(error: VolviewError, path: Path, *words: str) -> None:
    """The message starts with the file name, contains the full path and every word."""
    message = str(error)
    assert message.startswith(f"{path.name}: "), message
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def open_error(path: Path, kind: type[VolviewError] = CorruptFileError) -> VolviewError:
    with pytest.raises(kind) as caught:
        open_tractogram(path)
    return caught.value


def entries(**header_changes) -> dict[str, bytes]:
    return with_header(trx_entries(DATA), **header_changes)


def replaced(name: str, payload: bytes, base: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Entries with ``name`` set to ``payload`` (and any other entry of that role removed)."""
    base = dict(base or trx_entries(DATA))
    role = name.split(".")[0]
    base = {k: v for k, v in base.items() if k.split(".")[0] != role}
    return {**base, name: payload}


def offsets_bytes(values, dtype="<u4") -> bytes:
    return np.array(values, dtype).tobytes()


def test_every_error_is_a_volview_error():
    for cls in (FileAccessError, UnsupportedFormatError, CorruptFileError, OpenCancelled):
        assert issubclass(cls, VolviewError)


# --- the header ---------------------------------------------------------------------------


HEADER_CASES = {
    "bad_json": ({"header.json": b'{"NB_VERTICES": 3,'}, ["header.json", "not valid JSON"]),
    "not_object": ({"header.json": b"[1, 2, 3]"}, ["header.json", "JSON object"]),
    "not_utf8": ({"header.json": b"\xff\xfe\xfa{}"}, ["header.json", "not valid JSON"]),
    "no_affine": (entries(VOXEL_TO_RASMM=None), ["lacks VOXEL_TO_RASMM"]),
    "no_dims": (entries(DIMENSIONS=None), ["lacks DIMENSIONS"]),
    "no_vertices": (entries(NB_VERTICES=None), ["lacks NB_VERTICES"]),
    "no_streamlines": (entries(NB_STREAMLINES=None), ["lacks NB_STREAMLINES"]),
    "affine_3x4": (entries(VOXEL_TO_RASMM=[[1, 0, 0, 0]] * 3), ["VOXEL_TO_RASMM", "4 rows of 4"]),
    "affine_text": (entries(VOXEL_TO_RASMM="eye"), ["VOXEL_TO_RASMM", "4 rows of 4"]),
    "affine_nan": (entries(VOXEL_TO_RASMM=[[float("nan")] * 4] * 4), ["VOXEL_TO_RASMM", "NaN"]),
    "dims_2": (entries(DIMENSIONS=[91, 109]), ["DIMENSIONS", "3 whole numbers"]),
    "dims_float": (entries(DIMENSIONS=[91.5, 109, 91]), ["DIMENSIONS", "3 whole numbers"]),
    "vertices_text": (entries(NB_VERTICES="18"), ["NB_VERTICES", "whole number"]),
    "vertices_negative": (entries(NB_VERTICES=-1), ["NB_VERTICES", "whole number"]),
    "streamlines_float": (entries(NB_STREAMLINES=6.0), ["NB_STREAMLINES", "whole number"]),
    "streamlines_bool": (entries(NB_STREAMLINES=True), ["NB_STREAMLINES", "whole number"]),
    "vertices_without_streamlines": (
        {"header.json": json.dumps({**DATA.header(), "NB_STREAMLINES": 0}).encode()},
        ["NB_STREAMLINES is 0", f"NB_VERTICES is {N_VERTICES}"],
    ),
}


@pytest.mark.parametrize("case", HEADER_CASES)
def test_bad_header(tmp_path, case):
    payload, words = HEADER_CASES[case]
    base = trx_entries(DATA)
    path = write_zip(tmp_path / f"{case}.trx", {**base, **payload})
    assert_message(open_error(path), path, *words)


def test_lying_vertex_count_allocates_nothing(tmp_path):
    path = write_zip(tmp_path / "liar.trx", entries(NB_VERTICES=10**12))
    tracemalloc.start()
    try:
        error = open_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_message(error, path, "truncated", "NB_VERTICES is 1,000,000,000,000", "positions")
    assert peak < 2_000_000


# --- array sizes, names and types ----------------------------------------------------------


V, S = N_VERTICES, N_STREAMLINES
SIZE_CASES = {
    "fewer_vertices_in_header": (
        entries(NB_VERTICES=V - 1),
        ["positions.3.float32", "rows but NB_VERTICES"],
    ),
    "more_streamlines_in_header": (entries(NB_STREAMLINES=S + 5), ["truncated", "offsets.uint32"]),
    "fewer_streamlines_in_header": (
        entries(NB_STREAMLINES=S - 2),
        [f"NB_STREAMLINES is {S - 2}", "offsets"],
    ),
    "positions_2_columns": (
        replaced("positions.2.float32", DATA.positions[:, :2].tobytes()),
        ["positions must have 3 columns", "says 2"],
    ),
    "positions_no_columns": (
        replaced("positions.float32", DATA.positions.tobytes()),
        ["positions must have 3 columns", "says 1"],
    ),
    "positions_int": (
        replaced("positions.3.int32", DATA.positions.astype("<i4").tobytes()),
        ["float16, float32 or float64", "int32"],
    ),
    "positions_odd_bytes": (
        replaced("positions.3.float32", DATA.positions.tobytes() + b"\0\0"),
        ["positions.3.float32", "not a whole number of rows"],
    ),
    "unknown_dtype": (
        replaced("positions.3.float8", b"\0" * (V * 3)),
        ["unknown data type 'float8'", "positions.3.float8"],
    ),
    "unknown_dtype_dps": (
        {"dps/weight.txt": b"hello"},
        ["unknown data type 'txt'", "dps/weight.txt"],
    ),
    "bad_column_count": ({"dps/w.x.float32": b"\0" * 24}, ["column count 'x'", "dps/w.x.float32"]),
    "zero_column_count": ({"dps/w.0.float32": b""}, ["column count '0'"]),
    "too_many_dots": (
        {"dps/w.v2.3.float32": b"\0" * 72},
        ["dps/w.v2.3.float32", "name[.columns].dtype"],
    ),
    "dps_rows": (
        {"dps/extra.float32": b"\0" * 4 * (S + 1)},
        ["dps/extra.float32", f"NB_STREAMLINES is {S}"],
    ),
    "dps_columns": (
        {"dps/colors.3.uint8": b"\0" * (3 * S + 1)},
        ["dps/colors.3.uint8", "whole number of rows"],
    ),
    "dpv_rows": (
        {"dpv/fa.float32": b"\0" * 4 * (V - 2)},
        ["dpv/fa.float32", "truncated", f"NB_VERTICES is {V}"],
    ),
    "group_float": (
        {"groups/g.float32": np.zeros(2, "<f4").tobytes()},
        ["group indices must be integers", "float32"],
    ),
    "group_columns": (
        {"groups/g.2.uint32": np.zeros(4, "<u4").tobytes()},
        ["groups/g.2.uint32", "1 column"],
    ),
    "dpg_no_group": ({"dpg/ghost/color.3.uint8": b"\1\2\3"}, ["dpg/ghost/", "not in groups"]),
    "dpg_size": (
        {"dpg/bundleA/color.3.uint8": b"\1\2\3\4"},
        ["dpg/bundleA/color.3.uint8", "should hold 3"],
    ),
    "offsets_float": (
        replaced("offsets.float32", DATA.offsets.astype("<f4").tobytes()),
        ["offsets must be integers"],
    ),
    "two_positions": (
        {"positions.3.float64": DATA.positions.astype("<f8").tobytes()},
        ["two positions arrays"],
    ),
    "two_dps": (
        {"dps/weight.float64": np.zeros(S, "<f8").tobytes()},
        ["two arrays called weight", "dps/weight.float32"],
    ),
}


@pytest.mark.parametrize("case", SIZE_CASES)
def test_bad_array(tmp_path, case):
    payload, words = SIZE_CASES[case]
    full = payload if "header.json" in payload else {**trx_entries(DATA), **payload}
    path = write_zip(tmp_path / f"{case}.trx", full)
    assert_message(open_error(path), path, *words)


def test_missing_positions(tmp_path):
    base = {k: v for k, v in trx_entries(DATA).items() if not k.startswith("positions")}
    path = write_zip(tmp_path / "no_positions.trx", base)
    assert_message(open_error(path), path, "no positions array")


def test_missing_offsets(tmp_path):
    base = {k: v for k, v in trx_entries(DATA).items() if not k.startswith("offsets")}
    path = write_folder(tmp_path / "no_offsets", base)
    assert_message(open_error(path), path, "no offsets array")


# --- offsets and group values ----------------------------------------------------------------


OFFSET_CASES = {  # DATA.offsets is [0, 7, 13, 18, 21, 25, 27]
    "first_not_zero": ([1, 7, 13, 18, 21, 25, V], ["offsets must start at 0", "first offset is 1"]),
    "decreasing": ([0, 7, 13, 10, 21, 25, V], ["never decrease", "offset 3 (10)", "offset 2 (13)"]),
    "beyond_vertices": (
        [0, 7, 13, 18, 21, V + 40, V],
        [f"offset 5 is {V + 40}", "beyond the last vertex"],
    ),
    "sentinel_wrong": (
        [0, 7, 13, 18, 21, 25, V - 1],
        [f"last offset is {V - 1}", f"NB_VERTICES is {V}"],
    ),
    "no_sentinel_decreasing": ([0, 7, 13, 18, 21, 2], ["never decrease"]),
}


@pytest.mark.parametrize("case", OFFSET_CASES)
@pytest.mark.parametrize("dtype", ["<u4", "<u8", "<i8"])
def test_bad_offsets(tmp_path, case, dtype):
    values, words = OFFSET_CASES[case]
    name = f"offsets.{np.dtype(dtype).name}"
    path = write_zip(tmp_path / f"{case}.trx", replaced(name, offsets_bytes(values, dtype)))
    assert_message(open_error(path), path, *words)


def test_offsets_fixture_matches_cases():
    assert DATA.offsets.tolist() == [0, 7, 13, 18, 21, 25, V]
    assert len(OFFSET_CASES["first_not_zero"][0]) == S + 1


@pytest.mark.parametrize(
    ("indices", "dtype", "bad"),
    [([0, S], "<u4", S), ([0, 1, 2**32 - 1], "<u4", 2**32 - 1), ([-1, 2], "<i4", -1)],
)
def test_group_index_out_of_range(tmp_path, indices, dtype, bad):
    name = f"groups/bundleA.{np.dtype(dtype).name}"
    base = {k: v for k, v in trx_entries(DATA).items() if not k.startswith("groups/bundleA")}
    path = write_zip(tmp_path / "group.trx", {**base, name: np.array(indices, dtype).tobytes()})
    assert_message(open_error(path), path, "group 'bundleA'", f"streamline {bad:,}", f"only {S}")


# --- the container -----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.trx"
    assert_message(open_error(path, FileAccessError), path, "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.trx"
    path.touch()
    assert_message(open_error(path, FileAccessError), path, "empty")


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.trx"
    path.write_text("hello, I am not a tractogram")
    assert_message(open_error(path), path, "not a TRX file", "not a ZIP")


def test_truncated_zip(tmp_path):
    path = write_zip(tmp_path / "cut.trx", trx_entries(DATA))
    path.write_bytes(path.read_bytes()[:-200])
    assert_message(open_error(path), path, "ZIP archive is damaged or truncated")


def test_zip_without_header(tmp_path):
    base = {k: v for k, v in trx_entries(DATA).items() if k != "header.json"}
    path = write_zip(tmp_path / "headless.trx", base)
    assert_message(open_error(path), path, "not a TRX file", "no header.json")


def test_folder_without_header(tmp_path):
    path = tmp_path / "just_a_folder"
    path.mkdir()
    assert_message(open_error(path, UnsupportedFormatError), path, "without header.json")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "lines.vtk"
    path.write_bytes(b"# vtk DataFile")
    assert_message(open_error(path, UnsupportedFormatError), path, ".trx", ".tck", ".trk")


def test_two_headers_at_the_same_level(tmp_path):
    path = tmp_path / "two.trx"
    with zipfile.ZipFile(path, "w") as zf:
        for prefix in ("a/", "b/"):
            for name, payload in trx_entries(DATA).items():
                zf.writestr(prefix + name, payload)
    assert_message(open_error(path), path, "several TRX headers", "a/header.json", "b/header.json")


def test_duplicate_entries(tmp_path):
    entries_list = [*trx_entries(DATA).items(), ("dps/weight.float32", b"\0" * 4 * S)]
    path = write_raw_zip(tmp_path / "dup.trx", entries_list)
    assert_message(open_error(path), path, "two entries named dps/weight.float32")


def test_entry_cut_short(tmp_path):
    """The central directory claims more bytes than the archive has (header agrees with it)."""
    plain = sample_data(extras=False)
    missing = 100_000
    n_vertices = int(plain.lengths.sum()) + missing
    offsets = np.append(plain.offsets[:-1], n_vertices)
    header = {**plain.header(), "NB_VERTICES": n_vertices}
    items = [
        ("header.json", json.dumps(header).encode()),
        ("offsets.uint64", offsets.astype("<u8").tobytes()),
        ("positions.3.float32", plain.positions.tobytes()),
    ]
    declared = {"positions.3.float32": n_vertices * 12}
    path = write_raw_zip(tmp_path / "short.trx", items, declared_sizes=declared)
    assert_message(open_error(path), path, "truncated", "positions.3.float32 is cut short")


def test_damaged_local_header(tmp_path):
    path = write_zip(tmp_path / "local.trx", trx_entries(DATA))
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo("positions.3.float32").header_offset
    raw = bytearray(path.read_bytes())
    raw[offset : offset + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    assert_message(open_error(path), path, "positions.3.float32", "damaged")


def test_encrypted_entry(tmp_path):
    path = write_zip(tmp_path / "secret.trx", trx_entries(DATA))
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # general purpose flag bit 0 of the first central entry
    path.write_bytes(bytes(raw))
    assert_message(open_error(path), path, "encrypted")
