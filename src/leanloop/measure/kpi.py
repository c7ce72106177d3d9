"""KPIs: the business value of model outcomes, declared as data in ``leanloop.toml``.

Classification: each confusion-matrix cell (actual, predicted) has a value; the KPI
is the mean value per prediction and the total. Regression: each unit of absolute
error costs ``cost_per_unit_error``; the KPI is minus that cost.

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from leanloop.config import KpiConfig

__all__ = ["classification_kpis", "regression_kpis", "outcome_values"]


def outcome_values(y_true: Sequence[Any], y_pred: Sequence[Any], config: KpiConfig) -> list[float]:
    """The value of each row's outcome; cells not declared are worth ``default_value``."""
    table = {(_key(o.actual), _key(o.predicted)): o.value for o in config.outcomes}
    return [table.get((_key(a), _key(p)), config.default_value) for a, p in zip(y_true, y_pred, strict=True)]


def _key(label: Any) -> str:
    """Labels compare as text, with 1.0 read as 1 (a label column with gaps turns ints into floats)."""
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label)


def classification_kpis(y_true: Sequence[Any], y_pred: Sequence[Any], config: KpiConfig) -> dict[str, float]:
    """Mean value per prediction (named ``config.name``) and the total (``<name>_total``)."""
    values = outcome_values(y_true, y_pred, config)
    return _summary(values, config.name)


def regression_kpis(y_true: Sequence[float], y_pred: Sequence[float], config: KpiConfig) -> dict[str, float]:
    """Minus the cost of absolute errors, per prediction and in total."""
    values = [-config.cost_per_unit_error * abs(float(a) - float(p)) for a, p in zip(y_true, y_pred, strict=True)]
    return _summary(values, config.name)


def _summary(values: list[float], name: str) -> dict[str, float]:
    total = float(sum(values))
    mean = total / len(values) if values else 0.0
    return {name: mean, f"{name}_total": total}
