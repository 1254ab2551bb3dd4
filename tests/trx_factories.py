"""Writers of small TRX files for tests, and trx-python as the oracle that reads them back.

Two kinds of writers:

- ``write_with_trx_python`` goes through trx-python 0.6 (the reference implementation):
  stored zip, deflated zip or folder, with any positions/offsets dtype, dps, dpv,
  groups and dpg;
- ``trx_entries`` + ``write_zip``/``write_raw_zip``/``write_folder`` build the entries
  by hand (numpy ``tobytes``) for what trx-python rejects or mis-reads: offsets without
  the final sentinel, an empty first streamline, a top folder, junk entries, local ZIP
  headers whose extra field differs from the central directory, sparse huge entries,
  and every kind of damage.

``read_with_trx_python`` loads a file with trx-python and returns plain numpy copies in
volview's conventions (offsets with the sentinel, 1-column arrays squeezed, dpg 1-D).
Nothing here imports Qt.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

POSITION_DTYPES = ("float16", "float32", "float64")
OFFSET_DTYPES = ("uint32", "uint64")
TRX_FORMS = ("stored", "deflated", "folder")
AFFINE = np.array(
    [[2.0, 0, 0, -90], [0, 2.0, 0, -126], [0, 0, 2.0, -72], [0, 0, 0, 1]], dtype=np.float64
)
DIMENSIONS = (91, 109, 91)


@dataclass
class TrxData:
    """The content of a TRX, in volview's conventions."""

    streamlines: list[np.ndarray]
    dps: dict[str, np.ndarray] = field(default_factory=dict)
    dpv: dict[str, np.ndarray] = field(default_factory=dict)
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    dpg: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    affine: np.ndarray = field(default_factory=lambda: AFFINE.copy())
    dimensions: tuple[int, int, int] = DIMENSIONS

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.streamlines], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @property
    def positions(self) -> np.ndarray:
        if not self.streamlines:
            return np.empty((0, 3), np.float32)
        return np.concatenate(self.streamlines).astype(np.float32)

    def header(self) -> dict:
        return {
            "DIMENSIONS": list(self.dimensions),
            "VOXEL_TO_RASMM": self.affine.tolist(),
            "NB_VERTICES": int(self.lengths.sum()),
            "NB_STREAMLINES": len(self.streamlines),
        }


def sample_data(
    n_streamlines: int = 6, seed: int = 0, *, empty_first: bool = False, extras: bool = True
) -> TrxData:
    """Random streamlines (values exact in float16) with dps, dpv, two groups and dpg."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 9, size=n_streamlines)
    if empty_first and n_streamlines:
        counts[0] = 0
    # multiples of 1/8 below 256 are exact in float16, so every dtype round-trips
    streamlines = [(rng.integers(-800, 800, (n, 3)) / 8).astype(np.float32) for n in counts]
    data = TrxData(streamlines)
    if not extras:
        return data
    n_vertices = int(counts.sum())
    data.dps = {
        "weight": rng.random(n_streamlines).astype(np.float32),
        "colors": rng.integers(0, 256, (n_streamlines, 3)).astype(np.uint8),
    }
    data.dpv = {
        "fa": rng.random(n_vertices).astype(np.float32),
        "rgb": rng.integers(0, 256, (n_vertices, 3)).astype(np.uint8),
    }
    data.groups = {
        "bundleA": np.array([0, 2], np.uint32) % max(n_streamlines, 1),
        "bundleB": np.arange(n_streamlines, dtype=np.uint32)[1::2],
    }
    data.dpg = {"bundleA": {"color": np.array([255, 0, 0], np.uint8)}}
    return data


# --- through trx-python --------------------------------------------------------------


def write_with_trx_python(
    path: Path,
    data: TrxData,
    *,
    form: str = "stored",
    positions_dtype: str = "float32",
    offsets_dtype: str = "uint32",
) -> Path:
    """Write ``data`` with trx-python; ``path`` gets ``.trx`` unless ``form == "folder"``."""
    import trx.trx_file_memmap as tmm

    tractogram = nib.streamlines.Tractogram(data.streamlines, affine_to_rasmm=np.eye(4))
    for key, values in data.dpv.items():
        tractogram.data_per_point[key] = _split(values.reshape(len(values), -1), data.offsets)
    for key, values in data.dps.items():
        tractogram.data_per_streamline[key] = values.reshape(len(values), -1)
    reference = {
        **data.header(),
        "VOXEL_TO_RASMM": data.affine,
        "DIMENSIONS": np.array(data.dimensions),
    }
    dtypes = {
        "positions": np.dtype(positions_dtype),
        "offsets": np.dtype(offsets_dtype),
        "dpv": {k: v.dtype for k, v in data.dpv.items()},
        "dps": {k: v.dtype for k, v in data.dps.items()},
    }
    trx_file = tmm.TrxFile.from_tractogram(tractogram, reference=reference, dtype_dict=dtypes)
    for key, indices in data.groups.items():
        trx_file.groups[key] = indices
    for group, arrays in data.dpg.items():
        trx_file.data_per_group[group] = {k: v.reshape(1, -1) for k, v in arrays.items()}
    path = path.with_suffix("") if form == "folder" else path.with_suffix(".trx")
    compression = zipfile.ZIP_DEFLATED if form == "deflated" else zipfile.ZIP_STORED
    tmm.save(trx_file, str(path), compression_standard=compression)
    trx_file.close()
    return path


def _split(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [values[a:b] for a, b in itertools.pairwise(offsets)]


def read_with_trx_python(path: Path) -> TrxData:
    """The oracle: what trx-python reads, as plain copies (the file is closed afterwards)."""
    import trx.trx_file_memmap as tmm

    trx_file = tmm.load(str(path))
    try:
        streamlines = [np.array(s, dtype=np.float32) for s in trx_file.streamlines]
        squeeze = _squeeze_copy
        return TrxData(
            streamlines=streamlines,
            dps={k: squeeze(v) for k, v in trx_file.data_per_streamline.items()},
            dpv={k: squeeze(v._data) for k, v in trx_file.data_per_vertex.items()},
            groups={k: np.array(v) for k, v in trx_file.groups.items()},
            dpg={
                g: {k: np.array(v).reshape(-1) for k, v in d.items()}
                for g, d in trx_file.data_per_group.items()
            },
            affine=np.array(trx_file.header["VOXEL_TO_RASMM"], dtype=np.float64),
            dimensions=tuple(int(n) for n in trx_file.header["DIMENSIONS"]),
        )
    finally:
        trx_file.close()


def _squeeze_copy(array) -> np.ndarray:
    array = np.array(array)
    return array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array


# --- by hand ---------------------------------------------------------------------------


def trx_entries(
    data: TrxData,
    *,
    positions_dtype: str = "float32",
    offsets_dtype: str = "uint32",
    sentinel: bool = True,
) -> dict[str, bytes]:
    """The entries of a TRX as ``name -> bytes`` (little-endian, C order)."""
    offsets = data.offsets if sentinel else data.offsets[:-1]
    entries = {
        "header.json": json.dumps(data.header()).encode(),
        f"positions.3.{positions_dtype}": _le(data.positions, positions_dtype),
        f"offsets.{offsets_dtype}": _le(offsets, offsets_dtype),
    }
    for folder, arrays in (("dps", data.dps), ("dpv", data.dpv)):
        for key, values in arrays.items():
            entries[f"{folder}/{_array_name(key, values)}"] = _le(values, values.dtype)
    for key, indices in data.groups.items():
        entries[f"groups/{key}.{indices.dtype.name}"] = _le(indices, indices.dtype)
    for group, arrays in data.dpg.items():
        for key, values in arrays.items():
            entries[f"dpg/{group}/{_array_name(key, values.reshape(1, -1))}"] = values.tobytes()
    return entries


def _array_name(key: str, values: np.ndarray) -> str:
    dtype = "bit" if values.dtype == bool else values.dtype.name
    columns = values.shape[1] if values.ndim == 2 and values.shape[1] > 1 else None
    return f"{key}.{columns}.{dtype}" if columns else f"{key}.{dtype}"


def _le(values: np.ndarray, dtype) -> bytes:
    return np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()


def with_header(entries: dict[str, bytes], **changes) -> dict[str, bytes]:
    """A copy of ``entries`` whose header.json has ``changes`` applied (None deletes a key)."""
    header = json.loads(entries["header.json"])
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    return {**entries, "header.json": json.dumps(header).encode()}


def write_zip(
    path: Path,
    entries: dict[str, bytes],
    *,
    compression: int = zipfile.ZIP_STORED,
    prefix: str = "",
) -> Path:
    """A ZIP with one entry per item (names get ``prefix``); ``compression`` for all."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, payload in entries.items():
            zf.writestr(prefix + name, payload)
    return path


