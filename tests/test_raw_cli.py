"""``--raw-shape`` and friends in a fresh process: render a raw file, refuse bad geometry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from volview.cli import parse_args
from volview.io.raw import RawSpec


def run_volview(*args):
    return subprocess.run(
        [sys.executable, "-m", "volview", *map(str, args)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def raw_file(tmp_path):
    data = np.arange(20 * 16 * 12, dtype=np.int16).reshape(20, 16, 12)
    path = tmp_path / "scan.raw"
    path.write_bytes(bytes(64) + data.tobytes(order="C"))
    return path


def test_options_make_a_spec(raw_file):
    options = parse_args(
        [str(raw_file), "--raw-shape", "20", "16", "12", "--raw-dtype", "int16",
         "--raw-offset", "64", "--raw-order", "C", "--raw-byte-order", "big",
         "--raw-voxel-size", "0.5", "1", "2"]
    )  # fmt: skip
    assert options.raw == RawSpec((20, 16, 12), "int16", "big", 64, "C", (0.5, 1.0, 2.0))
    assert parse_args([str(raw_file)]).raw is None


def test_raw_file_renders_a_screenshot(raw_file, tmp_path):
    out = tmp_path / "out.png"
    result = run_volview(
        raw_file, "--raw-shape", 20, 16, 12, "--raw-dtype", "int16", "--raw-offset", 64,
        "--raw-order", "C", "--screenshot", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


def test_wrong_shape_for_the_file_size_fails_with_the_message(raw_file, tmp_path):
    out = tmp_path / "out.png"
    result = run_volview(
        raw_file, "--raw-shape", 20, 16, 13, "--raw-dtype", "int16", "--screenshot", out
    )
    assert result.returncode == 1
    assert "scan.raw: the file has 7,744 bytes" in result.stderr
    assert "need 8,320 bytes" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--raw-shape", "20", "16"], "3 or 4 sizes"),
        (["--raw-shape", "20", "16", "12", "--raw-dtype", "complex64"], "data type must be"),
        (["--raw-shape", "20", "16", "12", "--raw-offset", "-4"], "0 or more bytes"),
        (["--raw-shape", "20", "16", "12", "--raw-voxel-size", "1", "0", "1"], "positive"),
        (["--raw-shape", "20", "16", "12", "--raw-order", "X"], "invalid choice"),
        (["--raw-dtype", "int16"], "need --raw-shape"),
    ],
)
def test_bad_raw_options_exit_2(raw_file, capsys, args, words):
    with pytest.raises(SystemExit) as exited:
        parse_args([str(raw_file), *args])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err
