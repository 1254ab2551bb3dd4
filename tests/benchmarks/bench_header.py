"""Header save in place on a 16 GiB sparse .nii (budget < 50 ms, DESIGN.md).

``data.write_header`` writes a NIfTI-1 header for 2048^3 uint16 and extends the file
to 16 GiB with ``os.truncate`` (a hole: nothing allocated). Each sample reads the
header (``read_header``, untimed), edits ``descrip`` and times ``save_in_place``
alone: backup written + fsync + folder fsync, block patched + fsync, backup removed
+ folder fsync. Afterwards the file must have the same size and allocated blocks
(no voxel byte written) and the last description.

Also runnable alone: ``python -m tests.benchmarks.bench_header [--quick]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.benchmarks.data import write_header
from tests.benchmarks.report import Report, Stats, run_alone

BUDGET_S = 50e-3
SHAPE = (2048, 2048, 2048)
DTYPE = "uint16"


def time_saves(path: Path, n: int) -> tuple[Stats, Stats]:
    """(read_header seconds, save_in_place seconds) over ``n`` edits of ``path``."""
    from volview.io.header_file import read_header
    from volview.io.header_save import save_in_place

    reads, saves = [], []
    for i in range(n):
        start = time.perf_counter()
        hf = read_header(path)
        reads.append(time.perf_counter() - start)
        new = hf.raw.with_value("descrip", f"volview benchmark save {i}")
        start = time.perf_counter()
        save_in_place(hf, new)
        saves.append(time.perf_counter() - start)
    return Stats.of(reads), Stats.of(saves)


def check_untouched(path: Path, size: int, blocks: int, n: int) -> str:
    """Empty when the save wrote nothing but the header, else what went wrong."""
    from volview.io.header_file import read_header
    from volview.io.header_save import find_backup

    stat = os.stat(path)
    problems = []
    if stat.st_size != size:
        problems.append(f"size changed {size} -> {stat.st_size}")
    if stat.st_blocks != blocks:
        problems.append(f"allocated blocks changed {blocks} -> {stat.st_blocks}")
    if read_header(path).raw.value("descrip") != f"volview benchmark save {n - 1}":
        problems.append("the last description was not saved")
    if find_backup(path) is not None:
        problems.append("a backup was left behind")
    return "; ".join(problems)


def run(report: Report, folder: Path, quick: bool) -> None:
    report.section("header save in place (backup, patch, fsync), 16 GiB sparse .nii")
    path = Path(folder) / "header_16g.nii"
    write_header(path, SHAPE, DTYPE)
    try:
        stat = os.stat(path)
        n = 10 if quick else 50
        time_saves(path, 2)  # imports and first-touch of the folder, untimed
        reads, saves = time_saves(path, n)
        problem = check_untouched(path, stat.st_size, stat.st_blocks, n)
        name = f"header save in place, {SHAPE[0]}^3 {DTYPE} (16 GiB sparse)"
        if problem:
            report.failed(name, problem)
            return
        report.budget(name, saves, BUDGET_S, "ms")
        report.info("  read_header of the same file (untimed above)", reads, "ms")
        report.note(
            f"n={saves.n} saves; file {stat.st_size / 2**30:.0f} GiB apparent, "
            f"{stat.st_blocks * 512 / 2**10:.0f} KiB allocated, size and blocks unchanged"
        )
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(run_alone(run))
