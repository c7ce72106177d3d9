"""NannyML's univariate drift (defaults: Jensen-Shannon, 10 chunks, std thresholds).

A feature counts as drifted when any analysis chunk raises an alert.
Usage: drift_nannyml.py MANIFEST.json  (env NML_DISABLE_USAGE_LOGGING=1)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd


def main(manifest_path: str) -> None:
    import nannyml as nml

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    reference, current = pd.read_parquet(manifest["reference"]), pd.read_parquet(manifest["current"])
    read_s = time.perf_counter() - started
    columns = manifest["numeric"] + manifest["categorical"]
    calculator = nml.UnivariateDriftCalculator(column_names=columns, treat_as_categorical=manifest["categorical"],
                                               chunk_number=10)
    calculator.fit(reference)
    frame = calculator.calculate(current).filter(period="analysis").to_df()
    drifted = sorted({c for c in columns
                      if any(frame[(c, method, "alert")].any() for method in
                             {m for (col, m, _) in frame.columns if col == c})})
    print(json.dumps({"tool": "nannyml", "version": nml.__version__, "drifted": drifted,
                      "read_s": round(read_s, 3), "compute_s": round(time.perf_counter() - started - read_s, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
