"""Evidently's DataDriftPreset on two Parquet files (its defaults pick the method per column).

A column is drifted when its ValueDrift score crosses its threshold: below it for
p-value methods, at or above it for distances. Usage: drift_evidently.py MANIFEST.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd


def main(manifest_path: str) -> None:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    reference, current = pd.read_parquet(manifest["reference"]), pd.read_parquet(manifest["current"])
    read_s = time.perf_counter() - started
    definition = DataDefinition(numerical_columns=manifest["numeric"], categorical_columns=manifest["categorical"])
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    drifted, methods = [], set()
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        methods.add(method)
        if (value < threshold) if "p_value" in method else (value >= threshold):
            drifted.append(config["column"])
    print(json.dumps({"tool": "evidently", "version": evidently.__version__, "drifted": sorted(drifted),
                      "methods": sorted(methods), "read_s": round(read_s, 3),
                      "compute_s": round(time.perf_counter() - started - read_s, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
