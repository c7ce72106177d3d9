"""The floor: read both Parquet files and compare per-column histograms, nothing more.

Numeric: 10 bins at the reference deciles (open-ended at both sides); categorical:
value counts. Drift when PSI > 0.2. Usage: drift_floor.py MANIFEST.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

EPS = 1e-6


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    p = np.maximum(expected / expected.sum(), EPS)
    q = np.maximum(actual / actual.sum(), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def counts(column: object) -> dict[str, int]:
    return {str(item["values"]): int(item["counts"]) for item in pc.value_counts(column).to_pylist()}


def main(manifest_path: str) -> None:
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    reference, current = pq.read_table(manifest["reference"]), pq.read_table(manifest["current"])
    read_s = time.perf_counter() - started
    scores: dict[str, float] = {}
    for name in manifest["numeric"]:
        ref = reference[name].to_numpy()
        cur = current[name].to_numpy()
        inner = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
        edges = np.concatenate(([-np.inf], inner, [np.inf]))
        scores[name] = psi(np.histogram(ref, edges)[0].astype(float), np.histogram(cur, edges)[0].astype(float))
    for name in manifest["categorical"]:
        ref_counts, cur_counts = counts(reference[name]), counts(current[name])
        keys = sorted(set(ref_counts) | set(cur_counts))
        scores[name] = psi(np.array([ref_counts.get(k, 0) for k in keys], float),
                           np.array([cur_counts.get(k, 0) for k in keys], float))
    print(json.dumps({"tool": "numpy floor", "version": np.__version__,
                      "drifted": sorted(n for n, s in scores.items() if s > 0.2),
                      "scores": {n: round(s, 4) for n, s in scores.items()},
                      "read_s": round(read_s, 3), "compute_s": round(time.perf_counter() - started - read_s, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
