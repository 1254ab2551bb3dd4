"""Desktop integration: the packaging files, --install-desktop / --uninstall-desktop, and
files handed over by a desktop (``file://`` URIs, spaces, non-ASCII names)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import volview
from volview import desktop
from volview.io.images import IMAGE_SUFFIXES
from volview.io.tractogram import TRACTOGRAM_SUFFIXES
from volview.resources import ICON_SIZES, desktop_file, icon_path
from volview.session import path_from_argument

REPO = Path(__file__).resolve().parents[1]
LINUX = REPO / "packaging" / "linux"
MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
#: suffixes volview opens that the MIME file leaves to the desktop's own types (gzip, TIFF)
NOT_IN_MIME = {".img.gz", ".hdr.gz", ".tif", ".tiff"}
#: MIME types of shared-mime-info that the desktop entry and metainfo list besides ours
SYSTEM_TYPES = ["image/tiff"]


def relative_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def entry_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def mime_types() -> list[ET.Element]:
    return ET.parse(desktop_file(desktop.MIME_NAME)).getroot().findall("m:mime-type", MIME_NS)


def run_volview(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "volview", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_install_writes_exactly_the_expected_files(tmp_path):
    written = desktop.install_desktop(tmp_path, refresh=False)
    files = relative_files(tmp_path)
    expected = {item.target for item in desktop.planned_files()}
    assert set(files) == expected
    assert sorted(written) == sorted(tmp_path / name for name in expected)
    for size in ICON_SIZES:
        png = files[f"icons/hicolor/{size}x{size}/apps/volview.png"]
        assert png == icon_path(size).read_bytes()
    assert files["icons/hicolor/scalable/apps/volview.svg"] == icon_path().read_bytes()
    assert files["mime/packages/volview-mime.xml"] == desktop_file("volview-mime.xml").read_bytes()


def test_installed_entry_runs_the_launcher_on_the_mime_types(tmp_path):
    desktop.install_desktop(tmp_path, refresh=False)
    entry = entry_values((tmp_path / "applications/volview.desktop").read_text("utf-8"))
    command = desktop.launcher_command()
    assert entry["Exec"] == " ".join(command) + " %F"
    assert entry["TryExec"] == command[0]
    listed = [t for t in entry["MimeType"].split(";") if t]
    assert listed == [element.get("type") for element in mime_types()] + SYSTEM_TYPES


def test_install_twice_is_idempotent(tmp_path):
    desktop.install_desktop(tmp_path, refresh=False)
    first = relative_files(tmp_path)
    desktop.install_desktop(tmp_path, refresh=False)
    assert relative_files(tmp_path) == first


def test_uninstall_removes_ours_and_leaves_other_files(tmp_path):
    others = ["applications/other.desktop", "icons/hicolor/48x48/apps/other.png", "notes.txt"]
    for name in others:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    installed = desktop.install_desktop(tmp_path, refresh=False)
    removed = desktop.uninstall_desktop(tmp_path, refresh=False)
    assert sorted(removed) == sorted(installed)
    assert set(relative_files(tmp_path)) == set(others)
    assert desktop.uninstall_desktop(tmp_path, refresh=False) == []


def test_command_line_installs_and_uninstalls(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = run_volview("--install-desktop", env=env)
    assert result.returncode == 0, result.stderr
    assert f"installed {tmp_path / 'applications/volview.desktop'}" in result.stdout
    assert (tmp_path / "metainfo/io.github.volview.volview.metainfo.xml").is_file()
    if shutil.which("update-mime-database"):  # the cache tools ran on our MIME file
        assert (tmp_path / "mime/application/x-nifti.xml").is_file()
    result = run_volview("--uninstall-desktop", env=env)
    assert result.returncode == 0, result.stderr
    assert f"removed {tmp_path / 'applications/volview.desktop'}" in result.stdout
    assert not (tmp_path / "applications/volview.desktop").exists()
    assert not (tmp_path / "mime/application/x-nifti.xml").exists()


def test_without_launcher_or_cache_tools_exec_is_python_dash_m(tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PATH": str(empty)}
    result = run_volview("--install-desktop", env=env)
    assert result.returncode == 0, result.stderr
    assert "ran " not in result.stdout
    entry = entry_values((tmp_path / "data/applications/volview.desktop").read_text("utf-8"))
    assert entry["Exec"] == f"{desktop.quote_exec_argument(sys.executable)} -m volview %F"


def test_unwritable_data_home_is_an_error_naming_the_file(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert desktop.DesktopRequest(install=True, data_home=blocker).run() == 1
    err = capsys.readouterr().err
    assert err.startswith("volview: volview.desktop: could not be written")


def test_desktop_options_take_no_files():
    result = run_volview("--install-desktop", "brain.nii")
    assert result.returncode == 2
    assert "take no files" in result.stderr


def test_exec_arguments_are_quoted_per_the_spec():
    assert desktop.quote_exec_argument("/usr/bin/volview") == "/usr/bin/volview"
    assert desktop.quote_exec_argument("/opt/my apps/py") == '"/opt/my apps/py"'
    assert desktop.quote_exec_argument('/a"b$c') == '"/a\\"b\\$c"'
    assert desktop.quote_exec_argument("/100%/py") == "/100%%/py"


def validator(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        pytest.skip(f"{name} is not installed (Debian package; .ci/run installs it)")
    return tool


def assert_validates(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_desktop_entry_validates():
    assert_validates([validator("desktop-file-validate"), str(LINUX / "volview.desktop")])


def test_installed_desktop_entry_validates(tmp_path):
    tool = validator("desktop-file-validate")
    template = desktop_file("volview.desktop").read_text("utf-8")
    text = desktop.desktop_entry_text(template, ["/opt/my apps/python3", "-m", "volview"])
    (tmp_path / "volview.desktop").write_text(text, encoding="utf-8")
    assert_validates([tool, str(tmp_path / "volview.desktop")])


def test_metainfo_validates():
    metainfo = LINUX / desktop.METAINFO_NAME
    assert_validates([validator("appstreamcli"), "validate", "--no-net", str(metainfo)])


def test_metainfo_names_this_app_and_version():
    root = ET.parse(desktop_file(desktop.METAINFO_NAME)).getroot()
    assert root.findtext("id") == desktop.APP_ID
    assert root.findtext("launchable") == desktop.DESKTOP_NAME
    assert root.find("releases/release").get("version") == volview.__version__
    provided = [m.text for m in root.findall("provides/mediatype")]
    assert provided == [element.get("type") for element in mime_types()] + SYSTEM_TYPES


def test_packaging_folder_holds_the_package_files():
    for name in (desktop.DESKTOP_NAME, desktop.MIME_NAME, desktop.METAINFO_NAME):
        assert (LINUX / name).read_bytes() == desktop_file(name).read_bytes()
    assert (LINUX / "volview.svg").read_bytes() == icon_path().read_bytes()


def test_every_mime_glob_is_a_suffix_volview_opens():
    globs = {g.get("pattern") for t in mime_types() for g in t.findall("m:glob", MIME_NS)}
    assert all(pattern.startswith("*.") for pattern in globs)
    suffixes = {pattern[1:] for pattern in globs}
    opened = set(IMAGE_SUFFIXES) | set(TRACTOGRAM_SUFFIXES)
    assert suffixes <= opened
    assert opened - suffixes == NOT_IN_MIME


def magic_strings(mime_type: str) -> list[tuple[int, bytes]]:
    element = next(t for t in mime_types() if t.get("type") == mime_type)
    matches = element.findall("m:magic/m:match", MIME_NS)
    return [(int(m.get("offset")), m.get("value").replace("\\0", "\0").encode()) for m in matches]


def sample_files(folder: Path) -> dict[str, list[Path]]:
    """Files written by nibabel, one list per MIME type that has magic."""
    data, affine = np.zeros((2, 3, 4), np.int16), np.eye(4)
    nib.Nifti1Image(data, affine).to_filename(folder / "one.nii")
    nib.Nifti2Image(data, affine).to_filename(folder / "two.nii")
    nib.Nifti1Pair(data, affine).to_filename(folder / "pair.img")
    lines = [np.array([[0, 0, 0], [1, 1, 1]], np.float32)]
    for name in ("t.tck", "t.trk"):
        tractogram = nib.streamlines.Tractogram(lines, affine_to_rasmm=np.eye(4))
        nib.streamlines.save(tractogram, folder / name, header={"voxel_to_rasmm": np.eye(4)})
    return {
        "application/x-nifti": [folder / "one.nii", folder / "two.nii"],
        "application/x-analyze": [folder / "pair.hdr"],
        "application/x-tck": [folder / "t.tck"],
        "application/x-trk": [folder / "t.trk"],
    }


def test_mime_magic_matches_real_files(tmp_path):
    for mime_type, paths in sample_files(tmp_path).items():
        magic = magic_strings(mime_type)
        for path in paths:
            head = path.read_bytes()[:400]
            hits = [head[offset : offset + len(value)] == value for offset, value in magic]
            assert any(hits), (mime_type, path.name, magic)


def test_icons_are_square_pngs_of_their_size():
    for size in ICON_SIZES:
        head = icon_path(size).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", head[16:24]) == (size, size)
    assert b"<svg" in icon_path().read_bytes()
    with pytest.raises(ValueError, match="no 20 px icon"):
        icon_path(20)


def test_path_from_argument_decodes_file_uris():
    assert path_from_argument("file:///tmp/my%20scan%C3%A9.nii") == Path("/tmp/my scané.nii")
    assert path_from_argument("file://localhost/tmp/a.nii") == Path("/tmp/a.nii")
    assert path_from_argument("/tmp/my scan é.nii") == Path("/tmp/my scan é.nii")


@pytest.mark.parametrize("as_uri", [True, False], ids=["file-uri", "plain-path"])
def test_desktop_style_arguments_open(tmp_path, as_uri):
    folder = tmp_path / "my scans ü"
    folder.mkdir()
    path = folder / "t1 scané #1.nii"
    nib.Nifti1Image(
        np.arange(8 * 9 * 10, dtype=np.float32).reshape(8, 9, 10), np.eye(4)
    ).to_filename(path)
    argument = path.as_uri() if as_uri else str(path)
    if as_uri:
        assert "%20" in argument and "%C3%A9" in argument
    out = tmp_path / "out.png"
    result = run_volview(argument, "--screenshot", str(out), "--size", "240", "96")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
