"""Command line: ``volview [FILES] [--screenshot OUT.png] [options]``.

Owns: argument parsing and validation into ``LaunchOptions``; ``volview header ...``
is handed to ``volview.header_cli``; ``--install-desktop``/``--uninstall-desktop``
to ``volview.desktop`` (no Qt). ``--help`` and
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
        description="View NIfTI, Analyze, MGH, TIFF and raw images as three linked slices, "
        "with TRX/TCK/TRK streamlines over them. Files are opened, not loaded: only what "
        "is on screen is read.",
        epilog="Print or edit a header from scripts: "
        "volview header FILE [--json] [--set FIELD=VALUE ...] (see volview header --help).",
    )
    parser.add_argument(
        "files",
        nargs="*",
        help="images (.nii, .nii.gz, .hdr/.img, .mgh/.mgz, .tif), tractograms (.trx, .tck, "
        ".trk) or file:// URIs; the first image is the base, later ones overlays",
    )
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
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop",
        action="store_true",
        help="add volview to this user's desktop menu and 'Open with' ($XDG_DATA_HOME) and exit",
    )
    desktop.add_argument(
        "--uninstall-desktop", action="store_true", help="remove what --install-desktop added"
    )
    add_raw_arguments(parser)
    return parser


def add_raw_arguments(parser: argparse.ArgumentParser) -> None:
    """``--raw-shape`` and its companions: open every file as a headerless raw volume."""
    raw = parser.add_argument_group(
        "raw volumes", "with --raw-shape, every file is read as headerless voxel data"
    )
    raw.add_argument("--raw-shape", type=int, nargs="+", metavar="N", help="NI NJ NK [NT]")
    raw.add_argument(
        "--raw-dtype", default="float32", help="uint8 int16 uint16 int32 float32 float64 ..."
    )
    raw.add_argument(
        "--raw-byte-order", choices=("little", "big"), default="little", help="default little"
    )
    raw.add_argument("--raw-offset", type=int, default=0, metavar="BYTES", help="header bytes")
    raw.add_argument(
        "--raw-order", choices=("F", "C"), default="F", help="F: first axis fastest (NIfTI)"
    )
    raw.add_argument(
        "--raw-voxel-size",
        type=float,
        nargs=3,
        default=(1.0, 1.0, 1.0),
        metavar=("X", "Y", "Z"),
        help="voxel size in mm (default 1 1 1)",
    )


def raw_spec(parser: argparse.ArgumentParser, args):
    """The RawSpec the ``--raw-*`` options describe (None without --raw-shape)."""
    given = [f for f in ("dtype", "byte_order", "offset", "order", "voxel_size")
             if getattr(args, f"raw_{f}") != parser.get_default(f"raw_{f}")]  # fmt: skip
    if args.raw_shape is None:
        if given:
            parser.error("--raw-dtype, --raw-offset, ... need --raw-shape NI NJ NK [NT]")
        return None
    from volview.io.raw import RawSpec, RawSpecError

    try:
        return RawSpec(
            tuple(args.raw_shape),
            args.raw_dtype,
            args.raw_byte_order,
            args.raw_offset,
            args.raw_order,
            tuple(args.raw_voxel_size),
        )
    except RawSpecError as exc:
        parser.error(f"raw geometry: {exc}")


def parse_args(argv: list[str] | None = None):
    """Parse and validate; argparse exits with code 2 on any error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.install_desktop or args.uninstall_desktop:
        if args.files or args.demo or args.screenshot is not None:
            parser.error("--install-desktop/--uninstall-desktop take no files")
        from volview.desktop import DesktopRequest

        return DesktopRequest(install=args.install_desktop)
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
        raw=raw_spec(parser, args),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["header"]:
        from volview import header_cli

        return header_cli.main(argv[1:])
    options = parse_args(argv)
    from volview.desktop import DesktopRequest  # small, Qt-free

    if isinstance(options, DesktopRequest):
        return options.run()
    from volview import app

    return app.run(options)


if __name__ == "__main__":
    sys.exit(main())
