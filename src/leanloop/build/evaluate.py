"""Evaluate a fitted model on labelled rows: metrics and KPIs, one function for build,
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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.config import DataConfig, KpiConfig, Task
from leanloop.measure.kpi import classification_kpis, regression_kpis
from leanloop.measure.performance import classification_metrics, regression_metrics
from leanloop.scoring import score

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from leanloop.scoring import Scored

__all__ = ["Evaluation", "evaluate", "evaluate_scored"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics and KPIs of one model on one set of labelled rows."""

    metrics: dict[str, float]
    kpis: dict[str, float]
    rows: int


def evaluate(model: Any, X: pd.DataFrame, y: Sequence[Any], data: DataConfig, kpi: KpiConfig) -> Evaluation:
    """Score ``X`` with ``model`` and compare with the truth ``y``."""
    return evaluate_scored(score(model, X, data.task.value), list(y), data, kpi)


def evaluate_scored(scored: Scored, y: list[Any], data: DataConfig, kpi: KpiConfig) -> Evaluation:
    """Metrics and KPIs of outputs already computed (e.g. logged predictions)."""
    if data.task is Task.REGRESSION:
        return Evaluation(regression_metrics(y, scored.labels), regression_kpis(y, scored.labels, kpi), len(y))
    classes = list(data.classes or scored.classes or sorted(set(y)))
    proba = scored.probabilities
    if proba is not None and scored.classes is not None and scored.classes != classes:
        import numpy as np

        order = [scored.classes.index(c) for c in classes]
        proba = np.asarray(proba)[:, order]
    return Evaluation(
        classification_metrics(y, scored.labels, proba, classes),
        classification_kpis(y, scored.labels, kpi),
        len(y),
    )
