"""``volview header``: print, --json, --set with validation and safe saving, backups."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from volview.cli import main
from volview.io.header_file import read_header
from volview.io.header_save import find_backup, save_in_place


@pytest.fixture
def image(tmp_path):
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.diag([2, 2, 2, 1]))
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "t1.nii"
    img.to_filename(path)
    return path


def test_prints_every_field(image, capsys):
    assert main(["header", str(image)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("NIfTI-1 header, little-endian")
    for key in ("sizeof_hdr", "pixdim[1]", "scl_slope", "srow_x[0]", "magic"):
        assert f"\n{key} " in out
    assert "voxel sizes: 2 \u00d7 2 \u00d7 2 mm" in out


def test_json_is_machine_readable(image, capsys):
    assert main(["header", str(image), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "NIfTI-1"
    assert document["fields"]["dim[3]"] == 4
    assert document["fields"]["pixdim[1]"] == 2.0
    assert document["derived"]["sform_orientation"] == "RAS"
    assert np.allclose(document["derived"]["affine"], np.diag([2, 2, 2, 1]))


def test_set_saves_validated_edits(image, capsys):
    size = image.stat().st_size
    code = main(
        [
            "header",
            str(image),
            "--set",
            "descrip=fixed",
            "--set",
            "pixdim[3]=2.5",
            "--set",
            "sform=1,0,0,10,0,1,0,20,0,0,1,30",
        ]
    )
    assert code == 0
    assert "saved" in capsys.readouterr().out
    header = nib.load(image).header
    assert header["descrip"].item() == b"fixed"
    assert header["pixdim"][3] == pytest.approx(2.5)
    np.testing.assert_allclose(header.get_sform()[:3, 3], (10, 20, 30))
    assert image.stat().st_size == size


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("pixdim[1]=abc", "pixdim[1]"),
        ("qform_code=9", "qform_code"),
        ("dim[1]=5", "dim[1]"),
        ("descrip=" + "x" * 100, "descrip"),
        ("nonsense=1", "nonsense"),
        ("descrip", "FIELD=VALUE"),
        ("sform=1,2,3", "12 or 16 numbers"),
    ],
)
def test_invalid_edit_exits_1_and_leaves_the_file(image, capsys, edit, words):
    before = image.read_bytes()
    assert main(["header", str(image), "--set", "descrip=ok", "--set", edit]) == 1
    assert words in capsys.readouterr().err
    assert image.read_bytes() == before


def test_unreadable_file_exits_1(tmp_path, capsys):
    assert main(["header", str(tmp_path / "missing.nii")]) == 1
    assert "missing.nii" in capsys.readouterr().err


def test_backup_is_reported_and_restorable(image, capsys):
    before = image.read_bytes()
    hf = read_header(image)

    def crash(step: str) -> None:
        if step != "backup":
            raise RuntimeError(step)

    with pytest.raises(RuntimeError):
        save_in_place(hf, hf.raw.with_value("descrip", "new"), checkpoint=crash)
    assert main(["header", str(image)]) == 0
    assert "--restore-backup" in capsys.readouterr().err
    assert main(["header", str(image), "--restore-backup"]) == 0
    assert image.read_bytes() == before
    assert find_backup(image) is None


def test_console_script_runs_without_qt(image):
    code = (
        "import sys; from volview.cli import main; rc = main(['header', sys.argv[1]]); "
        "assert 'PyQt5' not in sys.modules; sys.exit(rc)"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run(
        [sys.executable, "-c", code, str(image)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
