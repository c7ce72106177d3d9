"""Tests for leanloop.learn.policy: every rule at its threshold, precedence, JSON shape."""

from __future__ import annotations

from typing import Any

import pytest

from leanloop.config import PolicyConfig
from leanloop.learn.evidence import Evidence, History, Previous
from leanloop.learn.ledger import Cycle
from leanloop.learn.ledger import history as history_from
from leanloop.learn.policy import Action, Decision, Rule, decide

POLICY = PolicyConfig(min_rows=100, min_labels=50, max_metric_drop=0.03, max_kpi_drop=0.1, max_drift_share=0.5,
                      cooldown_cycles=0)
RULES = ["min_rows", "champion_rows", "min_labels", "min_coverage", "quality", "metric_drop", "estimated_drop",
         "kpi_drop", "population", "drift_share", "multivariate_drift", "prediction_drift", "cooldown", "confirm",
         "same_evidence", "rollback",
         "baseline_margin", "failed_retrains", "shadow_trial", "drift_without_harm", "recalibrate", "adapt"]


def run(policy: PolicyConfig = POLICY, **overrides: Any) -> Decision:
    """A decision on a healthy window, with ``overrides`` applied to the evidence."""
    args: dict[str, Any] = {
        "rows": 1000, "champion_rows": 1000, "labelled": 500, "drift_share": 0.0, "metric": "roc_auc",
        "realized": 0.90, "reference": 0.90, "baseline": 0.5, "kpi": 10.0, "reference_kpi": 10.0,
    }
    args.update(overrides)
    return decide(Evidence(**args), policy)


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
    decision = run(realized=realized)
    metric = rule(decision, "metric_drop")
    assert metric.value == pytest.approx(0.90 - realized)
    assert metric.threshold == 0.03
    assert metric.fired is fires
    assert decision.action is (Action.RETRAIN if fires else Action.CONTINUE)


def test_metric_drop_unknown_without_metric() -> None:
    metric = rule(run(realized=None), "metric_drop")
    assert (metric.value, metric.fired) == (None, False)
    assert metric.says == "roc_auc unknown: no labelled rows"


def test_configured_metric_is_watched() -> None:
    decision = run(metric="f1", realized=0.5, reference=0.6)
    assert rule(decision, "metric_drop").value == pytest.approx(0.1)
    assert decision.action is Action.RETRAIN


@pytest.mark.parametrize(("realized_mae", "fires"), [(1.0301, True), (1.0299, False), (0.5, False)])
def test_regression_mae_increase_is_a_drop(realized_mae: float, fires: bool) -> None:
    decision = run(metric="mae", realized=realized_mae, reference=1.0, baseline=5.0)
    metric = rule(decision, "metric_drop")
    assert metric.value == pytest.approx(realized_mae - 1.0)
    assert metric.fired is fires
    assert decision.action is (Action.RETRAIN if fires else Action.CONTINUE)


@pytest.mark.parametrize(("reference_kpi", "realized_kpi", "drop"), [
    (10.0, 8.99, 0.101), (10.0, 9.01, 0.099), (-100.0, -110.1, 0.101), (-100.0, -109.9, 0.099), (10.0, 12.0, -0.2),
])
def test_kpi_drop_is_relative_to_reference(reference_kpi: float, realized_kpi: float, drop: float) -> None:
    decision = run(reference_kpi=reference_kpi, kpi=realized_kpi)
    kpi = rule(decision, "kpi_drop")
    assert kpi.value == pytest.approx(drop)
    assert kpi.threshold == 0.1
    assert kpi.fired is (drop > 0.1)
    assert decision.action is (Action.RETRAIN if drop > 0.1 else Action.CONTINUE)


def test_kpi_drop_unknown_without_kpis() -> None:
    kpi = rule(run(kpi=None, kpi_name="profit"), "kpi_drop")
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
    decision = run(policy=policy, rows=10, realized=0.6, kpi=0.0, drift_share=1.0)
    assert fired(decision) == {"min_rows", "metric_drop", "kpi_drop", "drift_share"}
    assert decision.action is Action.WAIT


def test_drops_need_enough_labels() -> None:
    decision = run(labelled=49, realized=0.6, kpi=0.0)
    assert fired(decision) == {"min_labels"}
    assert rule(decision, "metric_drop").value == pytest.approx(0.3)
    assert decision.action is Action.WAIT


# --- learning rules ---------------------------------------------------------------


def test_drift_without_harm_says_why_it_continues() -> None:
    decision = run(drift_share=0.8, drifted_features=["a", "b"], realized=0.91)
    assert decision.action is Action.CONTINUE
    held = rule(decision, "drift_without_harm")
    assert held.fired and "roc_auc held" in held.says and "(a, b)" in held.says


def test_estimated_drop_waits_for_labels_and_says_how_many() -> None:
    decision = run(labelled=10, realized=None, estimated=0.80)
    est = rule(decision, "estimated_drop")
    assert est.fired and est.value == pytest.approx(0.10)
    assert "40 more labels are needed to retrain" in est.says
    assert decision.action is Action.WAIT
    assert not rule(run(labelled=10, realized=None, estimated=0.89), "estimated_drop").fired


