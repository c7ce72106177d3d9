"""Hard-case rules and per-row outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, mean_absolute_error

from leanloop.config import DataConfig, KpiConfig, KpiOutcome, SegmentsConfig, TestsetConfig
from leanloop.measure.hard_cases import Reason, select_hard_cases
from leanloop.measure.rows import RowOutcomes, row_outcomes
from leanloop.measure.segments import find_segments

BINARY = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])


def outcomes(error: list[float], loss: list[float], confidence: list[float]) -> RowOutcomes:
    return RowOutcomes(error=np.array(error, dtype=float), loss=np.array(loss, dtype=float),
                       kpi=np.zeros(len(error)), confidence=np.array(confidence, dtype=float))


def test_row_outcomes_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    proba1 = rng.random(300)
    proba = np.column_stack([1 - proba1, proba1])
    truth = (rng.random(300) < proba1).astype(int).tolist()
    pred = (proba1 >= 0.5).astype(int).tolist()
    kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=3.0),
                              KpiOutcome(actual=0, predicted=1, value=-7.0)])
    out = row_outcomes(truth, pred, proba, BINARY, kpi)
    assert out.loss.mean() == pytest.approx(log_loss(truth, proba, labels=[0, 1]), rel=1e-12)
    assert out.error.mean() == pytest.approx(np.mean(np.array(truth) != np.array(pred)))
    assert out.confidence.tolist() == pytest.approx(proba.max(axis=1).tolist())
    regression = DataConfig(path="d.csv", target="y", task="regression")
    reg = row_outcomes([1.0, 3.0, 2.0], [1.5, 2.0, 2.0], None, regression, KpiConfig(cost_per_unit_error=2.0))
    assert reg.loss.mean() == pytest.approx(mean_absolute_error([1.0, 3.0, 2.0], [1.5, 2.0, 2.0]))
    assert reg.kpi.tolist() == [-1.0, -2.0, 0.0]
    # Labels read back from JSON as floats still match integer classes.
    assert row_outcomes([1.0], [1], np.array([[0.2, 0.8]]), BINARY, KpiConfig()).error.tolist() == [0.0]


def test_confident_errors_respect_the_threshold_and_come_first() -> None:
    out = outcomes(error=[1, 1, 1, 0, 0], loss=[1.6, 3.0, 0.8, 0.05, 0.1], confidence=[0.8, 0.95, 0.55, 0.95, 0.9])
    picks = select_hard_cases(pd.DataFrame({"x": range(5)}), out, config=TestsetConfig(confidence=0.8))
    assert [(p.row, p.reason) for p in picks] == [(1, Reason.CONFIDENT_ERROR), (0, Reason.CONFIDENT_ERROR)]
    assert picks[0].detail == "wrong with confidence 0.950"


def test_high_loss_rows_are_above_the_mean_and_capped_per_reason() -> None:
    loss = np.linspace(0.0, 1.0, 100)
    out = outcomes(error=[0] * 100, loss=loss.tolist(), confidence=[0.55] * 100)  # right, by a low margin
    picks = select_hard_cases(pd.DataFrame({"x": range(100)}), out, config=TestsetConfig(per_reason=10))
    assert [p.row for p in picks] == list(range(99, 89, -1))
    assert {p.reason for p in picks} == {Reason.HIGH_LOSS}
    everything = select_hard_cases(pd.DataFrame({"x": range(100)}), out, config=TestsetConfig(per_reason=1000))
    assert sorted(p.row for p in everything) == list(range(50, 100))


def test_confident_right_predictions_are_never_hard_cases() -> None:
    # issue 11: correct predictions with a log loss of 3e-5 were stored as hard cases
    # because their loss was above a window mean that was smaller still
    loss = np.array([3e-5, 1e-6, 2e-6, 0.9, 4e-5])
    out = outcomes(error=[0, 0, 0, 0, 0], loss=loss.tolist(), confidence=[1.0, 1.0, 1.0, 0.55, 1.0])
    picks = select_hard_cases(pd.DataFrame({"x": range(5)}), out, config=TestsetConfig())
    assert [(p.row, p.reason) for p in picks] == [(3, Reason.HIGH_LOSS)]  # the low-margin one only
    wrong = outcomes(error=[1, 0, 0, 0, 0], loss=[0.7, 1e-6, 2e-6, 1e-6, 1e-6], confidence=[0.51, 1, 1, 1, 1])
    assert [p.row for p in select_hard_cases(pd.DataFrame({"x": range(5)}), wrong, config=TestsetConfig())] == [0]


def test_weak_segment_and_drifted_region_rows() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    frame = pd.DataFrame({"c": rng.choice(["a", "b", "c", "d"], n), "x": rng.normal(size=n)})
    weak = (frame["c"] == "d").to_numpy()
    loss = rng.exponential(1.0, n) + 1.5 * weak
    out = outcomes(error=[0] * n, loss=loss.tolist(), confidence=[0.55] * n)
    segments = find_segments(frame, -loss, config=SegmentsConfig())
    assert segments[0].segment == "c = d"
    reference = pd.DataFrame({"c": rng.choice(["a", "b", "c", "d"], n), "x": rng.normal(size=n) - 1.0})
    config = TestsetConfig(per_reason=20)
    picks = select_hard_cases(frame, out, config=config, segments=segments[:1], drifted=["x"],
                              reference=reference, bins=5)
    by_reason = {r: [p for p in picks if p.reason is r] for r in Reason}
    assert len(by_reason[Reason.HIGH_LOSS]) == 20
    segment_rows = [p.row for p in by_reason[Reason.WEAK_SEGMENT]]
    assert len(segment_rows) == 20 and all(weak[segment_rows])
    assert by_reason[Reason.WEAK_SEGMENT][0].detail == "c = d"
    # The reference is shifted left, so the top reference bin gained the most share.
    top_edge = np.quantile(reference["x"], 0.8)
    drifted = by_reason[Reason.DRIFTED_REGION]
    assert len(drifted) == 20 and all(frame["x"].to_numpy()[[p.row for p in drifted]] >= top_edge)
    assert drifted[0].detail.startswith(f"x in [{top_edge:.6g}, inf): share 20.0% -> ")
    # A row is kept once, under the first rule that picked it.
    rows = [p.row for p in picks]
    assert len(rows) == len(set(rows))
    assert all(loss[r] > loss.mean() for r in rows)


def logged_window(n: int, seed: int, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A window as the store returns it, with a planted weak category, and its reference."""
    rng = np.random.default_rng(seed)
    c = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n) + 1.0
    if task == "regression":
        truth = rng.normal(size=n)
        pred = truth + rng.normal(0, 0.2, n) + 2.0 * (c == "b")
        probabilities = [None] * n
    else:
        p1 = np.where(c == "b", 0.5, 0.9)
        truth = (rng.random(n) < p1).astype(int)
        pred = np.ones(n, dtype=int)
        probabilities = [{"0": 1 - q, "1": q} for q in np.full(n, 0.85)]
    window = pd.DataFrame({
        "prediction_id": [f"p{i}" for i in range(n)], "model_version": "v1",
        "features": [{"c": ci, "x": float(xi)} for ci, xi in zip(c, x, strict=True)],
        "prediction": pred.tolist(), "probabilities": probabilities,
        "label": [v if i % 10 else None for i, v in enumerate(truth.tolist())],
    })
    reference = pd.DataFrame({"c": rng.choice(["a", "b", "c"], n), "x": rng.normal(size=n)})
    return window, reference


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weak_spots_of_a_logged_window(task: str) -> None:
    from leanloop.config import ProjectConfig
    from leanloop.measure.hard_cases import weak_spots
    from leanloop.schema import Feature, Schema

    schema = Schema(features=[Feature(name="c", kind="categorical"), Feature(name="x", kind="numeric")])
    data = DataConfig(path="d.csv", target="y", task=task, classes=[0, 1] if task == "classification" else None)
    kpi = (KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                               KpiOutcome(actual=0, predicted=1, value=-1.0)])
           if task == "classification" else KpiConfig())
    config = ProjectConfig(data=data, schema=schema, kpi=kpi)
    window, reference = logged_window(2000, seed=21, task=task)
    spots = weak_spots(config, reference=reference, window=window, drifted=["x"])
    assert spots.segments[0].segment == "c = b" and spots.segments[0].metric == "net_value_regret"
    counts = spots.counts()
    assert list(counts) == ["confident_error", "high_loss", "weak_segment", "drifted_region"]
    assert sum(counts.values()) == len(spots.hard_cases) == len({c.prediction_id for c in spots.hard_cases})
    assert counts["drifted_region"] > 0 and counts["weak_segment"] > 0
    assert (counts["confident_error"] > 0) == (task == "classification")
    case = spots.hard_cases[0]
    row = window.set_index("prediction_id").loc[case.prediction_id]
    assert case.features == row["features"] and case.label == row["label"] and case.model_version == "v1"
    assert all(c.label is not None for c in spots.hard_cases)
