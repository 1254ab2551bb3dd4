"""PyInstaller entry point of the standalone app: the same ``main()`` as ``volview``."""

import sys

from volview.cli import main

if __name__ == "__main__":
    sys.exit(main())
