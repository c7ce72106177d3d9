"""Wall time of quality_report on generated data (20 numeric + 5 categorical, seeded).

Run: .venv/bin/python bench/quality_1m.py [ROWS]   (default 1,000,000 a side)
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from leanloop.measure.quality import quality_report


def frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"n{i}": rng.normal(shift if i < 5 else 0.0, 1.0, rows) for i in range(20)}
    cats = np.array(["a", "b", "c", "d", "e", "f"])
    for i in range(5):
        p = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.1]) if i or not shift else np.array([0.1, 0.1, 0.1, 0.2, 0.2, 0.3])
        data[f"c{i}"] = cats[rng.choice(6, size=rows, p=p)]
    return pd.DataFrame(data)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    reference, current = frame(rows, 0, 0.0), frame(rows, 1, 0.5)
    start = time.perf_counter()
    report = quality_report(reference, current)
    elapsed = time.perf_counter() - start
    print(f"| quality_report | {rows:,} + {rows:,} rows, 25 features | {elapsed:.2f} s | "
          f"{len(report.results)} checks, {len(report.flagged_features)} flagged |")


if __name__ == "__main__":
    main()
