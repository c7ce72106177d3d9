"""leanloop's confidence-based performance estimation per analysis chunk (repo's .venv).

Prints ``{"available": false}`` when this tree has no ``leanloop.measure.estimation``.
Usage: cbpe_leanloop.py REFERENCE.parquet ANALYSIS.parquet CHUNKS
"""

from __future__ import annotations

import importlib.metadata
import json
import sys

import numpy as np
import pandas as pd

METRICS = ["roc_auc", "accuracy"]


def probabilities(frame: pd.DataFrame) -> np.ndarray:
    p = frame["y_pred_proba"].to_numpy(dtype=float)
    return np.column_stack([1.0 - p, p])


def main(reference_path: str, analysis_path: str, chunks: str) -> None:
    version = importlib.metadata.version("leanloop")
    try:
        from leanloop.measure.estimation import CBPE  # type: ignore[import-not-found]
    except ImportError as err:
        print(json.dumps({"tool": "leanloop", "version": version, "available": False, "why": str(err)}))
        return
    reference, analysis = pd.read_parquet(reference_path), pd.read_parquet(analysis_path)
    estimator = CBPE(classes=[0, 1]).fit(probabilities(reference), reference["repaid"].to_numpy())
    out: dict[str, dict[str, list[float | None]]] = {m: {"value": [], "lower": [], "upper": []} for m in METRICS}
    for chunk in np.array_split(np.arange(len(analysis)), int(chunks)):
        result = estimator.estimate(probabilities(analysis.iloc[chunk]))
        for m in METRICS:
            metric = result.metrics[m]
            for field in ("value", "lower", "upper"):
                value = getattr(metric, field, None)
                out[m][field].append(None if value is None else float(value))
    print(json.dumps({"tool": "leanloop", "version": version, "available": True, "estimates": out}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
