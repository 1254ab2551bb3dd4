"""A strict, read-only, lazy TRX reader (ZIP stored or compressed, or a plain folder).

Owns: ``open_trx(path) -> Tractogram``: parsing ``header.json``, mapping entry names
(``name[.columns].dtype`` under ``dps/``, ``dpv/``, ``groups/``, ``dpg/<group>/``) to
arrays, and checking that everything agrees before anything is mapped or read.

Coordinate space: ``positions`` are RAS+ world millimetres, as the TRX spec says;
``VOXEL_TO_RASMM``/``DIMENSIONS`` describe the reference grid only.

Invariants (see tractogram.py): array sizes are checked against the header from the
entries' byte sizes alone, so a header that lies (NB_VERTICES = 10**12) never leads to
an allocation; then arrays are memory-mapped read-only (little-endian, C order) and
only the small ones are read: offsets (N or N + 1 of them; the sentinel is appended
when missing) and group indices. Positions and per-vertex data are never scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from volview.errors import CorruptFileError, FileAccessError, describe
from volview.io.tractogram import Cancelled, Progress, Tractogram
from volview.io.trx_container import HEADER_NAME, Container, Member, open_container, some
from volview.io.trx_header import TrxHeader, parse_header

#: the element types a TRX file name may end with (``bit`` is one byte per value)
TRX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
TRX_DTYPES += ("float16", "float32", "float64", "bit")
DTYPE_WORDS = "int8…int64, uint8…uint64, float16, float32, float64 or bit"
GROUPED = ("dps", "dpv", "groups")


@dataclass(frozen=True)
class ArraySpec:
    """An entry whose name says what array it holds: ``name[.columns].dtype``."""

    member: Member
    key: str
    dtype: np.dtype
    columns: int

    @property
    def row_bytes(self) -> int:
        return self.columns * self.dtype.itemsize


@dataclass
class Layout:
    """The arrays of a TRX, sorted by role, before anything is mapped."""

    positions: ArraySpec | None = None
    offsets: ArraySpec | None = None
    dps: dict[str, ArraySpec] = field(default_factory=dict)
    dpv: dict[str, ArraySpec] = field(default_factory=dict)
    groups: dict[str, ArraySpec] = field(default_factory=dict)
    dpg: dict[str, dict[str, ArraySpec]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)

    def specs(self) -> list[ArraySpec]:
        singles = [s for s in (self.positions, self.offsets) if s is not None]
        grouped = [s for d in (self.dps, self.dpv, self.groups) for s in d.values()]
        return singles + grouped + [s for d in self.dpg.values() for s in d.values()]


def open_trx(
    path: Path, *, progress: Progress | None = None, cancelled: Cancelled | None = None
) -> Tractogram:
    """Open a TRX zip or folder; see the module docstring for what is checked."""
    with open_container(path) as container:
        header = parse_header(path, container.read_header())
        layout = classify(path, container)
        check_sizes(path, layout, header)
        specs = layout.specs()
        placed, temp = container.materialize([s.member for s in specs], progress, cancelled)
        form = _format_name(container, temp is not None)
        notes = container.notes + _ignored_note(layout.ignored)
    try:
        arrays = {s.member.name: _map(path, s, placed[s.member.name]) for s in specs}
        tractogram = _build(path, header, layout, lambda s: arrays[s.member.name])
    except BaseException:
        if temp is not None:
            temp.release()
        raise
    tractogram.format_name = form
    tractogram.notes = tuple(notes)
    tractogram._resource = temp
    return tractogram


def _format_name(container: Container, extracted: bool) -> str:
    if container.form == "folder":
        return "TRX (folder)"
    return "TRX (zip, deflated → temp)" if extracted else "TRX (zip, stored)"


def _ignored_note(ignored: list[str]) -> list[str]:
    if not ignored:
        return []
    return [f"ignored {len(ignored)} entries that are not TRX arrays: {some(ignored)}"]


# --- names -> layout -----------------------------------------------------------------


def classify(path: Path, container: Container) -> Layout:
    """Sort the entries by role from their names; raise on names TRX does not allow."""
    layout = Layout()
    for name, member in sorted(container.members.items()):
        if name == HEADER_NAME or name.endswith(".json"):
            continue  # header, or a JSON sidecar the spec allows (e.g. dps/algo.json)
        parts = name.split("/")
        if len(parts) == 1 and parts[0].split(".")[0] in ("positions", "offsets"):
            _set_single(path, layout, parts[0].split(".")[0], _spec(path, member))
        elif len(parts) == 2 and parts[0] in GROUPED:
            _add(path, getattr(layout, parts[0]), _spec(path, member))
        elif len(parts) == 3 and parts[0] == "dpg":
            _add(path, layout.dpg.setdefault(parts[1], {}), _spec(path, member))
        else:
            layout.ignored.append(name)
    return layout


def _spec(path: Path, member: Member) -> ArraySpec:
    file_name = member.name.rsplit("/", 1)[-1]
    pieces = file_name.split(".")
    if len(pieces) not in (2, 3) or not pieces[0]:
        raise CorruptFileError(
            describe(path, f"the entry {member.name} is not named like name[.columns].dtype")
        )
    if pieces[-1] not in TRX_DTYPES:
        raise CorruptFileError(
            describe(
                path,
                f"unknown data type '{pieces[-1]}' in the entry {member.name} "
                f"(TRX allows {DTYPE_WORDS})",
            )
        )
    columns = 1
    if len(pieces) == 3:
        if not (pieces[1].isascii() and pieces[1].isdigit()) or not 0 < int(pieces[1]) < 2**31:
            raise CorruptFileError(
                describe(path, f"the column count '{pieces[1]}' of {member.name} is not valid")
            )
        columns = int(pieces[1])
    dtype = np.dtype(bool) if pieces[-1] == "bit" else np.dtype(pieces[-1]).newbyteorder("<")
    return ArraySpec(member, pieces[0], dtype, columns)


def _set_single(path: Path, layout: Layout, role: str, spec: ArraySpec) -> None:
    previous = getattr(layout, role)
    if previous is not None:
        raise CorruptFileError(
            describe(path, f"holds two {role} arrays ({previous.member.name}, {spec.member.name})")
        )
    setattr(layout, role, spec)


def _add(path: Path, arrays: dict[str, ArraySpec], spec: ArraySpec) -> None:
    previous = arrays.get(spec.key)
    if previous is not None:
        raise CorruptFileError(
            describe(
                path,
                f"holds two arrays called {spec.key} ({previous.member.name}, {spec.member.name})",
            )
        )
    arrays[spec.key] = spec


# --- sizes (from byte counts only; nothing is allocated) -----------------------------


def check_sizes(path: Path, layout: Layout, header: TrxHeader) -> None:
    """Check every array's type and byte size against the header."""
    n_streamlines, n_vertices = header.nb_streamlines, header.nb_vertices
    _check_positions(path, layout.positions, n_vertices)
    _check_offsets(path, layout.offsets, n_streamlines)
    for spec in layout.dps.values():
        _expect_rows(path, spec, n_streamlines, "NB_STREAMLINES")
    for spec in layout.dpv.values():
        _expect_rows(path, spec, n_vertices, "NB_VERTICES")
    for spec in layout.groups.values():
        _expect_kind(path, spec, "iu", "group indices must be integers")
        _expect_columns(path, spec, 1)
        _rows(path, spec)
    for group, arrays in layout.dpg.items():
        if group not in layout.groups:
            raise CorruptFileError(
                describe(
                    path, f"dpg/{group}/ holds data for a group '{group}' that is not in groups/"
                )
            )
        for spec in arrays.values():
            if spec.member.size != spec.row_bytes:
                raise CorruptFileError(
                    describe(
                        path,
                        f"{spec.member.name} should hold {spec.columns} {spec.dtype.name} "
                        f"value(s) ({spec.row_bytes} bytes) but holds {spec.member.size:,} bytes",
                    )
                )


