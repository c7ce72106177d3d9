"""NannyML's CBPE (roc_auc, accuracy) estimates per analysis chunk.

Usage: cbpe_nannyml.py REFERENCE.parquet ANALYSIS.parquet CHUNKS  (env NML_DISABLE_USAGE_LOGGING=1)
Both files carry y_pred_proba, y_pred and timestamp; the reference also the label ``repaid``.
"""

from __future__ import annotations

import json
import sys

import pandas as pd

METRICS = ["roc_auc", "accuracy"]


def main(reference_path: str, analysis_path: str, chunks: str) -> None:
    import nannyml as nml

    reference, analysis = pd.read_parquet(reference_path), pd.read_parquet(analysis_path)
    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="repaid",
                         timestamp_column_name="timestamp", metrics=METRICS, chunk_number=int(chunks),
                         problem_type="classification_binary")
    estimator.fit(reference)
    frame = estimator.estimate(analysis).filter(period="analysis").to_df()
    out = {m: {"value": frame[(m, "value")].tolist(),
               "lower": frame[(m, "lower_confidence_boundary")].tolist(),
               "upper": frame[(m, "upper_confidence_boundary")].tolist()} for m in METRICS}
    print(json.dumps({"tool": "nannyml", "version": nml.__version__, "estimates": out}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
