"""What one MLflow run holds for a model version or a cycle (:class:`RunContent`).

A **version** run (named ``v3``): parameters from its record (task, source, parent,
rows, fingerprint, the served label rule) and the hyperparameters of its estimator;
metrics on its test set beside the trivial baseline's (``baseline_<metric>``) and its
KPIs (``kpi_<name>``); the skops artifacts (``model/v3.skops`` and its baseline) and the
record as ``leanloop/version.json``.

A **cycle** run (named ``cycle 7``): the decision and what was done as parameters and
tags (``leanloop.action``, champion before and after, challenger, promoted); metrics of
the measured window (rows, labelled rows, realized and estimated performance, KPIs,
drifted features, seconds per stage); the ledger entry as ``leanloop/cycle.json`` and
its explanation (every rule, every gate check) as ``leanloop/explain.txt``, also shown
as the run's description. A cycle that failed is a ``FAILED`` run with its error.

Examples
--------
>>> from leanloop.learn.ledger import Cycle
>>> from leanloop.learn.policy import Action, Decision
>>> cycle = Cycle(cycle=7, created_at=1_700_000_000.0, champion_before="v1", champion_after="v1",
...               decision=Decision(action=Action.CONTINUE, reasons=[]), durations={"total": 2.5},
...               measurement={"window": {"rows": 500, "labelled": 120},
...                            "performance": {"realized": {"roc_auc": 0.81}}, "kpis": {"profit_total": 1200.0}})
>>> run = cycle_run(cycle)
>>> run.name, run.status, run.tags["leanloop.action"], run.end_ms - run.start_ms
('cycle 7', 'FINISHED', 'continue', 2500)
>>> run.metrics["window_rows"], run.metrics["realized_roc_auc"], run.metrics["kpi_profit_total"]
(500.0, 0.81, 1200.0)
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.errors import LeanloopError

if TYPE_CHECKING:
    from leanloop.learn.ledger import Cycle
    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

__all__ = ["RunContent", "version_run", "cycle_run", "metric_name"]

#: MLflow's limits: a parameter value and a tag value (longer ones are cut, with a mark).
_MAX_PARAM, _MAX_TAG = 6000, 5000
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


class RunContent(BaseModel):
    """Everything one run gets, in MLflow's terms (times in epoch milliseconds)."""

    model_config = ConfigDict(frozen=True)

    name: str
    start_ms: int
    end_ms: int
    status: str = "FINISHED"
    tags: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    #: artifact path -> text (JSON, the explanation)
    documents: dict[str, str] = Field(default_factory=dict)
    #: (local file, artifact folder)
    files: list[tuple[Path, str]] = Field(default_factory=list)


def metric_name(name: str) -> str:
    """``name`` with the characters MLflow refuses in a key replaced by ``_``.

    >>> metric_name("kpi_profit (EUR)")
    'kpi_profit _EUR_'
    """
    return _UNSAFE.sub("_", name)[:250]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " [...] (cut)"