def _check_positions(path: Path, spec: ArraySpec | None, n_vertices: int) -> None:
    if spec is None:
        if n_vertices:
            raise CorruptFileError(describe(path, "has no positions array (positions.3.float32)"))
        return
    _expect_kind(path, spec, "f", "positions must be float16, float32 or float64")
    if spec.columns != 3:
        raise CorruptFileError(
            describe(
                path,
                f"positions must have 3 columns (x, y, z) but {spec.member.name} "
                f"says {spec.columns}",
            )
        )
    _expect_rows(path, spec, n_vertices, "NB_VERTICES")


def _check_offsets(path: Path, spec: ArraySpec | None, n_streamlines: int) -> None:
    if spec is None:
        if n_streamlines:
            raise CorruptFileError(describe(path, "has no offsets array (offsets.uint32)"))
        return
    _expect_kind(path, spec, "iu", "offsets must be integers (uint32 or uint64)")
    _expect_columns(path, spec, 1)
    rows = _rows(path, spec)
    if rows < n_streamlines:
        raise CorruptFileError(
            describe(
                path,
                f"the file is truncated or NB_STREAMLINES is wrong: the header says "
                f"{n_streamlines:,} streamlines but {spec.member.name} holds {rows:,} offsets",
            )
        )
    if rows > n_streamlines + 1:
        raise CorruptFileError(
            describe(
                path,
                f"NB_STREAMLINES is {n_streamlines:,} but {spec.member.name} holds "
                f"{rows:,} offsets (expected {n_streamlines:,} or {n_streamlines + 1:,})",
            )
        )


def _expect_kind(path: Path, spec: ArraySpec, kinds: str, rule: str) -> None:
    if spec.dtype.kind not in kinds:
        raise CorruptFileError(
            describe(path, f"{rule}; {spec.member.name} holds {spec.dtype.name}")
        )


