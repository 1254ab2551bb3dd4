#!/usr/bin/env bash
# Build the standalone one-folder app with PyInstaller and smoke-test the built binary.
#
#   bash packaging/build_bundle.sh [DIST_DIR]      (default: dist/ at the repository root)
#
# Installs PyInstaller (>= 6) into the current Python, builds from
# packaging/pyinstaller/volview.spec (intermediate files in a temporary folder), then
# renders the demo headless with the built binary and checks the PNG. Exits non-zero
# if the build or the smoke test fails. Takes a few minutes; not part of default CI.
set -euo pipefail
cd "$(dirname "$0")/.."

dist="$(realpath -m "${1:-dist}")"
work="$(mktemp -d -t volview-bundle-XXXXXX)"
trap 'rm -rf "$work"' EXIT
smoke_png=/tmp/bundle-smoke.png

python -m pip install -q 'pyinstaller>=6'
python -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath "$work/build" --distpath "$dist" packaging/pyinstaller/volview.spec

exe="$dist/volview/volview"
[ -x "$exe" ] || exe="$dist/volview/volview.exe"
if [ ! -x "$exe" ]; then
    echo "build_bundle: no executable in $dist/volview" >&2
    exit 1
fi
echo "built $exe ($(du -sh "$dist/volview" | cut -f1))"

rm -f "$smoke_png"
"$exe" --version
QT_QPA_PLATFORM=offscreen "$exe" --demo --screenshot "$smoke_png"
python - "$smoke_png" <<'PY'
import struct
import sys

path = sys.argv[1]
try:
    data = open(path, "rb").read()
except OSError as exc:
    sys.exit(f"build_bundle: the smoke test wrote no screenshot: {exc}")
if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 20_000:
    sys.exit(f"build_bundle: {path} is not a plausible screenshot ({len(data)} bytes)")
width, height = struct.unpack(">II", data[16:24])
print(f"smoke test ok: {path} {width}x{height}, {len(data)} bytes")
PY
