"""Session: the one path by which files are opened (command line, menu, drag-and-drop).

Owns: ``Session.open_paths(paths) -> list[VolviewError]``. It dispatches each path
to the reader for its type, builds the Volume, computes the initial window from a
small sample and hands the result to the ViewerState (the GUI does not wait for
the sample of an image read from a stream: ``settle_window`` sets the window once
it has been read); a tractogram becomes a TractLayer whose spatial index is built
in the image's voxel grid (``build_index``, which the GUI runs in the background).
Errors never escape: each failed path becomes a ``VolviewError`` in the returned
list for the caller to show.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from psygnal import Signal

from volview.core.layers import ImageLayer
from volview.core.state import ViewerState
from volview.core.streamline_index import StreamlineIndex
from volview.core.tracts import TractLayer, grid_image, grid_note
from volview.core.volume import Volume, auto_window, auto_window_if_ready
from volview.errors import ImageReadError, UnsupportedFormatError, VolviewError, describe
from volview.io.header_file import read_header
from volview.io.images import SUPPORTED_WORDS, ImageFile, is_image_path, open_image
from volview.io.plane_cache import DEFAULT_BUDGET_MB, MB, with_plane_cache
from volview.io.proxy import READ_ERRORS
from volview.io.raw import RawSpec, open_raw
from volview.io.tractogram import Tractogram, is_tractogram_path, open_tractogram

OPEN_WORDS = f"{SUPPORTED_WORDS}, and tractograms (.trx, .tck, .trk)"
DEFAULT_BUDGET = DEFAULT_BUDGET_MB * MB
#: the window of an image whose sample is still being read (nothing is drawn yet)
PROVISIONAL_WINDOW = (0.0, 1.0)


def path_from_argument(arg: str | os.PathLike) -> Path:
    """A local path from a command-line argument, accepting ``file://`` URIs."""
    text = os.fspath(arg)
    if text.startswith("file://"):
        return Path(unquote(urlparse(text).path))
    return Path(text)