def test_metric_drop_needs_significance_when_an_interval_is_known() -> None:
    significant = run(realized=0.85, realized_lower=0.83, realized_upper=0.87)
    noisy = run(realized=0.85, realized_lower=0.78, realized_upper=0.92)
    assert rule(significant, "metric_drop").fired and significant.action is Action.RETRAIN
    assert not rule(noisy, "metric_drop").fired and "not significant" in rule(noisy, "metric_drop").says


def test_cooldown_and_confirmation_hold_a_retrain() -> None:
    harmed = {"realized": 0.80}
    cool = POLICY.model_copy(update={"cooldown_cycles": 2})
    assert run(cool, history=History(cycles_since_retrain=1), **harmed).action is Action.WAIT
    assert run(cool, history=History(cycles_since_retrain=2), **harmed).action is Action.RETRAIN
    confirm = POLICY.model_copy(update={"confirm_cycles": 3})
    first = run(confirm, **harmed)
    assert first.action is Action.WAIT and rule(first, "confirm").value == 1
    assert run(confirm, history=History(harm_streak=2), **harmed).action is Action.RETRAIN
    assert run(confirm, history=History(harm_streak=5)).action is Action.CONTINUE  # no harm now: nothing to confirm


def test_rollback_when_previous_is_significantly_better() -> None:
    better = Previous(version="v1", champion_metric=0.80, previous_metric=0.86, gain_lower=0.02, gain_upper=0.09,
                      rows=900)
    noise = Previous(version="v1", champion_metric=0.80, previous_metric=0.81, gain_lower=-0.01, gain_upper=0.03,
                     rows=900)
    decision = run(previous=better, realized=0.80)
    assert decision.action is Action.ROLLBACK
    assert "previous version v1 scores 0.8600" in rule(decision, "rollback").says
    assert run(previous=noise).action is Action.CONTINUE


def test_pivot_when_the_model_no_longer_beats_the_baseline() -> None:
    decision = run(realized=0.52, baseline=0.55)
    assert decision.action is Action.PIVOT
    assert rule(decision, "baseline_margin").value == pytest.approx(-0.03)
    regression = run(metric="mae", realized=2.0, reference=1.0, baseline=1.9)
    assert regression.action is Action.PIVOT


def test_pivot_after_retrains_that_did_not_recover_the_kpi() -> None:
    history = History(failed_retrains=3, harm_streak=3)
    decision = run(history=history, kpi=5.0)
    assert decision.action is Action.PIVOT
    assert "3 retrain(s)" in rule(decision, "failed_retrains").says
    assert run(history=History(failed_retrains=2, harm_streak=2), kpi=5.0).action is Action.RETRAIN
    assert run(history=history).action is Action.CONTINUE  # healthy again: no pivot


def test_quality_breaches_wait_only_when_limited() -> None:
    assert run(quality_breaches=["missing_rate:age"]).action is Action.CONTINUE
    limited = POLICY.model_copy(update={"max_quality_breaches": 0})
    decision = run(limited, quality_breaches=["missing_rate:age"], realized=0.8)
    assert decision.action is Action.WAIT and "missing_rate:age" in rule(decision, "quality").says


def test_coverage_rule() -> None:
    policy = POLICY.model_copy(update={"min_coverage": 0.6})
    decision = run(policy, labelled=500, rows=1000)
    assert rule(decision, "min_coverage").value == 0.5 and decision.action is Action.WAIT


def test_history_from_the_ledger() -> None:
    def entry(action: str, harmed: bool, challenger: str | None = None) -> Cycle:
        return Cycle.model_validate({"cycle": 1, "created_at": 0.0, "measurement": {}, "champion_before": "v1",
                                     "champion_after": "v1", "challenger": challenger,
                                     "decision": {"action": action, "reasons": [
                                         {"rule": "kpi_drop", "fired": harmed, "value": None, "threshold": None,
                                          "says": ""}]}})

    ledger = [entry("retrain", True, "v2"), entry("continue", False), entry("retrain", True, "v3"),
              entry("wait", True), entry("retrain", True, "v4")]
    assert history_from(ledger) == History(cycles_since_retrain=0, harm_streak=3, failed_retrains=2)
    assert history_from([*ledger, entry("continue", False)]) == History(cycles_since_retrain=1, harm_streak=0,
                                                                         failed_retrains=0)
    assert history_from([]) == History()


# --- shape --------------------------------------------------------------------------


def test_every_rule_has_value_threshold_fired() -> None:
    decision = run(rows=5, realized=0.6, drift_share=0.9)
    for r in decision.reasons:
        assert isinstance(r, Rule)
        assert r.value is None or isinstance(r.value, float)
        assert r.threshold is None or isinstance(r.threshold, float)
        assert isinstance(r.fired, bool) and r.says
    assert decision.summary() == "; ".join(r.says for r in decision.reasons if r.fired)


