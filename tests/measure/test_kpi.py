"""Tests for leanloop.measure.kpi: hand-computed confusion-matrix values and regression cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from leanloop.config import DataConfig, KpiConfig, KpiOutcome, ProjectConfig
from leanloop.errors import DataError
from leanloop.measure.bootstrap import BootstrapOptions
from leanloop.measure.kpi import (
    classification_kpis,
    kpi_intervals,
    outcome_table,
    outcome_values,
    regression_kpis,
    regression_values,
    row_weights,
)
from leanloop.schema import Feature, Schema

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
    with pytest.raises(ValueError, match=r"shorter|longer"):
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


# --- asymmetric and squared costs, weights, intervals, the outcome table, config checks ---

def test_asymmetric_costs_by_hand() -> None:
    config = KpiConfig(name="cost", over_cost_per_unit=3.0, under_cost_per_unit=1.0)
    # over by 2 -> 6; under by 4 -> 4; exact -> 0
    assert regression_values([10.0, 10.0, 5.0], [12.0, 6.0, 5.0], config).tolist() == [-6.0, -4.0, -0.0]


def test_squared_error_cost_by_hand() -> None:
    config = KpiConfig(name="cost", error="squared", cost_per_unit_error=0.5, under_cost_per_unit=2.0)
    # over by 2 -> 0.5 * 4 = 2; under by 3 -> 2 * 9 = 18
    assert regression_kpis([1.0, 4.0], [3.0, 1.0], config) == {"cost": -10.0, "cost_total": -20.0}


def test_weights_multiply_each_row() -> None:
    weights = np.array([1000.0, 0.0, 250.0, 10.0])
    # values 100, -20, -50, 2 (TN default) times the loan amount
    kpis = classification_kpis([1, 0, 1, 0], [1, 1, 0, 0], BINARY, weights)
    assert kpis == {"profit": pytest.approx((100_000 - 12_500 + 20) / 4), "profit_total": pytest.approx(87_520.0)}
    assert regression_kpis([0.0, 0.0], [1.0, -1.0], KpiConfig(name="c"), np.array([2.0, 3.0]))["c_total"] == -5.0


def test_outcome_table_in_class_order() -> None:
    table = outcome_table(BINARY, [0, 1])
    assert table.tolist() == [[2.0, -20.0], [-50.0, 100.0]]
    assert outcome_table(BINARY, [1, 0]).tolist() == [[100.0, -50.0], [-20.0, 2.0]]


def test_kpi_intervals_hold_the_value_and_scale_the_total() -> None:
    values = np.random.default_rng(0).normal(5, 1, 400)
    found = kpi_intervals(values, "v", BootstrapOptions(resamples=300, seed=0))
    assert found["v"].lower < found["v"].value < found["v"].upper
    assert found["v_total"].value == pytest.approx(values.sum())
    assert found["v_total"].lower == pytest.approx(found["v"].lower * 400)


def test_row_weights_from_a_column_and_their_errors() -> None:
    frame = pd.DataFrame({"amount": [100.0, 50.0], "x": [1, 2]})
    config = KpiConfig(weight_column="amount")
    assert row_weights(frame, config).tolist() == [100.0, 50.0]
    assert row_weights(frame, KpiConfig()) is None
    with pytest.raises(DataError, match="'loan' is not in the data"):
        row_weights(frame, KpiConfig(weight_column="loan"))
    with pytest.raises(DataError, match="must be a number >= 0"):
        row_weights(pd.DataFrame({"amount": [1.0, -3.0]}), config)


def test_config_rejects_a_cell_given_twice() -> None:
    with pytest.raises(ValidationError, match="more than one value"):
        KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                            KpiOutcome(actual="1", predicted=1, value=2.0)])


def test_config_rejects_negative_costs_and_unknown_error_kind() -> None:
    with pytest.raises(ValidationError, match="over_cost_per_unit"):
        KpiConfig(over_cost_per_unit=-1.0)
    with pytest.raises(ValidationError, match="error"):
        KpiConfig(error="cubic")


def test_project_config_checks_weight_column_and_outcome_labels() -> None:
    schema = Schema(features=[Feature(name="amount", kind="numeric")])
    data = DataConfig(path="d.csv", target="y", task="classification", classes=["no", "yes"])
    ProjectConfig(data=data, schema=schema, kpi=KpiConfig(
        weight_column="amount", outcomes=[KpiOutcome(actual="yes", predicted="yes", value=1.0)]))
    with pytest.raises(ValidationError, match="weight_column 'loan' is not a feature"):
        ProjectConfig(data=data, schema=schema, kpi=KpiConfig(weight_column="loan"))
    with pytest.raises(ValidationError, match=r"labels \['maybe'\] that are not among data.classes"):
        ProjectConfig(data=data, schema=schema,
                      kpi=KpiConfig(outcomes=[KpiOutcome(actual="maybe", predicted="yes", value=1.0)]))
