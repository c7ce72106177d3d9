"""leanloop's drift + data-quality measurement of two Parquet files (repo's .venv).

Usage: drift_leanloop.py MANIFEST.json
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time

import pandas as pd


def main(manifest_path: str) -> None:
    from leanloop.measure.drift import drift_report
    from leanloop.measure.quality import quality_report

    manifest = json.loads(open(manifest_path, encoding="utf-8").read())
    started = time.perf_counter()
    reference, current = pd.read_parquet(manifest["reference"]), pd.read_parquet(manifest["current"])
    read_s = time.perf_counter() - started
    drift = drift_report(reference, current)
    drift.to_json()
    quality_report(reference, current).to_json()
    print(json.dumps({"tool": "leanloop", "version": importlib.metadata.version("leanloop"),
                      "mode": "drift_report + quality_report", "drifted": sorted(drift.drifted),
                      "read_s": round(read_s, 3), "compute_s": round(time.perf_counter() - started - read_s, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
