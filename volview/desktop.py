"""Per-user Linux desktop integration: ``volview --install-desktop`` / ``--uninstall-desktop``.

Owns: where the desktop entry, the MIME types, the AppStream metainfo and the icons go
under ``$XDG_DATA_HOME`` (default ``~/.local/share``), the ``Exec`` line of the
installed entry, and refreshing the desktop's caches with ``update-mime-database``,
``update-desktop-database`` and ``gtk-update-icon-cache`` when they exist. The
canonical files are package data in ``volview/resources/desktop`` and
``volview/resources/icons`` (``packaging/linux`` links to them). No Qt, no pixels.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from volview.errors import VolviewError, describe
from volview.resources import ICON_SIZES, desktop_file, icon_path

APP_ID = "io.github.volview.volview"
DESKTOP_NAME = "volview.desktop"
MIME_NAME = "volview-mime.xml"
METAINFO_NAME = f"{APP_ID}.metainfo.xml"
ICON_NAME = "volview"
#: characters that force an Exec argument into double quotes (desktop entry spec)
EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopInstallError(VolviewError):
    """Writing or removing a desktop-integration file failed."""


@dataclass(frozen=True)
class DesktopFile:
    """One installed file: where it comes from and where it goes, relative to data home."""

    source: Path
    target: str


def default_data_home() -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path, else ``~/.local/share`` (XDG spec)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def planned_files() -> list[DesktopFile]:
    """Every file ``install_desktop`` writes, relative to the data home."""
    files = [
        DesktopFile(desktop_file(DESKTOP_NAME), f"applications/{DESKTOP_NAME}"),
        DesktopFile(desktop_file(MIME_NAME), f"mime/packages/{MIME_NAME}"),
        DesktopFile(desktop_file(METAINFO_NAME), f"metainfo/{METAINFO_NAME}"),
        DesktopFile(icon_path(), f"icons/hicolor/scalable/apps/{ICON_NAME}.svg"),
    ]
    for size in ICON_SIZES:
        target = f"icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png"
        files.append(DesktopFile(icon_path(size), target))
    return files


def quote_exec_argument(arg: str) -> str:
    """Quote one argument of a desktop entry's Exec key (desktop entry spec, "Exec")."""
    if arg and not EXEC_RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return '"' + escaped.replace("%", "%%") + '"'


def launcher_command() -> list[str]:
    """The command that starts volview: the launcher on PATH, else this Python's -m.

    In a PyInstaller bundle (``sys.frozen``) the executable itself is volview.
    """
    if getattr(sys, "frozen", False):
        return [sys.executable]
    launcher = shutil.which("volview")
    if launcher:
        return [os.path.abspath(launcher)]
    return [sys.executable, "-m", "volview"]


def desktop_entry_text(template: str, command: list[str]) -> str:
    """The entry ``template`` with its Exec (and TryExec) pointing at ``command``."""
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(quote_exec_argument(a) for a in command) + " %F"
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0]
        lines.append(line)
    return "\n".join(lines) + "\n"


def file_content(item: DesktopFile, command: list[str]) -> bytes:
    if item.target.endswith(".desktop"):
        template = item.source.read_text(encoding="utf-8")
        return desktop_entry_text(template, command).encode("utf-8")
    return item.source.read_bytes()


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as exc:
        raise DesktopInstallError(describe(path, f"could not be written: {exc.strerror}")) from exc


def install_desktop(data_home: Path | None = None, refresh: bool = True) -> list[Path]:
    """Install the desktop entry, MIME types, metainfo and icons; returns the paths written.

    Installing again overwrites the same files (idempotent). ``refresh`` runs the
    cache tools that exist (see ``refresh_caches``).
    """
    home = Path(data_home) if data_home is not None else default_data_home()
    command = launcher_command()
    written = []
    for item in planned_files():
        target = home / item.target
        write_atomically(target, file_content(item, command))
        written.append(target)
    if refresh:
        refresh_caches(home)
    return written


def uninstall_desktop(data_home: Path | None = None, refresh: bool = True) -> list[Path]:
    """Remove the files ``install_desktop`` writes (others are left alone); returns them."""
    home = Path(data_home) if data_home is not None else default_data_home()
    removed = []
    for item in planned_files():
        target = home / item.target
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopInstallError(
                describe(target, f"could not be removed: {exc.strerror}")
            ) from exc
        removed.append(target)
    if refresh:
        refresh_caches(home)
    return removed


def cache_commands(home: Path) -> list[list[str]]:
    """The cache-refresh commands for ``home`` whose tools are on PATH."""
    wanted = [
        ["update-mime-database", str(home / "mime")],
        ["update-desktop-database", "-q", str(home / "applications")],
        ["gtk-update-icon-cache", "-q", "-f", "-t", str(home / "icons" / "hicolor")],
    ]
    return [cmd for cmd in wanted if shutil.which(cmd[0]) and Path(cmd[-1]).is_dir()]


def refresh_caches(home: Path) -> list[str]:
    """Run the cache tools that exist; never fails. Returns the commands that succeeded."""
    done = []
    for cmd in cache_commands(home):
        try:
            result = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if result.returncode == 0:
            done.append(shlex.join(cmd))
    return done


@dataclass(frozen=True)
class DesktopRequest:
    """``volview --install-desktop`` (``install``) or ``--uninstall-desktop`` (not)."""

    install: bool
    data_home: Path | None = None

    def run(self) -> int:
        """Do it, print each file and cache command; exit code 0, or 1 with a message."""
        home = self.data_home or default_data_home()
        try:
            if self.install:
                paths = install_desktop(home, refresh=False)
            else:
                paths = uninstall_desktop(home, refresh=False)
        except VolviewError as exc:
            print(f"volview: {exc}", file=sys.stderr)
            return 1
        verb = "installed" if self.install else "removed"
        for path in paths:
            print(f"{verb} {path}")
        if not paths:
            print(f"volview: nothing to remove under {home}")
        for command in refresh_caches(home):
            print(f"ran {command}")
        return 0
