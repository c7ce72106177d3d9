"""Tests for leanloop.measure.kpi: hand-computed confusion-matrix values and regression cost."""

from __future__ import annotations

import numpy as np
import pytest

from leanloop.config import KpiConfig, KpiOutcome
from leanloop.measure.kpi import classification_kpis, outcome_values, regression_kpis

BINARY = KpiConfig(name="profit", default_value=2.0, outcomes=[
    KpiOutcome(actual=1, predicted=1, value=100.0),   # true positive
    KpiOutcome(actual=0, predicted=1, value=-20.0),   # false positive
    KpiOutcome(actual=1, predicted=0, value=-50.0),   # false negative; true negative is undeclared
])


def test_binary_by_hand() -> None:
    y_true = [1, 1, 0, 0, 1, 0]
    y_pred = [1, 0, 1, 0, 1, 0]
    # TP, FN, FP, TN, TP, TN = 100 - 50 - 20 + 2 + 100 + 2 = 134
    assert outcome_values(y_true, y_pred, BINARY) == [100.0, -50.0, -20.0, 2.0, 100.0, 2.0]
    kpis = classification_kpis(y_true, y_pred, BINARY)
    assert kpis == {"profit": pytest.approx(134 / 6), "profit_total": 134.0}


def test_undeclared_cells_take_default_value() -> None:
    config = KpiConfig(name="v", default_value=-1.0, outcomes=[KpiOutcome(actual="a", predicted="a", value=5.0)])
    assert outcome_values(["a", "b", "c"], ["a", "c", "b"], config) == [5.0, -1.0, -1.0]
    assert classification_kpis(["b"], ["b"], KpiConfig()) == {"net_value": 0.0, "net_value_total": 0.0}


def test_three_classes_by_hand() -> None:
    values = {("a", "a"): 10.0, ("b", "b"): 20.0, ("c", "c"): 30.0, ("a", "b"): -5.0, ("c", "a"): -40.0}
    config = KpiConfig(name="gain", default_value=-1.0, outcomes=[
        KpiOutcome(actual=a, predicted=p, value=v) for (a, p), v in values.items()])
    y_true = ["a", "a", "b", "c", "c", "b", "a"]
    y_pred = ["a", "b", "b", "a", "c", "c", "c"]
    # 10 - 5 + 20 - 40 + 30 + (b,c) -1 + (a,c) -1 = 13
    assert outcome_values(y_true, y_pred, config) == [10.0, -5.0, 20.0, -40.0, 30.0, -1.0, -1.0]
    assert classification_kpis(y_true, y_pred, config) == {"gain": pytest.approx(13 / 7), "gain_total": 13.0}


def test_float_labels_match_int_outcomes() -> None:
    y_true = [1.0, 0.0, 1.0, np.float64(1.0)]
    y_pred = [1, 1, 0.0, np.int64(1)]
    assert outcome_values(y_true, y_pred, BINARY) == [100.0, -20.0, -50.0, 100.0]


def test_text_outcome_matches_int_label() -> None:
    config = KpiConfig(outcomes=[KpiOutcome(actual="1", predicted="1", value=3.0)])
    assert outcome_values([1], [1.0], config) == [3.0]


def test_empty_input_is_zero() -> None:
    assert classification_kpis([], [], BINARY) == {"profit": 0.0, "profit_total": 0.0}


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="shorter|longer"):
        outcome_values([1, 0], [1], BINARY)


def test_regression_cost_by_hand() -> None:
    config = KpiConfig(name="cost", cost_per_unit_error=2.5)
    # |10-12| + |20-19| + |5-5| + |0-(-3)| = 6 units, 15.0 cost
    kpis = regression_kpis([10.0, 20.0, 5.0, 0.0], [12.0, 19.0, 5.0, -3.0], config)
    assert kpis == {"cost": pytest.approx(-15.0 / 4), "cost_total": pytest.approx(-15.0)}


def test_regression_cost_equals_scaled_mae() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=30), rng.normal(size=30)
    kpis = regression_kpis(y_true.tolist(), y_pred.tolist(), KpiConfig(cost_per_unit_error=3.0))
    assert kpis["net_value"] == pytest.approx(-3.0 * np.abs(y_true - y_pred).mean(), rel=1e-12)
    assert kpis["net_value_total"] == pytest.approx(-3.0 * np.abs(y_true - y_pred).sum(), rel=1e-12)