def write_folder(path: Path, entries: dict[str, bytes]) -> Path:
    for name, payload in entries.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
    return path


def write_raw_zip(
    path: Path,
    entries: list[tuple[str, bytes | int]],
    *,
    local_extra: bytes = b"",
    declared_sizes: dict[str, int] | None = None,
) -> Path:
    """A stored ZIP written byte by byte.

    An entry given as an int is that many zero bytes, skipped with ``seek`` (a sparse
    file; its CRC is left at 0 - volview does not check the CRC of stored entries).
    ``local_extra`` goes into every local header only (the central directory has
    none), as the ``zip`` command line tool does. ``declared_sizes`` overrides the
    sizes written in the headers, to make entries that are cut short.
    """
    declared_sizes = declared_sizes or {}
    central = []
    with open(path, "wb") as f:
        for name, payload in entries:
            size = payload if isinstance(payload, int) else len(payload)
            crc = 0 if isinstance(payload, int) else zlib.crc32(payload)
            size = declared_sizes.get(name, size)
            offset = f.tell()
            encoded = name.encode()
            f.write(_local_header(encoded, crc, size, len(local_extra)) + encoded + local_extra)
            if isinstance(payload, int):
                f.seek(payload, os.SEEK_CUR)
            else:
                f.write(payload)
            central.append(_central_header(encoded, crc, size, offset) + encoded)
        f.write(_end_of_archive(central, start=f.tell()))
    return path


def _end_of_archive(central: list[bytes], start: int) -> bytes:
    directory = b"".join(central)
    count = len(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0)
    return directory + end


def _local_header(name: bytes, crc: int, size: int, extra_len: int) -> bytes:
    return struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(name), extra_len
    )


def _central_header(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        0,
        0,
        0,
        0,
        crc,
        size,
        size,
        len(name),
        0,
        0,
        0,
        0,
        0,
        offset,
    )


def sparse_trx(path: Path, n_vertices: int) -> Path:
    """A stored TRX with one streamline of ``n_vertices`` zero float32 vertices (sparse)."""
    data = TrxData([np.zeros((0, 3), np.float32)])
    header = {**data.header(), "NB_VERTICES": n_vertices, "NB_STREAMLINES": 1}
    entries: list[tuple[str, bytes | int]] = [
        ("header.json", json.dumps(header).encode()),
        ("offsets.uint64", np.array([0, n_vertices], "<u8").tobytes()),
        ("positions.3.float32", n_vertices * 12),
    ]
    return write_raw_zip(path, entries)
