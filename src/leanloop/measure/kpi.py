"""KPIs: the business value of model outcomes, declared as data in ``leanloop.toml``.

Classification: each confusion-matrix cell (actual, predicted) has a value; the KPI
is the mean value per prediction (named ``config.name``) and the total
(``<name>_total``). Regression: each unit of absolute or squared error costs money,
possibly more when the prediction is too high than too low; the KPI is minus that
cost. An optional weight column (e.g. the loan amount) multiplies each row's value.

Examples
--------
>>> from leanloop.config import KpiConfig, KpiOutcome
>>> cfg = KpiConfig(name="profit", outcomes=[
...     KpiOutcome(actual=1, predicted=1, value=100.0),
...     KpiOutcome(actual=0, predicted=1, value=-500.0)])
>>> classification_kpis([1, 1, 0, 0], [1, 1, 1, 0], cfg)
{'profit': -75.0, 'profit_total': -300.0}
>>> regression_kpis([10.0, 20.0], [12.0, 19.0], KpiConfig(name="cost", cost_per_unit_error=2.0))
{'cost': -3.0, 'cost_total': -6.0}
>>> regression_kpis([10.0, 20.0], [12.0, 19.0], KpiConfig(name="cost", over_cost_per_unit=5.0, under_cost_per_unit=1.0))
{'cost': -5.5, 'cost_total': -11.0}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.label_rule import label_key, value_table
from leanloop.measure.bootstrap import BootstrapOptions, Interval, bootstrap, rescaled, subsample_rows
from leanloop.measure.distinct import by_distinct, factorized
from leanloop.scoring import Scored, argmax_labels

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd

    from leanloop.config import KpiConfig

__all__ = ["argmax_kpis", "classification_kpis", "regression_kpis", "outcome_values", "outcome_array", "outcome_table",
           "regression_values",
           "label_keys", "kpi_summary", "kpi_intervals", "row_weights"]


def outcome_table(config: KpiConfig, classes: list[Any]) -> np.ndarray:
    """``(k, k)`` values of each cell [actual, predicted] in class order (:func:`leanloop.label_rule.value_table`)."""
    return value_table(config, classes)


def outcome_values(y_true: Sequence[Any], y_pred: Sequence[Any], config: KpiConfig,
                   weights: np.ndarray | None = None) -> list[float]:
    """The value of each row's outcome (times its weight); undeclared cells are worth ``default_value``."""
    return outcome_array(y_true, y_pred, config, weights).tolist()


