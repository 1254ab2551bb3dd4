"""Run the performance benchmarks: ``python -m tests.benchmarks [--quick] [--only NAME]``.

Owns: the command line, the order of the benchmark groups and the temporary folder
that holds the generated files (removed at the end). Groups:

- ``import``  import volview / ``--version`` / -X importtime (budget < 150 ms)
- ``launch``  ``volview --version`` wall (< 150 ms); process start to the window shown
  with the demo's three views painted (< 1.5 s)
- ``startup`` process start to first paint + peak anonymous memory (< 1.5 s, < 300 MB)
- ``cursor``  cursor move, three planes re-read and repainted (median < 16 ms)
- ``planes``  plane reads through the proxy alone (info only)
- ``header``  header save in place on a 16 GiB sparse .nii (budget < 50 ms)
- ``streamlines`` slab index of 1M streamlines: build, memory, query (< 2.5 s, < 25 %,
  < 15 ms); the tractogram is cached under $TMPDIR/volview-bench/
- ``trx``     TRX end to end in fresh processes: open, first overlay through the window,
  slice change with the overlay, memory (< 1 s, < 3 s, < 50 ms, < 25 %)
- ``timecourse`` voxel time course through 300 volumes of a 330 MB 4-D .nii, warm
  (median < 20 ms), plus the first read after the page cache dropped the file and
  nibabel's ``dataobj[i, j, k, :]`` as a baseline
- ``gzip``    a large .nii.gz (2 GiB; --quick 128 MiB): first view (< 3 s), index build,
  axial read with the index (< 50 ms), nibabel without indexed_gzip as a baseline
- ``cache``   plane cache: RssAnon/RSS after 500 random moves on the 16 GiB file
  (< cache budget + 300 MB); 100 axial/sagittal slice steps of 512^3 float32 with
  prefetch (median < 16 ms), and without the cache for comparison

Always exits 0 (it reports, it does not assert); a missed budget prints MISSED.
Also runnable as ``python tests/benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.data import Workloads
from tests.benchmarks.report import Report

REPO = Path(__file__).resolve().parents[2]
#: group -> what its ``bench_<group>.run`` takes between the report and ``quick``
RUNNERS = {
    "import": (),
    "launch": ("folder",),
    "startup": ("workloads", "folder"),
    "cursor": ("workloads",),
    "planes": ("workloads",),
    "header": ("folder",),
    "streamlines": (),
    "trx": ("workloads",),
    "timecourse": ("folder",),
    "gzip": ("folder",),
    "cache": ("workloads",),
}
GROUPS = tuple(RUNNERS)
#: Qt messages of the offscreen platform that say nothing about performance
QT_NOISE = ("XDG_RUNTIME_DIR not set", "does not support propagateSizeHints")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="Measure volview against the performance budgets of DESIGN.md.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this group (repeatable): {', '.join(GROUPS)}",
    )
    args = parser.parse_args(argv)
    if args.only:
        unknown = [name for name in args.only if name not in GROUPS]
        if unknown:
            parser.error(f"unknown group {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    return args


def describe_machine() -> str:
    import numpy

    import volview

    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"volview {volview.__version__} ({commit}); Python {platform.python_version()}, "
        f"numpy {numpy.__version__}; {os.cpu_count()} CPUs; {platform.platform()}"
    )


def quiet_qt_noise() -> None:
    """Drop the offscreen platform's harmless warnings from the in-process QApplication."""
    from volview.qt.compat import QtCore

    def handler(_mode, _context, message):
        if not any(noise in message for noise in QT_NOISE):
            sys.stderr.write(message + "\n")

    QtCore.qInstallMessageHandler(handler)


def run_group(name: str, report: Report, workloads: Workloads, folder: Path, quick: bool):
    """Run one group: ``tests.benchmarks.bench_<name>.run`` (imported only when run)."""
    module = importlib.import_module(f"tests.benchmarks.bench_{name}")
    given = {"workloads": workloads, "folder": folder}
    module.run(report, *(given[what] for what in RUNNERS[name]), quick)


def load_average() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def prepare_child_environment(folder: Path) -> None:
    """Environment that the measured processes inherit.

    Child interpreters write and read their bytecode under ``folder`` (as an installed
    volview has its .pyc files), even when PYTHONDONTWRITEBYTECODE is set and the
    working tree has no __pycache__; nothing is written into the repository.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    runtime = folder / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    groups = [g for g in GROUPS if not args.only or g in args.only]
    report = Report()
    print(f"volview benchmarks{' (--quick)' if args.quick else ''}: {', '.join(groups)}")
    print(f"{describe_machine()}; {load_average()}", flush=True)
    start = time.perf_counter()
    saved_environ = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="volview-bench-") as folder:
        prepare_child_environment(Path(folder))
        if any(g in groups for g in ("cursor", "planes", "cache")):
            quiet_qt_noise()
        print(
            "measured processes: QT_QPA_PLATFORM=offscreen, bytecode cached in the "
            "temporary folder (PYTHONPYCACHEPREFIX), as for an installed volview"
        )
        workloads = Workloads(Path(folder), log=report.note)
        try:
            for name in groups:
                try:
                    run_group(name, report, workloads, Path(folder), args.quick)
                except Exception:  # one broken group must not hide the others
                    report.failed(f"{name} benchmarks", traceback.format_exc())
        finally:
            os.environ.clear()
            os.environ.update(saved_environ)
    report.summary()
    print(
        f"total {time.perf_counter() - start:.0f} s; {load_average()} "
        "(other work on this machine's 2 cores shows up as noise)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
