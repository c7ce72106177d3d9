"""Issue 4: performance estimated without labels, leanloop's CBPE beside NannyML's.

The bundled car-loan data carries no model outputs, so leanloop's own pipeline is
trained on the first half of the reference period (by time); the second half is the
estimators' reference (out-of-sample probabilities with labels) and the analysis
period, in 10 equal chunks, is what they estimate. Realized metrics per chunk come
from the analysis targets; the score is the mean absolute error of estimate vs realized.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.envs import peer_python, repo_python
from bench.options import Options
from bench.report import Table, write_json
from bench.runner import Run, run_measured

__all__ = ["run", "prepare"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"
METRICS = ["roc_auc", "accuracy"]
CHUNKS = 10


def prepare(folder: Path) -> tuple[Path, Path, dict[str, list[float]]]:
    """Score the car-loan data with leanloop's pipeline; returns the two files and realized metrics."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, roc_auc_score

    from leanloop.build.pipeline import make_pipeline
    from leanloop.config import ModelConfig, Task
    from leanloop.datasets import car_loan
    from leanloop.project import init_config

    data = car_loan()
    reference = data.reference.sort_values("timestamp", kind="stable").reset_index(drop=True)
    analysis = (data.analysis.merge(data.analysis_targets, on="id").sort_values("timestamp", kind="stable")
                .reset_index(drop=True))
    train, calibrate = reference.iloc[: len(reference) // 2], reference.iloc[len(reference) // 2:]
    config = init_config(train, path="car_loan", target="repaid", time_column="timestamp", id_column="id")
    schema = config.schema_
    model = make_pipeline(schema, Task.CLASSIFICATION, ModelConfig()).fit(
        schema.model_frame(train, "train"), train["repaid"].to_numpy())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("reference", calibrate), ("analysis", analysis)):
        proba = model.predict_proba(schema.model_frame(frame, name))[:, 1]
        scored = pd.DataFrame({"timestamp": frame["timestamp"].to_numpy(), "y_pred_proba": proba,
                               "y_pred": (proba >= 0.5).astype(int)})
        if name == "reference":
            scored["repaid"] = frame["repaid"].to_numpy()
        path = folder / f"cbpe-{name}.parquet"
        scored.to_parquet(path, index=False)
        paths.append(path)
        if name == "analysis":
            realized: dict[str, list[float]] = {m: [] for m in METRICS}
            for chunk in np.array_split(np.arange(len(frame)), CHUNKS):
                truth = frame["repaid"].to_numpy()[chunk]
                realized["roc_auc"].append(float(roc_auc_score(truth, proba[chunk])))
                realized["accuracy"].append(float(accuracy_score(truth, scored["y_pred"].to_numpy()[chunk])))
    return paths[0], paths[1], realized


def _errors(run: Run, realized: dict[str, list[float]]) -> dict[str, float | None]:
    estimates = run.result.get("estimates") if run.ok else None
    out: dict[str, float | None] = {}
    for m in METRICS:
        values = (estimates or {}).get(m, {}).get("value")
        if not values or len(values) != len(realized[m]) or any(v is None for v in values):
            out[m] = None
            continue
        out[m] = float(np.mean(np.abs(np.array(values) - np.array(realized[m]))))
    return out


def run(options: Options) -> list[Table]:
    print("[bench] cbpe: scoring the car-loan data with leanloop's pipeline", flush=True)
    reference, analysis, realized = prepare(options.data / "cbpe")
    args = [str(reference), str(analysis), str(CHUNKS)]
    runs = {
        "nannyml": run_measured("nannyml", [peer_python("nannyml"), str(TOOLS / "cbpe_nannyml.py"), *args],
                                env={"NML_DISABLE_USAGE_LOGGING": "1"}, timeout=options.timeout),
        "leanloop": run_measured("leanloop", [repo_python(), str(TOOLS / "cbpe_leanloop.py"), *args],
                                 timeout=options.timeout),
    }
    table = Table(f"Estimated vs realized performance, car-loan analysis period in {CHUNKS} chunks",
                  ["tool", "version", "MAE roc_auc", "MAE accuracy", "wall s", "peak MB"], digits=4)
    errors: dict[str, Any] = {}
    for name, r in runs.items():
        if name == "leanloop" and r.ok and not r.result.get("available", False):
            table.add(name, r.result.get("version"), "not available", "not available", None, None)
            table.notes.append(f"leanloop: {r.result.get('why')}")
            continue
        errors[name] = _errors(r, realized)
        table.add(name, r.result.get("version"), errors[name]["roc_auc"], errors[name]["accuracy"],
                  r.wall_s, r.peak_rss_mb)
        if not r.ok:
            table.notes.append(f"{name} failed: {r.stderr_tail[-300:]!r}")
    table.notes.append("target (issue 4): leanloop's MAE no worse than NannyML's for each metric; "
                       "per-chunk figures in bench/results/cbpe.json")
    detail = Table("Per chunk: realized and estimated", ["chunk", "realized roc_auc", "nannyml roc_auc",
                                                         "leanloop roc_auc", "realized accuracy",
                                                         "nannyml accuracy", "leanloop accuracy"], digits=4)
    for i in range(CHUNKS):
        cells: list[Any] = [i]
        for m in METRICS:
            cells.append(realized[m][i])
            for name in ("nannyml", "leanloop"):
                values = (runs[name].result.get("estimates") or {}).get(m, {}).get("value") or []
                cells.append(values[i] if i < len(values) else None)
        detail.add(*cells)
    write_json("cbpe", {"realized": realized, "errors": errors, "runs": {n: r.to_json() for n, r in runs.items()}})
    return [table, detail]