def outcome_array(y_true: Sequence[Any], y_pred: Sequence[Any], config: KpiConfig,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """:func:`outcome_values` as a float array (a list of 1M Python floats is 32 MB).

    >>> from leanloop.config import KpiConfig, KpiOutcome
    >>> outcome_array([1, 0], [1, 1], KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=2.0)])).tolist()
    [2.0, 0.0]
    """
    import numpy as np

    table = {(_key(o.actual), _key(o.predicted)): o.value for o in config.outcomes}
    if len(y_true) != len(y_pred):
        raise ValueError(f"outcome_values: {len(y_pred)} predictions for {len(y_true)} labels "
                         f"(the predictions are {'shorter' if len(y_pred) < len(y_true) else 'longer'})")
    truth, predicted = factorized(y_true), factorized(y_pred)
    if truth is not None and predicted is not None:
        # One value per distinct (actual, predicted) pair, gathered by code: a dict
        # lookup per row cost 0.45 s per pass over a 1M-row window.
        grid = np.array([[table.get((_key(a), _key(p)), config.default_value) for p in predicted[1]]
                         for a in truth[1]], dtype=float).reshape(len(truth[1]), len(predicted[1]))
        values = grid[truth[0], predicted[0]]
        return values if weights is None else values * np.asarray(weights, dtype=float)
    # One value per distinct (actual, predicted) pair, by type and value (True is not 1):
    # label_key per row cost 5 s of a 100k-row measurement.
    seen: dict[tuple[type, Any, type, Any], float] = {}
    found = []
    for a, p in zip(y_true, y_pred, strict=True):
        pair = (a.__class__, a, p.__class__, p)
        value = seen.get(pair)
        if value is None:
            value = seen[pair] = table.get((_key(a), _key(p)), config.default_value)
        found.append(value)
    return np.asarray(found if weights is None else [v * float(w) for v, w in zip(found, weights, strict=True)],
                      dtype=float)


def _key(label: Any) -> str:
    return label_key(label)


def label_keys(labels: Sequence[Any]) -> list[str]:
    """:func:`~leanloop.label_rule.label_key` of each label, computed once per distinct
    label (by type and value: True is not 1; :func:`~leanloop.measure.distinct.by_distinct`);
    per row it cost 0.6 s of a 100k-row window.

    >>> label_keys([1, 1.0, True, "a", 1])
    ['1', '1', 'True', 'a', '1']
    """
    return by_distinct(labels, label_key).tolist()


def regression_values(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray, config: KpiConfig,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Minus each row's cost of error: over- and under-predictions priced apart,
    absolute or squared error as configured, times the row's weight."""
    import numpy as np

    from leanloop.config import ErrorKind

    error = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    size = error**2 if config.error is ErrorKind.SQUARED else np.abs(error)
    values = -np.where(error > 0, config.over_cost, config.under_cost) * size
    return values if weights is None else values * np.asarray(weights, dtype=float)


def classification_kpis(y_true: Sequence[Any], y_pred: Sequence[Any], config: KpiConfig,
                        weights: np.ndarray | None = None) -> dict[str, float]:
    """Mean value per prediction (named ``config.name``) and the total (``<name>_total``)."""
    return kpi_summary(outcome_array(y_true, y_pred, config, weights), config.name)


def regression_kpis(y_true: Sequence[float], y_pred: Sequence[float], config: KpiConfig,
                    weights: np.ndarray | None = None) -> dict[str, float]:
    """Minus the cost of errors, per prediction and in total."""
    return kpi_summary(regression_values(y_true, y_pred, config, weights), config.name)


def argmax_kpis(scored: Scored, y_true: Sequence[Any], config: KpiConfig,
                weights: np.ndarray | None = None) -> dict[str, float]:
    """What argmax (the most probable class) would have earned on the same rows and the
    same probabilities as the served answers: the money the label rule is worth is the
    served KPI minus this. Empty without probabilities (regression, no ``predict_proba``).

    >>> import numpy as np
    >>> from leanloop.config import KpiConfig, KpiOutcome
    >>> from leanloop.scoring import Scored
    >>> cfg = KpiConfig(name="profit", outcomes=[KpiOutcome(actual=1, predicted=1, value=1000.0),
    ...                                          KpiOutcome(actual=0, predicted=1, value=-5000.0)])
    >>> served = Scored(labels=[0, 1], probabilities=np.array([[0.3, 0.7], [0.1, 0.9]]), classes=[0, 1])
    >>> argmax_kpis(served, [0, 1], cfg)   # argmax would have lent to the first (a default)
    {'profit': -2000.0, 'profit_total': -4000.0}
    >>> classification_kpis([0, 1], served.labels, cfg)
    {'profit': 500.0, 'profit_total': 1000.0}
    """
    if scored.probabilities is None or scored.classes is None:
        return {}
    return classification_kpis(y_true, argmax_labels(scored), config, weights)


def kpi_summary(values: Sequence[float] | np.ndarray, name: str) -> dict[str, float]:
    """``{name: mean, name_total: total}`` of per-row values (added in row order)."""
    import numpy as np

    if isinstance(values, np.ndarray):
        # in row order, as sum() adds a list of floats: the same total, bit for bit,
        # without a Python float per row (a cumulative sum, not NumPy's pairwise sum)
        total = float(np.cumsum(values, dtype=float)[-1]) if len(values) else 0.0
    else:
        total = float(sum(values))
    mean = total / len(values) if len(values) else 0.0
    return {name: mean, f"{name}_total": total}


def kpi_intervals(values: np.ndarray, name: str, options: BootstrapOptions) -> dict[str, Interval]:
    """Bootstrap intervals of the mean and the total of per-row KPI values (beyond
    ``options.max_rows`` rows, on a rescaled subsample: :mod:`leanloop.measure.bootstrap`).

    >>> import numpy as np
    >>> kpi_intervals(np.array([1.0, 1.0]), "v", BootstrapOptions(resamples=50))["v_total"]
    Interval(value=2.0, lower=2.0, upper=2.0)
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    n = len(values)
    rows = subsample_rows(n, options)
    if rows is not None:
        sub = kpi_intervals(values[rows], name, options.model_copy(update={"max_rows": None}))
        if name not in sub:
            return {}
        mean = rescaled(float(values.mean()), sub[name], len(rows), n)
        return {name: mean, f"{name}_total": Interval(value=float(values.sum()), lower=mean.lower * n,
                                                     upper=mean.upper * n)}
    found = bootstrap(lambda W: {name: W @ values / W.sum(axis=1)}, n, options)
    if name not in found:
        return {}
    mean = found[name]
    total = Interval(value=float(values.sum()), lower=mean.lower * n, upper=mean.upper * n)
    return {name: mean, f"{name}_total": total}


def row_weights(frame: pd.DataFrame, config: KpiConfig) -> np.ndarray | None:
    """The per-row KPI weights from ``config.weight_column`` of ``frame``, or None.

    Raises :class:`~leanloop.errors.DataError` when the column is missing, or holds
    missing or negative values.
    """
    import numpy as np

    from leanloop.errors import DataError

    column = config.weight_column
    if not column:
        return None
    if column not in frame.columns:
        raise DataError(f"kpi.weight_column {column!r} is not in the data; columns are {list(frame.columns)}")
    weights = np.asarray(frame[column], dtype=float)
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        raise DataError(f"kpi.weight_column {column!r} must be a number >= 0 in every row; "
                        f"rows {bad[:5].tolist()} are not (fix the data or unset weight_column)")
    return weights
