"""Performance budgets of DESIGN.md, measured (not asserted).

Run from the repository root::

    python -m tests.benchmarks            # everything, about 3-4 minutes
    python -m tests.benchmarks --quick    # fewer repetitions
    python -m tests.benchmarks --only cursor --only import

Each budget prints one line with its median (and p95 when there are many samples),
the budget and ``OK`` or ``MISSED``; context figures print ``info``. Figures that
shared/reference/peers-results.md measured for the same workload (mrview, nibabel's
OrthoSlicer3D, raw ``np.memmap``) are printed under ours. The command always exits 0:
it reports, it does not assert. Nothing here is collected by pytest (no ``test_``
files, and pyproject's addopts ignore ``tests/benchmarks``).
"""
