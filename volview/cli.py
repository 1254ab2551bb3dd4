"""Command line: ``volview [FILES] [--screenshot OUT.png] [options]``.

Owns: argument parsing and validation into ``LaunchOptions``; ``volview header ...``
is handed to ``volview.header_cli``. ``--help`` and
``--version`` never import Qt: ``volview.app`` is imported only once the
arguments are known to be good. Exit codes: 0 ok, 1 a file could not be opened
or rendered, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from volview import __version__
from volview.core.colormap_names import COLORMAPS

LAYOUT_CHOICES = ("ortho", "grid", "axial", "coronal", "sagittal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="volview",
        description="View NIfTI, Analyze and MGH images as three linked slices. "
        "Files are memory-mapped: only what is on screen is read.",
        epilog="Print or edit a header from scripts: "
        "volview header FILE [--json] [--set FIELD=VALUE ...] (see volview header --help).",
    )
    parser.add_argument("files", nargs="*", help="image files (.nii, .nii.gz, .hdr/.img, .mgz)")
    parser.add_argument("--version", action="version", version=f"volview {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the bundled MNI152 T1 image with a small demo tractogram",
    )
    parser.add_argument(
        "--screenshot", type=Path, metavar="OUT.png", help="render the views to a PNG and exit"
    )
    cursor = parser.add_mutually_exclusive_group()
    cursor.add_argument("--voxel", type=int, nargs=3, metavar=("I", "J", "K"), help="cursor voxel")
    cursor.add_argument(
        "--world", type=float, nargs=3, metavar=("X", "Y", "Z"), help="cursor position in mm"
    )
    parser.add_argument("--window", type=float, nargs=2, metavar=("LO", "HI"), help="display range")
    parser.add_argument("--cmap", choices=COLORMAPS, help="colormap (default gray)")
    parser.add_argument("--layout", choices=LAYOUT_CHOICES, default="ortho", help="views shown")
    parser.add_argument(
        "--size", type=int, nargs=2, metavar=("W", "H"), default=(1200, 420), help="view pixels"
    )
    return parser


def parse_args(argv: list[str] | None = None):
    """Parse and validate; argparse exits with code 2 on any error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from volview.session import LaunchOptions  # after --help/--version have exited

    paths = list(args.files)
    if args.demo:
        from volview.resources import demo_image, demo_tracts

        paths[:0] = [str(demo_image()), str(demo_tracts())]
    if args.screenshot is not None and not paths:
        parser.error("--screenshot needs an image file (or --demo)")
    if any(n < 16 or n > 16384 for n in args.size):
        parser.error("--size W H must be between 16 and 16384 pixels")
    if args.window is not None and not args.window[0] < args.window[1]:
        parser.error("--window LO HI needs LO < HI")
    return LaunchOptions(
        paths=tuple(paths),
        voxel=tuple(args.voxel) if args.voxel else None,
        world=tuple(args.world) if args.world else None,
        window=tuple(args.window) if args.window else None,
        cmap=args.cmap,
        layout=args.layout,
        size=tuple(args.size),
        screenshot=args.screenshot,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["header"]:
        from volview import header_cli

        return header_cli.main(argv[1:])
    options = parse_args(argv)
    from volview import app

    return app.run(options)


if __name__ == "__main__":
    sys.exit(main())
