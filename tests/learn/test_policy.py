"""Tests for leanloop.learn.policy: every rule at its threshold, precedence, JSON shape."""

from __future__ import annotations

from typing import Any

import pytest

from leanloop.config import DataConfig, PolicyConfig
from leanloop.learn.policy import Action, Decision, Rule, decide

BINARY = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])
REGRESSION = DataConfig(path="d.csv", target="y", task="regression")
POLICY = PolicyConfig(min_rows=100, min_labels=50, max_metric_drop=0.03, max_kpi_drop=0.1, max_drift_share=0.5)
RULES = ["min_rows", "champion_rows", "min_labels", "metric_drop", "kpi_drop", "drift_share"]


def run(**overrides: Any) -> Decision:
    """A decision on a healthy window, with ``overrides`` applied."""
    args: dict[str, Any] = {
        "rows": 1000, "champion_rows": 1000, "labelled": 500, "drift_share": 0.0,
        "realized": {"roc_auc": 0.90}, "reference": {"roc_auc": 0.90},
        "policy": POLICY, "data": BINARY, "realized_kpi": 10.0, "reference_kpi": 10.0,
    }
    args.update(overrides)
    return decide(**args)


def rule(decision: Decision, name: str) -> Rule:
    return next(r for r in decision.reasons if r.rule == name)


def fired(decision: Decision) -> set[str]:
    return {r.rule for r in decision.reasons if r.fired}


def test_healthy_window_continues() -> None:
    decision = run()
    assert decision.action is Action.CONTINUE
    assert [r.rule for r in decision.reasons] == RULES
    assert fired(decision) == set()
    assert decision.summary() == "no rule fired"


# --- each rule at its boundary ------------------------------------------------------


@pytest.mark.parametrize(("field", "name", "threshold"), [
    ("rows", "min_rows", 100), ("champion_rows", "champion_rows", 100), ("labelled", "min_labels", 50),
])
def test_evidence_rules_at_threshold(field: str, name: str, threshold: int) -> None:
    at = run(**{field: threshold})
    below = run(**{field: threshold - 1})
    assert not rule(at, name).fired and at.action is Action.CONTINUE
    assert rule(below, name).fired and below.action is Action.WAIT
    assert (rule(below, name).value, rule(below, name).threshold) == (threshold - 1, threshold)


def test_min_labels_says_how_many_more() -> None:
    assert "(50 needed; 8 more)" in rule(run(labelled=42), "min_labels").says


@pytest.mark.parametrize(("realized", "fires"), [(0.8699, True), (0.8701, False), (0.95, False)])
def test_metric_drop_boundary(realized: float, fires: bool) -> None:
    decision = run(realized={"roc_auc": realized})
    metric = rule(decision, "metric_drop")
    assert metric.value == pytest.approx(0.90 - realized)
    assert metric.threshold == 0.03
    assert metric.fired is fires
    assert decision.action is (Action.RETRAIN if fires else Action.CONTINUE)


def test_metric_drop_unknown_without_metric() -> None:
    metric = rule(run(realized={}), "metric_drop")
    assert (metric.value, metric.fired) == (None, False)
    assert metric.says == "roc_auc unknown: no labelled rows"


def test_configured_metric_is_watched() -> None:
    policy = POLICY.model_copy(update={"main_metric": "f1"})
    decision = run(policy=policy, realized={"f1": 0.5, "roc_auc": 0.9}, reference={"f1": 0.6, "roc_auc": 0.9})
    assert rule(decision, "metric_drop").value == pytest.approx(0.1)
    assert decision.action is Action.RETRAIN


@pytest.mark.parametrize(("realized_mae", "fires"), [(1.0301, True), (1.0299, False), (0.5, False)])
def test_regression_mae_increase_is_a_drop(realized_mae: float, fires: bool) -> None:
    decision = run(data=REGRESSION, realized={"mae": realized_mae}, reference={"mae": 1.0})
    metric = rule(decision, "metric_drop")
    assert metric.value == pytest.approx(realized_mae - 1.0)
    assert metric.fired is fires
    assert decision.action is (Action.RETRAIN if fires else Action.CONTINUE)


@pytest.mark.parametrize(("reference_kpi", "realized_kpi", "drop"), [
    (10.0, 8.99, 0.101), (10.0, 9.01, 0.099), (-100.0, -110.1, 0.101), (-100.0, -109.9, 0.099), (10.0, 12.0, -0.2),
])
def test_kpi_drop_is_relative_to_reference(reference_kpi: float, realized_kpi: float, drop: float) -> None:
    decision = run(reference_kpi=reference_kpi, realized_kpi=realized_kpi)
    kpi = rule(decision, "kpi_drop")
    assert kpi.value == pytest.approx(drop)
    assert kpi.threshold == 0.1
    assert kpi.fired is (drop > 0.1)
    assert decision.action is (Action.RETRAIN if drop > 0.1 else Action.CONTINUE)


def test_kpi_drop_unknown_without_kpis() -> None:
    kpi = rule(run(realized_kpi=None, kpi_name="profit"), "kpi_drop")
    assert (kpi.value, kpi.fired, kpi.says) == (None, False, "profit unknown: no labelled rows")


@pytest.mark.parametrize(("share", "fires"), [(0.51, True), (0.5, False)])
def test_drift_alone_continues(share: float, fires: bool) -> None:
    decision = run(drift_share=share)
    assert rule(decision, "drift_share").fired is fires
    assert decision.action is Action.CONTINUE
    assert "drift alone does not retrain" in rule(decision, "drift_share").says


def test_drift_retrains_when_configured() -> None:
    policy = POLICY.model_copy(update={"retrain_on_drift": True})
    assert run(policy=policy, drift_share=0.51).action is Action.RETRAIN
    assert run(policy=policy, drift_share=0.5).action is Action.CONTINUE


# --- precedence ---------------------------------------------------------------------


def test_wait_beats_retrain() -> None:
    policy = POLICY.model_copy(update={"retrain_on_drift": True})
    decision = run(policy=policy, rows=10, realized={"roc_auc": 0.5}, realized_kpi=0.0, drift_share=1.0)
    assert fired(decision) == {"min_rows", "metric_drop", "kpi_drop", "drift_share"}
    assert decision.action is Action.WAIT


def test_drops_need_enough_labels() -> None:
    decision = run(labelled=49, realized={"roc_auc": 0.5}, realized_kpi=0.0)
    assert fired(decision) == {"min_labels"}
    assert rule(decision, "metric_drop").value == pytest.approx(0.4)
    assert decision.action is Action.WAIT


# --- shape --------------------------------------------------------------------------


def test_every_rule_has_value_threshold_fired() -> None:
    decision = run(rows=5, realized={"roc_auc": 0.5}, drift_share=0.9)
    for r in decision.reasons:
        assert isinstance(r, Rule)
        assert r.value is not None and isinstance(r.value, float)
        assert r.threshold is not None and isinstance(r.threshold, float)
        assert isinstance(r.fired, bool) and r.says
    assert decision.summary() == "; ".join(r.says for r in decision.reasons if r.fired)


def test_decision_round_trips_through_json() -> None:
    for decision in (run(), run(rows=5, realized={}), run(data=REGRESSION, realized={"mae": 2.0}, reference={"mae": 1.0})):
        text = decision.model_dump_json()
        assert Decision.model_validate_json(text) == decision
    dumped = run().model_dump(mode="json")
    assert dumped["action"] == "continue"
    assert set(dumped["reasons"][0]) == {"rule", "value", "threshold", "fired", "says"}
