"""Benchmark: estimated vs realized ROC AUC and accuracy on the car-loan analysis period.

The champion (leanloop's default pipeline) is trained on the first 70 % of the
reference period (by time); the last 30 % is its held-out test split, on which CBPE is
calibrated. The analysis period is cut into 10 equal chunks by time; for each chunk
CBPE estimates ROC AUC and accuracy without labels, and the realized values come from
the delivered targets. Prints the mean absolute error over chunks, and writes the
model's scores to ``--scores`` (Parquet) so NannyML can be run on exactly the same
rows (``bench/estimation_nannyml.py``, in a separate environment).

    .venv/bin/python bench/estimation_car_loan.py --scores /tmp/car_loan_scores.parquet
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from leanloop.build.pipeline import make_pipeline
from leanloop.config import ModelConfig, Task
from leanloop.datasets import car_loan
from leanloop.measure.estimation import CBPE
from leanloop.measure.performance import classification_metrics
from leanloop.schema import infer_schema

CHUNKS = 10
METRICS = ("roc_auc", "accuracy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scores", default=None, help="write the scored rows here (Parquet)")
    args = parser.parse_args()
    data = car_loan()
    reference = data.reference.sort_values("timestamp", kind="stable").reset_index(drop=True)
    analysis = data.analysis.merge(data.analysis_targets, on="id").sort_values("timestamp", kind="stable")
    analysis = analysis.reset_index(drop=True)
    cut = int(len(reference) * 0.7)
    train, test = reference.iloc[:cut], reference.iloc[cut:]
    schema = infer_schema(train, exclude=["id", "repaid", "timestamp"])
    model = make_pipeline(schema, Task.CLASSIFICATION, ModelConfig()).fit(
        schema.model_frame(train, "train"), train["repaid"])
    test_proba = model.predict_proba(schema.model_frame(test, "test"))
    proba = model.predict_proba(schema.model_frame(analysis, "analysis"))
    predicted = proba.argmax(axis=1)

    start = time.perf_counter()
    cbpe = CBPE(classes=[0, 1], seed=0).fit(test_proba, test["repaid"].tolist())
    rows = []
    for i, part in enumerate(np.array_split(np.arange(len(analysis)), CHUNKS)):
        est = cbpe.estimate(proba[part], predicted[part].tolist())
        real = classification_metrics(analysis["repaid"].iloc[part].tolist(), predicted[part].tolist(), proba[part],
                                      [0, 1])
        rows.append({"chunk": i, **{f"estimated_{m}": est.metrics[m].value for m in METRICS},
                     **{f"lower_{m}": est.metrics[m].lower for m in METRICS},
                     **{f"upper_{m}": est.metrics[m].upper for m in METRICS},
                     **{f"realized_{m}": real[m] for m in METRICS}})
    seconds = time.perf_counter() - start
    table = pd.DataFrame(rows)
    summary = {f"mae_{m}": float((table[f"estimated_{m}"] - table[f"realized_{m}"]).abs().mean()) for m in METRICS}
    inside = {m: (table[f"lower_{m}"] <= table[f"realized_{m}"]) & (table[f"realized_{m}"] <= table[f"upper_{m}"])
              for m in METRICS}
    summary.update({f"inside_band_{m}": int(inside[m].sum()) for m in METRICS})
    summary["seconds_calibrate_and_estimate"] = round(seconds, 2)
    print(table.round(4).to_string(index=False))
    print(json.dumps({"leanloop_cbpe": summary}, indent=2))
    if args.scores:
        keep = ["timestamp", "repaid"]
        pd.concat([
            test[keep].assign(period="reference", y_pred_proba=test_proba[:, 1], y_pred=test_proba.argmax(axis=1)),
            analysis[keep].assign(period="analysis", y_pred_proba=proba[:, 1], y_pred=predicted),
        ]).to_parquet(args.scores, index=False)


if __name__ == "__main__":
    main()
