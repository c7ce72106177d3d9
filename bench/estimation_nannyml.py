"""NannyML's CBPE on the same scored rows as ``estimation_car_loan.py`` (same reference,
same 10 chunks), for the side-by-side comparison. Run it in a throwaway environment:

    python -m venv /tmp/nml && /tmp/nml/bin/pip install nannyml==0.13.1 statsmodels
    NML_DISABLE_USAGE_LOGGING=1 /tmp/nml/bin/python bench/estimation_nannyml.py /tmp/car_loan_scores.parquet
"""

from __future__ import annotations

import json
import sys

import nannyml as nml
import numpy as np
import pandas as pd
from sklearn import metrics as skm

CHUNKS = 10


def main(path: str) -> None:
    scored = pd.read_parquet(path)
    reference = scored[scored["period"] == "reference"].reset_index(drop=True)
    analysis = scored[scored["period"] == "analysis"].reset_index(drop=True)
    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="repaid",
                         timestamp_column_name="timestamp",
                         metrics=["roc_auc", "accuracy"], chunk_number=CHUNKS, problem_type="classification_binary")
    estimator.fit(reference)
    result = estimator.estimate(analysis.drop(columns=["repaid"])).filter(period="analysis").to_df()
    estimated = {m: result[(m, "value")].to_numpy() for m in ("roc_auc", "accuracy")}
    parts = np.array_split(np.arange(len(analysis)), CHUNKS)
    realized = {
        "roc_auc": np.array([skm.roc_auc_score(analysis["repaid"].iloc[p], analysis["y_pred_proba"].iloc[p])
                             for p in parts]),
        "accuracy": np.array([skm.accuracy_score(analysis["repaid"].iloc[p], analysis["y_pred"].iloc[p])
                              for p in parts]),
    }
    sizes = result[("chunk", "end_index")].to_numpy() - result[("chunk", "start_index")].to_numpy() + 1
    print("chunk sizes", sizes.tolist())
    summary = {f"mae_{m}": float(np.abs(estimated[m] - realized[m]).mean()) for m in estimated}
    for m in estimated:
        lower = result[(m, "lower_confidence_boundary")].to_numpy()
        upper = result[(m, "upper_confidence_boundary")].to_numpy()
        summary[f"inside_band_{m}"] = int(((lower <= realized[m]) & (realized[m] <= upper)).sum())
    print(json.dumps({"nannyml_cbpe": summary}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
