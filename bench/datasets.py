"""``python -m bench.datasets [sqlite|postgres]``: create the benchmark data sets ahead of time."""

from __future__ import annotations

import sys

from bench.common import DataSet, prepare

FULL = DataSet(skus=5000, locations=200)

if __name__ == "__main__":
    for backend in sys.argv[1:] or ["sqlite", "postgres"]:
        prepare(backend, FULL, print)