class Session:
    #: a file was opened and is now shown (its Volume, as read from disk)
    opened = Signal(object)

    def __init__(self, state: ViewerState, cache_budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.state = state
        #: byte budget of each opened image's plane cache (0: no cache); the GUI
        #: sets it from the "cache/budget_mb" setting
        self.cache_budget_bytes = cache_budget_bytes
        #: build tractogram indexes inside open_paths (scripts, --screenshot); the GUI
        #: turns this off and builds them in the background instead
        self.index_in_foreground = True
        #: opens an image file for ``open_path``; the GUI's gzip controller replaces
        #: it to read a ``.nii.gz`` from its decompressed copy when one is cached
        self.image_opener: Callable[[Path], ImageFile] = open_image
        #: read the sample behind the initial window inside ``show_image`` (scripts,
        #: --screenshot); the GUI turns this off: an image read from a stream then
        #: shows at once, and ``settle_window`` sets its window once the sample is read
        self.window_in_foreground = True
        #: the window shown while the sample is read (None: no window is pending)
        self.provisional_window: tuple[float, float] | None = None

    def open_paths(
        self,
        paths: Iterable[str | os.PathLike],
        as_overlays: bool = False,
        raw: RawSpec | None = None,
    ) -> list[VolviewError]:
        """Open each path; returns the errors.

        The first image replaces the current one and the next ones are drawn over it
        as overlays (``as_overlays``: all of them, if an image is already shown).
        Tractograms are added over the image. With ``raw`` every other file is read
        as a headerless raw volume of that geometry.
        """
        errors: list[VolviewError] = []
        base_done = False
        for arg in paths:
            path = path_from_argument(arg)
            try:
                overlay = (as_overlays or base_done) and self.state.volume is not None
                if is_tractogram_path(path) or not overlay:
                    base_done |= isinstance(self.open_path(path, raw), Volume)
                else:
                    self.add_overlay(path, raw)
            except VolviewError as exc:
                errors.append(exc)
        if self.index_in_foreground:
            self.build_indexes()
        return errors

    def open_path(self, path: Path, raw: RawSpec | None = None) -> Volume | TractLayer:
        """Open one file: an image replaces the current one, a tractogram is added.

        With ``raw``, a file that is not a tractogram is read as a raw volume.
        """
        if is_tractogram_path(path):
            return self.add_tractogram(open_tractogram(path))
        if raw is not None:
            return self.open_raw(path, raw)
        if not is_image_path(path) and path.is_file():
            raise UnsupportedFormatError(
                describe(path, f"not a supported file type; volview opens {OPEN_WORDS}")
            )
        return self.show_image(self.image_opener(path))

    def open_raw(self, path: str | os.PathLike, spec: RawSpec) -> Volume:
        """Show the headerless file at ``path`` read as ``spec`` says, like any image."""
        return self.show_image(open_raw(path_from_argument(path), spec))

    def show_image(self, image: ImageFile) -> Volume:
        """Show an opened image (from a file or from memory) in place of the current one.

        Reads a small sample for the initial window; on failure the image is closed
        and a ``VolviewError`` raised.
        """
        first_read = auto_window if self.window_in_foreground else auto_window_if_ready
        volume, window = self._read_start(image, first_read)
        self.provisional_window = PROVISIONAL_WINDOW if window is None else None
        self.state.set_volume(
            volume, window or PROVISIONAL_WINDOW, window_settled=window is not None
        )
        self.opened.emit(volume)
        return volume

    def settle_window(self) -> bool:
        """Set the automatic window of the shown volume if it was opened before its
        sample was read and the sample is now at hand (a window the user chose in the
        meantime stays). True when no window is pending any more; a failed read ends
        the wait too (the views report it)."""
        volume, provisional = self.state.volume, self.provisional_window
        if provisional is None or volume is None:
            return True
        try:
            window = auto_window_if_ready(volume)
        except (VolviewError, *READ_ERRORS):
            window = provisional
        if window is None:
            return False
        self.provisional_window = None
        if not self.state.window_settled:  # else the user chose one meanwhile
            self.state.set_window(*window)
        return True

    def _read_start(self, image: ImageFile, first_read, cached: bool = True):
        """``(volume, first_read(volume))`` for an opened image: the first read of its
        voxels (a small sample). On failure the image is closed and a VolviewError
        names the file. ``cached``: read through the plane cache, whose budget is for
        the base image (overlays read one plane-sized block each and go uncached, so
        that the budget bounds the memory of all the images shown)."""
        if cached:
            image = with_plane_cache(image, self.cache_budget_bytes)
        try:
            volume = Volume.from_image(image, radiological=self.state.radiological)
            return volume, first_read(volume)
        except VolviewError:
            image.close()
            raise
        except READ_ERRORS as exc:
            image.close()
            problem = f"could not read the voxel data ({exc})"
            raise ImageReadError(describe(image.path, problem)) from exc

    def swap_image(self, image: ImageFile) -> Volume:
        """Show ``image``, the same voxels as the current image read another way (e.g.
        from a decompressed copy): cursor, volume index and window stay; the
        current image is closed."""
        old = self.state.volume
        volume, _ = self._read_start(image, lambda volume: None)
        for name in ("intensity_sample", "seen"):  # same voxels: keep what was read
            if old is not None and name in old.__dict__:
                volume.__dict__[name] = old.__dict__[name]
        self.state.replace_volume(volume)
        if old is not None:
            old.image.close()
        return volume

    # -- tractograms ------------------------------------------------------------------
    def add_tractogram(self, tractogram: Tractogram) -> TractLayer:
        """Show ``tractogram`` over the image (or over its own grid if there is none).

        The layer draws nothing until its index is built (``build_index``).
        """
        if self.state.volume is None:
            image = grid_image(tractogram)
            volume = Volume.from_image(image, radiological=self.state.radiological)
            self.state.set_volume(volume, (0.0, 1.0))
            self.opened.emit(volume)
        layer = TractLayer(tractogram)
        self.state.add_tracts(layer)
        return layer

    def index_grid(self) -> tuple[bytes, tuple[int, int, int]] | None:
        """What an index must match to be drawn over the current image."""
        volume = self.state.volume
        return None if volume is None else grid_of(volume)

    @staticmethod
    def build_index(layer: TractLayer, volume: Volume, wanted, progress=None, cancelled=None):
        """Index streamlines ``wanted`` (``layer.index_wanted()``) of ``layer`` in
        ``volume``'s voxel grid (slow: run it in the background).

        Touches no state, so it may run on a worker thread. Returns ``(index,
        grid_note, grid)``; hand them to ``layer.set_index`` on the state's thread
        if ``grid`` still equals ``index_grid()``.
        """
        tractogram = layer.tractogram
        affine, shape = volume.image.affine, volume.shape
        index = StreamlineIndex.build(
            tractogram.positions,
            tractogram.offsets,
            affine,
            shape,
            streamlines=wanted,
            progress=progress,
            cancelled=cancelled,
        )
        layer.warm(index)
        release_freed_memory()  # the build's temporaries, kept by the C allocator otherwise
        return index, grid_note(tractogram, affine, shape), grid_of(volume)

    def build_indexes(self) -> None:
        """Index, in the foreground, every layer whose index does not match the image."""
        grid = self.index_grid()
        if grid is None:
            return
        for layer in self.state.tracts:
            if layer.needs_index(grid):
                wanted = layer.index_wanted()
                layer.set_index(*self.build_index(layer, self.state.volume, wanted))

    # -- image layers ---------------------------------------------------------------
    def add_overlay(self, path: Path, raw: RawSpec | None = None) -> ImageLayer:
        """Draw the image at ``path`` (a raw volume if ``raw`` is given) over the
        current one, in the current one's grid."""
        if raw is None and not is_image_path(path) and path.is_file():
            raise UnsupportedFormatError(
                describe(path, f"not a supported image type; volview opens {SUPPORTED_WORDS}")
            )
        image = open_image(path) if raw is None else open_raw(path, raw)
        _, layer = self._read_start(
            image, lambda volume: ImageLayer.open(volume, intent_code(path)), cached=False
        )
        self.state.add_overlay(layer)
        return layer


def intent_code(path: Path) -> int:
    """The NIfTI intent code of ``path`` (0 when it has none or is not NIfTI)."""
    try:
        return int(read_header(path).raw.value("intent_code"))
    except VolviewError:  # not NIfTI: MGH, or an Analyze header without intent_code
        return 0


def release_freed_memory() -> None:
    """Give memory freed by large temporary arrays back to the system (glibc only)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def grid_of(volume: Volume) -> tuple[bytes, tuple[int, int, int]]:
    """The voxel grid (affine and shape) a streamline index is built in."""
    return volume.image.affine.tobytes(), volume.shape


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
    #: read every file as a headerless raw volume of this geometry (``--raw-shape``)
    raw: RawSpec | None = None

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
