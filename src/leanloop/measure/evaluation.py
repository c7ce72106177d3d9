"""Evaluate a model on labelled rows: metrics and KPIs, one function for build,
comparison and measurement alike.

Examples
--------
>>> import pandas as pd
>>> from sklearn.dummy import DummyClassifier
>>> from leanloop.config import DataConfig, KpiConfig, KpiOutcome
>>> data = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])
>>> kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0)])
>>> X = pd.DataFrame({"x": [0, 1, 2]})
>>> model = DummyClassifier().fit(X, [1, 1, 0])
>>> result = evaluate(model, X, [1, 1, 0], data, kpi)
>>> round(result.metrics["accuracy"], 3), result.kpis
(0.667, {'net_value': 0.6666666666666666, 'net_value_total': 2.0})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanloop.config import DataConfig, KpiConfig, Task
from leanloop.measure.bootstrap import BootstrapOptions, Interval, bootstrap, rescaled, subsample_rows
from leanloop.measure.kpi import kpi_intervals, kpi_summary, outcome_array, regression_values, row_weights
from leanloop.measure.performance import (
    class_rows,
    classification_metrics,
    classification_table,
    regression_metrics,
    regression_table,
)
from leanloop.scoring import Scored, score

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import pandas as pd

__all__ = ["Evaluation", "evaluate", "evaluate_scored"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics and KPIs of one model on one set of labelled rows; with ``intervals``
    asked for, their bootstrap intervals and each row's KPI value too."""

    metrics: dict[str, float]
    kpis: dict[str, float]
    rows: int
    intervals: dict[str, Interval] = field(default_factory=dict)
    kpi_intervals: dict[str, Interval] = field(default_factory=dict)
    kpi_values: np.ndarray | None = None
    #: rows the metric intervals' bootstrap read when it subsampled (``max_rows``), else None
    bootstrap_rows: int | None = None


def evaluate(model: Any, X: pd.DataFrame, y: Sequence[Any], data: DataConfig, kpi: KpiConfig,
             intervals: BootstrapOptions | None = None) -> Evaluation:
    """Score ``X`` with ``model`` and compare with the truth ``y`` (KPI weights from ``X``)."""
    return evaluate_scored(score(model, X, data.task.value), y if isinstance(y, list) else list(y), data, kpi,
                           weights=row_weights(X, kpi), intervals=intervals)


def evaluate_scored(scored: Scored, y: list[Any], data: DataConfig, kpi: KpiConfig,
                    weights: np.ndarray | None = None, intervals: BootstrapOptions | None = None) -> Evaluation:
    """Metrics and KPIs of outputs already computed (e.g. logged predictions); beyond
    ``intervals.max_rows`` rows the metric intervals come from a rescaled subsample
    (:mod:`leanloop.measure.bootstrap`)."""
    import numpy as np

    rows = None if intervals is None else subsample_rows(len(y), intervals)
    if rows is not None and intervals is not None:
        full = evaluate_scored(scored, y, data, kpi, weights=weights)
        picked = Scored(labels=[scored.labels[i] for i in rows], classes=scored.classes,
                        probabilities=None if scored.probabilities is None else np.asarray(scored.probabilities)[rows])
        sub = evaluate_scored(picked, [y[i] for i in rows], data, kpi,
                              weights=None if weights is None else np.asarray(weights)[rows],
                              intervals=intervals.model_copy(update={"max_rows": None}))
        values = (regression_values(y, scored.labels, kpi, weights) if data.task is Task.REGRESSION
                  else outcome_array(y, scored.labels, kpi, weights))
        found = {name: rescaled(full.metrics[name], i, len(rows), len(y)) for name, i in sub.intervals.items()}
        return Evaluation(full.metrics, full.kpis, full.rows, found, kpi_intervals(values, kpi.name, intervals),
                          values, bootstrap_rows=len(rows))

    if data.task is Task.REGRESSION:
        values = regression_values(y, scored.labels, kpi, weights)
        result = Evaluation(regression_metrics(y, scored.labels), kpi_summary(values, kpi.name), len(y))
        if intervals is None:
            return result
        truth, predicted = np.asarray(y, dtype=float), np.asarray(scored.labels, dtype=float)
        return _with_intervals(result, lambda W: regression_table(W, truth, predicted), values, kpi.name, intervals)
    classes = list(data.classes or scored.classes or sorted(set(y)))
    proba = scored.probabilities
    if proba is not None and scored.classes is not None and scored.classes != classes:
        order = [scored.classes.index(c) for c in classes]
        proba = np.asarray(proba)[:, order]
    values = outcome_array(y, scored.labels, kpi, weights)
    result = Evaluation(classification_metrics(y, scored.labels, proba, classes),
                        kpi_summary(values, kpi.name), len(y))
    if intervals is None:
        return result
    coded = class_rows(y, scored.labels, proba, classes)
    return _with_intervals(result, lambda W: classification_table(W, coded), values, kpi.name, intervals)


def _with_intervals(result: Evaluation, table: Callable[[np.ndarray], dict[str, np.ndarray]], values: np.ndarray,
                    kpi_name: str, options: BootstrapOptions) -> Evaluation:
    found = bootstrap(table, result.rows, options)
    # the interval's value is the scikit-learn figure (the vectorised one agrees to 1e-9)
    found = {name: Interval(value=result.metrics[name], lower=i.lower, upper=i.upper)
             for name, i in found.items() if name in result.metrics}
    return Evaluation(result.metrics, result.kpis, result.rows, found,
                      kpi_intervals(values, kpi_name, options), values)
