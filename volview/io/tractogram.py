"""Tractograms (streamlines) read lazily from TRX, TCK and TRK files.

Owns: the ``Tractogram`` dataclass every tractogram reader returns, the list of
tractogram file types and ``open_tractogram(path)``, which picks the reader.

Coordinate space: ``positions`` are world millimetres, RAS+ (the space of TRX and TCK,
and the space nibabel converts TRK to), with integer voxel indices at voxel centres.
``voxel_to_rasmm``/``dimensions`` only describe the reference grid the file was made
on; to draw a vertex over a volume use that *volume's* affine, not this one.

Invariants: ``offsets`` is int64 with ``NB_STREAMLINES + 1`` entries, starts at 0,
never decreases and ends with ``NB_VERTICES``; every per-streamline/per-vertex array
has the matching number of rows; group indices are integers below ``NB_STREAMLINES``.
Opening never reads the positions: for a stored TRX zip or a TRX folder they are a
read-only ``np.memmap`` of the file itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from volview.errors import FileAccessError, UnsupportedFormatError, describe

#: suffixes volview opens as tractograms (a TRX folder has no suffix)
TRACTOGRAM_SUFFIXES = (".trx", ".tck", ".trk")
#: a file-dialog filter for the supported tractogram types
TRACTOGRAM_FILTER = "Tractograms (*.trx *.tck *.trk)"

#: ``progress(done, total)``, called only during long work (decompressing a TRX zip,
#: parsing TCK/TRK); ``total`` is 0 when it is not known in advance
Progress = Callable[[int, int], None]
#: ``cancelled()`` is polled during long work; returning True stops it (OpenCancelled)
Cancelled = Callable[[], bool]


class Resource(Protocol):
    """Something a tractogram holds on to until it is closed (e.g. a temporary folder)."""

    def release(self) -> None: ...


def is_tractogram_path(path: str | os.PathLike) -> bool:
    """True for a ``.trx``/``.tck``/``.trk`` name, or a folder holding a TRX ``header.json``."""
    path = Path(path)
    if path.name.lower().endswith(TRACTOGRAM_SUFFIXES):
        return True
    return path.is_dir() and (path / "header.json").is_file()


@dataclass(eq=False)
class Tractogram:
    """Streamlines in RAS+ mm, with their per-streamline, per-vertex and group data."""

    path: Path
    format_name: str
    positions: np.ndarray
    offsets: np.ndarray
    voxel_to_rasmm: np.ndarray | None
    dimensions: tuple[int, int, int] | None
    dps: dict[str, np.ndarray] = field(default_factory=dict)
    dpv: dict[str, np.ndarray] = field(default_factory=dict)
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    dpg: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: things worth telling the user that did not stop the open (ignored entries, ...)
    notes: tuple[str, ...] = ()
    _resource: Resource | None = field(default=None, repr=False)

    @property
    def n_streamlines(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_vertices(self) -> int:
        return len(self.positions)

    def lengths(self) -> np.ndarray:
        """Number of vertices of every streamline (int64)."""
        return np.diff(self.offsets)

    def streamline(self, index: int) -> np.ndarray:
        """A float32 copy of streamline ``index`` (negative indices count from the end)."""
        n = self.n_streamlines
        if not -n <= index < n:
            raise IndexError(f"streamline {index} out of range (0..{n - 1})")
        index %= n
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        return np.array(self.positions[start:stop], dtype=np.float32)

    def summary(self) -> str:
        """A short text description, in the spirit of ``trx info``."""
        lines = [
            f"{self.path.name} — {self.format_name}",
            f"streamlines: {self.n_streamlines:,}   vertices: {self.n_vertices:,}",
            f"positions: {self.positions.dtype} {self.positions.shape}"
            f"   offsets: {self.offsets.dtype} {self.offsets.shape}",
        ]
        if self.dimensions is not None:
            lines.append("dimensions: " + " x ".join(str(n) for n in self.dimensions))
        if self.voxel_to_rasmm is not None:
            rows = np.array2string(
                np.asarray(self.voxel_to_rasmm), precision=4, suppress_small=True
            )
            lines.append("voxel to RAS+ mm:\n" + rows)
        lines += _describe_arrays("data per streamline (dps)", self.dps)
        lines += _describe_arrays("data per vertex (dpv)", self.dpv)
        if self.groups:
            lines.append("groups:")
            lines += [f"  {name}: {len(ix):,} streamlines" for name, ix in self.groups.items()]
        for group, arrays in self.dpg.items():
            lines += _describe_arrays(f"data of group {group} (dpg)", arrays)
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def close(self) -> None:
        """Drop the memory maps and remove any temporary folder; safe to call twice."""
        self.positions = np.empty((0, 3), np.float32)
        self.offsets = np.zeros(1, np.int64)
        self.dps, self.dpv, self.groups, self.dpg = {}, {}, {}, {}
        resource, self._resource = self._resource, None
        if resource is not None:
            resource.release()

    def __enter__(self) -> Tractogram:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _describe_arrays(title: str, arrays: dict[str, np.ndarray]) -> list[str]:
    if not arrays:
        return []
    return [f"{title}:"] + [f"  {k}: {a.dtype} {a.shape}" for k, a in arrays.items()]


def open_tractogram(
    path: str | os.PathLike,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Tractogram:
    """Open a TRX (zip or folder), TCK or TRK file; raise a VolviewError if it is unusable.

    TRX positions stay on disk (memory-mapped; a compressed zip is first decompressed
    to a temporary folder, with progress). TCK and TRK are read in full, with progress.
    Close the result (or use it as a context manager) to release files and temp space.
    """
    from volview.io import tck_trk, trx  # here, not at the top: they import this module

    path = Path(path).expanduser()
    if path.is_dir():
        if (path / "header.json").is_file():
            return trx.open_trx(path, progress=progress, cancelled=cancelled)
        raise UnsupportedFormatError(
            describe(path, "is a folder without header.json, so it is not a TRX folder")
        )
    _check_readable_file(path)
    suffix = path.suffix.lower()
    if suffix == ".trx":
        return trx.open_trx(path, progress=progress, cancelled=cancelled)
    if suffix in (".tck", ".trk"):
        return tck_trk.open_tck_trk(path, progress=progress, cancelled=cancelled)
    raise UnsupportedFormatError(
        describe(path, "not a tractogram type volview reads (TRX .trx, TCK .tck, TRK .trk)")
    )


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise FileAccessError(describe(path, "file not found"))
    try:
        with open(path, "rb") as f:
            first = f.read(1)
    except PermissionError as exc:
        raise FileAccessError(describe(path, "permission denied: cannot read the file")) from exc
    except OSError as exc:
        raise FileAccessError(describe(path, f"cannot read the file ({exc.strerror})")) from exc
    if not first:
        raise FileAccessError(describe(path, "the file is empty"))
