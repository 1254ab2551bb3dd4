"""The command line in a fresh process: help, version, argument errors, headless render."""

from __future__ import annotations

import os
import subprocess
import sys

import nibabel as nib
import numpy as np

NO_QT_CHECK = (
    "import sys\n"
    "from volview.cli import main\n"
    "try:\n    main({argv!r})\n"
    "except SystemExit as e:\n    code = e.code\n"
    "assert 'PyQt5' not in sys.modules and 'pyqtgraph' not in sys.modules\n"
    "print('exit', code)\n"
)


def run_python(code: str, env=None):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def run_volview(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "volview", *args], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip


def test_help_and_version_do_not_import_qt():
    for argv in (["--help"], ["--version"]):
        result = run_python(NO_QT_CHECK.format(argv=argv))
        assert result.returncode == 0, result.stderr
        assert "exit 0" in result.stdout


def test_version_prints_the_version():
    result = run_volview("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("volview ")


def test_argument_errors_exit_2():
    for args in (["--cmap", "rainbow", "x.nii"], ["--voxel", "1", "2"], ["--screenshot", "o.png"],
                 ["--window", "5", "1", "x.nii"], ["--size", "0", "10", "x.nii"]):  # fmt: skip
        result = run_volview(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage:" in result.stderr


def test_screenshot_without_display_picks_offscreen(tmp_path):
    path = tmp_path / "t1 é.nii"
    nib.Nifti1Image(np.ones((8, 9, 10), np.float32), np.eye(4)).to_filename(path)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    out = tmp_path / "out.png"
    result = run_volview(path.as_uri(), "--screenshot", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000


def test_missing_file_exits_1_naming_it(tmp_path):
    result = run_volview(str(tmp_path / "ghost.nii"), "--screenshot", str(tmp_path / "o.png"))
    assert result.returncode == 1
    assert "ghost.nii: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_interactive_without_display_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = run_volview("--demo", env=env)
    assert result.returncode == 1
    assert "no display" in result.stderr
