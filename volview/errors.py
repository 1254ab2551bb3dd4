"""The one exception family of volview.

Owns: ``VolviewError`` and its subclasses. Every message names the file and says
what is wrong in words a user understands; the GUI shows ``str(error)`` in a
dialog, the command line prints it and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path


class VolviewError(Exception):
    """Base class of every error volview reports to a user."""


class FileAccessError(VolviewError):
    """The path is missing, a folder, empty or not readable."""


class UnsupportedFormatError(VolviewError):
    """The file is not in a format volview can read."""


class CorruptFileError(VolviewError):
    """The file claims a known format but its header or size is impossible."""


class ImageReadError(VolviewError):
    """Reading voxel data from an opened image failed (e.g. truncated gzip)."""


class OpenCancelled(VolviewError):  # noqa: N818 - reads as what happened
    """The user cancelled a long open (decompression, parsing); nothing was left behind."""


class HeaderValueError(VolviewError):
    """An edit of one header field was refused: ``str(err) == f"{key}: {message}"``.

    It names the field, not the file: the edit has not touched any file yet.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class HeaderSaveError(VolviewError):
    """Writing a header (in place or by rewriting the file) failed or was refused."""


class SaveCancelled(VolviewError):  # noqa: N818 (the name says what happened)
    """The user cancelled a save; the original file is untouched."""


def describe(path: str | Path, problem: str) -> str:
    """Format a message as ``"<file name>: <problem>"`` with the full path in brackets."""
    path = Path(path)
    return f"{path.name}: {problem} ({path})"
