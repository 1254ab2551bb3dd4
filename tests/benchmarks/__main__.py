"""``python -m tests.benchmarks``: run the performance benchmarks (see run.py)."""

import sys

from tests.benchmarks.run import main

sys.exit(main())
