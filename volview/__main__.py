"""``python -m volview``: the same entry point as the ``volview`` command."""

import sys

from volview.cli import main

sys.exit(main())
