"""Bootstrapping a rescaled subsample of large samples (m-out-of-n) agrees with the full bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from leanloop.config import DataConfig, KpiConfig, KpiOutcome
from leanloop.measure.bootstrap import BootstrapOptions
from leanloop.measure.evaluation import evaluate_scored
from leanloop.measure.kpi import kpi_intervals
from leanloop.scoring import Scored


def test_a_subsampled_mean_interval_matches_the_textbook_interval() -> None:
    rng = np.random.default_rng(0)
    values = rng.exponential(2.0, 200_000)
    found = kpi_intervals(values, "v", BootstrapOptions(resamples=1000, max_rows=5000, seed=1))["v"]
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert found.value == pytest.approx(values.mean())
    assert found.lower == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert found.upper == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_subsampled_metric_intervals_agree_with_the_full_bootstrap_and_say_so() -> None:
    rng = np.random.default_rng(3)
    n = 15_000
    truth = rng.integers(0, 2, n)
    p = np.clip(0.5 + (truth - 0.5) * rng.uniform(0, 0.6, n) + rng.normal(0, 0.2, n), 0.01, 0.99)
    scored = Scored(labels=(p > 0.5).astype(int).tolist(), probabilities=np.c_[1 - p, p], classes=[0, 1])
    data = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])
    kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                              KpiOutcome(actual=0, predicted=1, value=-2.0)])
    full = evaluate_scored(scored, truth.tolist(), data, kpi, intervals=BootstrapOptions(resamples=200))
    sub = evaluate_scored(scored, truth.tolist(), data, kpi, intervals=BootstrapOptions(resamples=200, max_rows=3000))
    assert full.bootstrap_rows is None and sub.bootstrap_rows == 3000
    assert sub.metrics == full.metrics and sub.kpis == full.kpis
    for name in ("accuracy", "roc_auc", "net_value"):
        a = full.intervals.get(name) or full.kpi_intervals[name]
        b = sub.intervals.get(name) or sub.kpi_intervals[name]
        width = a.upper - a.lower
        assert b.value == a.value and b.lower <= b.value <= b.upper
        assert b.lower == pytest.approx(a.lower, abs=0.25 * width)
        assert b.upper == pytest.approx(a.upper, abs=0.25 * width)


def test_cbpe_bands_from_a_subsample_agree_with_the_full_simulation() -> None:
    from leanloop.measure.estimation.cbpe import CBPE, Calibration

    rng = np.random.default_rng(5)
    p = rng.beta(2, 2, 12_000)
    proba = np.c_[1 - p, p]
    kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                              KpiOutcome(actual=0, predicted=1, value=-2.0)])
    full = CBPE(classes=[0, 1], simulations=200, kpi=kpi, calibration=Calibration.NONE).fit(proba, [0, 1] * 6000)
    sub = CBPE(classes=[0, 1], simulations=200, kpi=kpi, calibration=Calibration.NONE, max_rows=3000).fit(
        proba, [0, 1] * 6000)
    a, b = full.estimate(proba), sub.estimate(proba)
    assert a.simulated_rows is None and b.simulated_rows == 3000 and a.rows == b.rows == 12_000
    for name in ("accuracy", "roc_auc"):
        x, y = a.metrics[name], b.metrics[name]
        width = x.upper - x.lower
        assert y.value == pytest.approx(x.value) and y.lower <= y.value <= y.upper
        assert y.lower == pytest.approx(x.lower, abs=0.3 * width) and y.upper == pytest.approx(x.upper, abs=0.3 * width)
    assert b.kpis["net_value"].value == pytest.approx(a.kpis["net_value"].value)