def _numbers(prefix: str, values: dict[str, Any] | None) -> dict[str, float]:
    """The finite numbers of ``values`` as metrics named ``prefix + key``."""
    return {metric_name(f"{prefix}{k}"): float(v) for k, v in (values or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _final_estimator(model: Any) -> Any:
    """The estimator inside pipelines and leanloop's wrappers (calibration, label rule)."""
    for _ in range(10):
        if hasattr(model, "steps"):
            model = model.steps[-1][1]
        elif hasattr(model, "estimator") and not isinstance(model.estimator, str):
            model = model.estimator
        else:
            break
    return model


def _estimator_params(ws: Workspace, version: str) -> dict[str, str]:
    """The estimator's class and its own (not nested) hyperparameters; none if it cannot load."""
    try:
        model, _ = ws.registry.load(version)
    except LeanloopError:
        return {}
    final = _final_estimator(model)
    params = {"estimator": f"{type(final).__module__}.{type(final).__qualname__}"}
    if hasattr(final, "get_params"):
        params |= {f"estimator.{k}": _cut(str(v), _MAX_PARAM) for k, v in sorted(final.get_params(deep=False).items())
                   if v is None or isinstance(v, (str, int, float, bool))}
    return params


def version_run(ws: Workspace, record: ModelVersion) -> RunContent:
    """The run of model version ``record`` (its artifacts read from ``ws``)."""
    start = int(record.created_at * 1000)
    params = {"task": record.task, "source": record.source, "parent": record.parent, "cycle": record.cycle,
              "fingerprint": record.fingerprint, "input_format": record.input_format.value,
              "decision": record.decision.value, "trusted": record.trusted, "quantile": record.quantile,
              "sha256": record.sha256, **{f"rows.{k}": v for k, v in record.rows.items()}}
    tags = {"leanloop.kind": "version", "leanloop.version": record.version, "leanloop.source": record.source,
            "mlflow.note.content": f"leanloop model version {record.version} ({record.source}"
                                   f"{', parent ' + record.parent if record.parent else ''}) of {ws.paths.root}"}
    metrics = {**_numbers("", record.metrics), **_numbers("baseline_", record.baseline_metrics),
               **_numbers("kpi_", record.kpi)}
    artifacts = ws.paths.artifacts
    files = [(artifacts / name, "model") for name in (record.artifact, record.baseline_artifact)
             if (artifacts / name).is_file()]
    body = record.model_dump(mode="json", by_alias=True)
    return RunContent(name=record.version, start_ms=start, end_ms=start, tags=tags,
                      params={k: _cut(str(v), _MAX_PARAM) for k, v in params.items() if v is not None}
                      | _estimator_params(ws, record.version),
                      metrics=metrics, documents={"leanloop/version.json": json.dumps(body, indent=1)}, files=files)


def _cycle_metrics(cycle: Cycle) -> dict[str, float]:
    measurement = cycle.measurement
    window = measurement.get("window") or {}
    performance = measurement.get("performance") or {}
    drift = measurement.get("drift") or []
    drifted = measurement.get("drifted_features") or []
    metrics = {**_numbers("window_", {k: window.get(k) for k in ("rows", "labelled", "coverage")}),
               **_numbers("realized_", performance.get("realized")),
               **_numbers("estimated_", performance.get("estimated")),
               **_numbers("baseline_", performance.get("baseline")),
               **_numbers("kpi_", measurement.get("kpis")),
               **_numbers("estimated_kpi_", measurement.get("estimated_kpis")),
               **_numbers("seconds_", cycle.durations)}
    if drift:
        metrics |= {"drifted_features": float(len(drifted)), "drift_share": len(drifted) / len(drift)}
    return metrics


def cycle_run(cycle: Cycle) -> RunContent:
    """The run of ledger cycle ``cycle``."""
    start = int(cycle.created_at * 1000)
    end = start + round(cycle.durations.get("total", 0.0) * 1000)
    params = {"action": cycle.decision.action.value, "champion_before": cycle.champion_before,
              "champion_after": cycle.champion_after, "challenger": cycle.challenger,
              "trigger": None if cycle.trigger is None else cycle.trigger.value,
              "promoted": cycle.promoted, "rolled_back": cycle.rolled_back, "shadowed": cycle.shadowed}
    shown = {k: str(v) for k, v in params.items() if v is not None}
    explanation = cycle.explain()
    tags = {"leanloop.kind": "cycle", "leanloop.cycle": str(cycle.cycle),
            **{f"leanloop.{k}": v for k, v in shown.items()},
            "mlflow.note.content": _cut(explanation, _MAX_TAG)}
    if cycle.error:
        tags["leanloop.error"] = _cut(cycle.error, _MAX_TAG)
    return RunContent(name=f"cycle {cycle.cycle}", start_ms=start, end_ms=end,
                      status="FAILED" if cycle.error else "FINISHED", tags=tags, params=shown,
                      metrics=_cycle_metrics(cycle),
                      documents={"leanloop/cycle.json": json.dumps(cycle.to_json(), indent=1),
                                 "leanloop/explain.txt": explanation})