def test_decision_round_trips_through_json() -> None:
    for decision in (run(), run(rows=5, realized=None), run(metric="mae", realized=2.0, reference=1.0)):
        text = decision.model_dump_json()
        assert Decision.model_validate_json(text) == decision
    dumped = run().model_dump(mode="json")
    assert dumped["action"] == "continue"
    assert set(dumped["reasons"][0]) == {"rule", "value", "threshold", "fired", "says"}
    assert "[FIRED] min_rows" in run(rows=5).explain()


def prior_shift(**overrides: object) -> Evidence:
    """A window whose class mix moved while the model still ranks as on reference, and the KPI fell."""
    fields: dict[str, object] = {
        "rows": 5000, "champion_rows": 5000, "labelled": 4000, "metric": "roc_auc", "realized": 0.91,
        "realized_lower": 0.89, "realized_upper": 0.93, "reference": 0.91, "kpi": 40.0, "reference_kpi": 100.0,
        "ranking": 0.91, "ranking_lower": 0.89, "ranking_upper": 0.93, "ranking_reference": 0.91,
        "class_mix_shift": 0.25}
    fields.update(overrides)
    return Evidence(**fields)  # type: ignore[arg-type]


def test_prior_shift_recalibrates_instead_of_retraining() -> None:
    decision = decide(prior_shift(), PolicyConfig())
    assert decision.action is Action.RECALIBRATE
    assert {"kpi_drop", "recalibrate"} <= fired(decision)
    says = rule(decision, "recalibrate").says
    assert "still ranks as on reference" in says and "instead of retraining" in says


def test_a_ranking_that_fell_retrains_not_recalibrates() -> None:
    decision = decide(prior_shift(ranking=0.80, ranking_lower=0.78, ranking_upper=0.82), PolicyConfig())
    assert decision.action is Action.RETRAIN
    assert "the ranking fell" in rule(decision, "recalibrate").says


def test_recalibration_needs_the_mix_to_move_and_can_be_turned_off() -> None:
    assert decide(prior_shift(class_mix_shift=0.05), PolicyConfig()).action is Action.RETRAIN
    assert decide(prior_shift(), PolicyConfig(max_class_mix_shift=None)).action is Action.RETRAIN
    # too few labels: the rule waits like a retrain would
    assert decide(prior_shift(labelled=100), PolicyConfig()).action is not Action.RECALIBRATE


def lost_calibration(**overrides: object) -> Evidence:
    """The mix did not move; the probabilities lost calibration (ECE against the holdout)."""
    return prior_shift(**{"class_mix_shift": 0.01, "kpi": 95.0, "calibration_error": 0.11,
                          "calibration_reference": 0.02, "calibration_shift": 0.08,
                          "calibration_shift_lower": 0.05, **overrides})


def test_lost_calibration_recalibrates_while_the_ranking_holds() -> None:
    decision = decide(lost_calibration(), PolicyConfig())
    assert decision.action is Action.RECALIBRATE, decision.explain()
    says = rule(decision, "recalibrate").says
    assert "ECE 0.1100 vs 0.0200" in says and "instead of retraining" in says
    # within the noise (the interval's lower end below the limit), or the rule turned off: no action
    assert decide(lost_calibration(calibration_shift_lower=0.01), PolicyConfig()).action is Action.CONTINUE
    assert decide(lost_calibration(), PolicyConfig(max_calibration_shift=None)).action is Action.CONTINUE
    # the ranking fell too: the model, not only its probabilities, is out of date
    fell = decide(lost_calibration(ranking=0.80, ranking_lower=0.78, ranking_upper=0.82, realized=0.80,
                                   realized_lower=0.78, realized_upper=0.82), PolicyConfig())
    assert fell.action is Action.RETRAIN


def adapting(**overrides: object) -> Evidence:
    """A healthy window after a champion answered a change from 1,000 of its rows."""
    fields: dict[str, object] = {
        "rows": 1500, "champion_rows": 1500, "labelled": 1500, "metric": "roc_auc", "realized": 0.9,
        "reference": 0.9, "adapt_rows": 2500,
        "history": History(cycles_since_retrain=1, adapting_since=0.0, adapting_rows=1000)}
    fields.update(overrides)
    return Evidence(**fields)  # type: ignore[arg-type]


def test_a_champion_that_answered_a_change_from_few_rows_is_retrained_as_they_grow() -> None:
    policy = PolicyConfig(min_labels=300)
    decision = decide(adapting(), policy)
    assert decision.action is Action.RETRAIN and fired(decision) == {"adapt"}
    assert "learned the changed population from 1000 rows; 2500 are labelled" in rule(decision, "adapt").says
    # not yet twice as many rows, inside the cooldown, or no adaptation under way: nothing to do
    assert decide(adapting(adapt_rows=1900), policy).action is Action.CONTINUE
    assert decide(adapting(history=History(cycles_since_retrain=0, adapting_since=0.0, adapting_rows=1000)),
                  PolicyConfig(min_labels=300, cooldown_cycles=1)).action is Action.CONTINUE
    assert decide(adapting(adapt_rows=None, history=History()), policy).action is Action.CONTINUE
    # an overlapping window without enough new labels is no new evidence to act on
    assert decide(adapting(new_labels=100), policy).action is Action.CONTINUE
