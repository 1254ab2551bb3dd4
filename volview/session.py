"""Session: the one path by which files are opened (command line, menu, drag-and-drop).

Owns: ``Session.open_paths(paths) -> list[VolviewError]``. It dispatches each path
to the reader for its type, builds the Volume, computes the initial window from a
small sample and hands the result to the ViewerState. Errors never escape: each
failed path becomes a ``VolviewError`` in the returned list for the caller to show.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from volview.core.state import ViewerState
from volview.core.volume import Volume, auto_window
from volview.errors import ImageReadError, UnsupportedFormatError, VolviewError, describe
from volview.io.images import SUPPORTED_WORDS, is_image_path, open_image
from volview.io.proxy import READ_ERRORS


def path_from_argument(arg: str | os.PathLike) -> Path:
    """A local path from a command-line argument, accepting ``file://`` URIs."""
    text = os.fspath(arg)
    if text.startswith("file://"):
        return Path(unquote(urlparse(text).path))
    return Path(text)


class Session:
    def __init__(self, state: ViewerState) -> None:
        self.state = state

    def open_paths(self, paths: Iterable[str | os.PathLike]) -> list[VolviewError]:
        """Open each path; an image replaces the current one. Returns the errors."""
        errors: list[VolviewError] = []
        for arg in paths:
            try:
                self.open_path(path_from_argument(arg))
            except VolviewError as exc:
                errors.append(exc)
        return errors

    def open_path(self, path: Path) -> Volume:
        if not is_image_path(path) and path.is_file():
            raise UnsupportedFormatError(
                describe(path, f"not a supported file type; volview opens {SUPPORTED_WORDS}")
            )
        image = open_image(path)
        try:
            volume = Volume.from_image(image, radiological=self.state.radiological)
            window = auto_window(volume)
        except VolviewError:
            image.close()
            raise
        except READ_ERRORS as exc:
            image.close()
            raise ImageReadError(describe(path, f"could not read the voxel data ({exc})")) from exc
        self.state.set_volume(volume, window)
        return volume


@dataclass(frozen=True)
class LaunchOptions:
    """What to open and how to show it first (from the command line or a script)."""

    paths: tuple[str, ...] = ()
    voxel: tuple[int, int, int] | None = None
    world: tuple[float, float, float] | None = None
    window: tuple[float, float] | None = None
    cmap: str | None = None
    layout: str = "ortho"
    size: tuple[int, int] = (1200, 420)
    screenshot: Path | None = None

    def apply_view_options(self, state: ViewerState) -> None:
        """Initial cursor, window and colormap; call after the image is open."""
        if self.cmap is not None:
            state.set_colormap(self.cmap)
        if self.window is not None:
            state.set_window(*self.window)
        if self.voxel is not None:
            state.set_cursor(self.voxel)
        elif self.world is not None:
            state.set_cursor_world(self.world)