def _expect_columns(path: Path, spec: ArraySpec, columns: int) -> None:
    if spec.columns != columns:
        raise CorruptFileError(
            describe(path, f"{spec.member.name} must have {columns} column, not {spec.columns}")
        )


def _rows(path: Path, spec: ArraySpec) -> int:
    size = spec.member.size
    if size % spec.row_bytes:
        raise CorruptFileError(
            describe(
                path,
                f"{spec.member.name} holds {size:,} bytes, not a whole number of rows of "
                f"{spec.columns} {spec.dtype.name} values ({spec.row_bytes} bytes each); "
                "its column count or data type is wrong",
            )
        )
    return size // spec.row_bytes


def _expect_rows(path: Path, spec: ArraySpec, expected: int, header_key: str) -> None:
    rows = _rows(path, spec)
    if rows < expected:
        raise CorruptFileError(
            describe(
                path,
                f"the file is truncated or {header_key} is wrong: {header_key} is "
                f"{expected:,} but {spec.member.name} holds only {rows:,} rows",
            )
        )
    if rows > expected:
        raise CorruptFileError(
            describe(
                path, f"{spec.member.name} holds {rows:,} rows but {header_key} is {expected:,}"
            )
        )


# --- mapping and the small reads -----------------------------------------------------


def _map(path: Path, spec: ArraySpec, member: Member) -> np.ndarray:
    """A read-only memmap (rows, columns) of an entry whose size was checked."""
    rows = member.size // spec.row_bytes
    shape = (rows, spec.columns)
    if member.size == 0:
        empty = np.zeros(shape, spec.dtype)
        empty.flags.writeable = False
        return empty
    try:
        return np.memmap(member.file, spec.dtype, mode="r", offset=member.offset or 0, shape=shape)
    except (OSError, ValueError) as exc:
        raise FileAccessError(describe(path, f"cannot map {spec.member.name} ({exc})")) from exc


def _build(path: Path, header: TrxHeader, layout: Layout, array) -> Tractogram:
    n_streamlines = header.nb_streamlines
    positions = array(layout.positions) if layout.positions else np.empty((0, 3), np.float32)
    raw_offsets = array(layout.offsets)[:, 0] if layout.offsets else np.empty(0, np.uint32)
    return Tractogram(
        path=path,
        format_name="TRX",
        positions=positions,
        offsets=checked_offsets(path, raw_offsets, header),
        voxel_to_rasmm=header.voxel_to_rasmm,
        dimensions=header.dimensions,
        dps={k: _squeeze(array(s)) for k, s in layout.dps.items()},
        dpv={k: _squeeze(array(s)) for k, s in layout.dpv.items()},
        groups={
            k: _checked_group(path, s, array(s)[:, 0], n_streamlines)
            for k, s in layout.groups.items()
        },
        dpg={g: {k: array(s)[0] for k, s in d.items()} for g, d in layout.dpg.items()},
    )


def _squeeze(array: np.ndarray) -> np.ndarray:
    return array[:, 0] if array.shape[1] == 1 else array


def checked_offsets(path: Path, raw: np.ndarray, header: TrxHeader) -> np.ndarray:
    """Validated int64 offsets with the final sentinel (appended when the file has none)."""
    n_vertices = header.nb_vertices
    values = np.asarray(raw)
    if values.size and values[0] != 0:
        raise CorruptFileError(
            describe(path, f"offsets must start at 0, but the first offset is {values[0]}")
        )
    if values.size and values.max() > n_vertices:
        i = int(np.argmax(values > n_vertices))
        raise CorruptFileError(
            describe(
                path,
                f"offset {i:,} is {values[i]:,}, beyond the last vertex "
                f"(NB_VERTICES is {n_vertices:,})",
            )
        )
    offsets = values.astype(np.int64)
    decreasing = np.flatnonzero(np.diff(offsets) < 0)
    if decreasing.size:
        i = int(decreasing[0])
        raise CorruptFileError(
            describe(
                path,
                f"offsets must never decrease, but offset {i + 1:,} ({offsets[i + 1]:,}) "
                f"is smaller than offset {i:,} ({offsets[i]:,})",
            )
        )
    if len(offsets) == header.nb_streamlines + 1 and offsets[-1] != n_vertices:
        raise CorruptFileError(
            describe(
                path,
                f"the last offset is {offsets[-1]:,} but NB_VERTICES is {n_vertices:,}; "
                "the final offset must equal NB_VERTICES",
            )
        )
    if len(offsets) == header.nb_streamlines:
        offsets = np.append(offsets, np.int64(n_vertices))
    return offsets


def _checked_group(path: Path, spec: ArraySpec, indices: np.ndarray, n_streamlines: int):
    if indices.size:
        low, high = indices.min(), indices.max()
        bad = low if low < 0 else high if high >= n_streamlines else None
        if bad is not None:
            raise CorruptFileError(
                describe(
                    path,
                    f"group '{spec.key}' refers to streamline {bad:,} but there are only "
                    f"{n_streamlines:,} (indices run from 0 to NB_STREAMLINES - 1)",
                )
            )
    return indices
