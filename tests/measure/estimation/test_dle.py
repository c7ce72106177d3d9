"""Tests for DLE on heteroscedastic synthetic data whose expected losses are known:
truth = 3x + noise with standard deviation 0.2 + x, the model predicts 3x, so
E|error| = sd(x) sqrt(2/pi) and E[error^2] = sd(x)^2, row by row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leanloop.config import KpiConfig
from leanloop.errors import DataError, NotFittedError
from leanloop.measure.estimation import DLE


def rows(n: int, low: float, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    x = rng.uniform(low, 1.0, n)
    colour = rng.choice(["red", "blue"], n)
    sd = 0.2 + x
    truth = 3 * x + rng.normal(0, sd)
    return pd.DataFrame({"x": x, "colour": colour}), 3 * x, truth, sd


@pytest.fixture(scope="module")
def fitted() -> DLE:
    X, pred, truth, _ = rows(4000, 0.0, np.random.default_rng(0))
    kpi = KpiConfig(name="cost", over_cost_per_unit=2.0, under_cost_per_unit=1.0)
    return DLE(seed=0, kpi=kpi, max_iter=60).fit(X, pred, truth)


def test_estimates_meet_the_analytic_expectation_under_covariate_shift(fitted: DLE) -> None:
    X, pred, truth, sd = rows(3000, 0.5, np.random.default_rng(1))   # only the noisier half
    est = fitted.estimate(X, pred)
    expected_mae = float(np.mean(sd) * math.sqrt(2 / math.pi))
    expected_rmse = float(math.sqrt(np.mean(sd**2)))
    assert est.metrics["mae"].value == pytest.approx(expected_mae, rel=0.05)
    assert est.metrics["rmse"].value == pytest.approx(expected_rmse, rel=0.05)
    # symmetric noise: half the rows over (cost 2), half under (cost 1)
    assert est.kpis["cost"].value == pytest.approx(-1.5 * expected_mae, rel=0.06)
    # under covariate shift the loss model extrapolates from half the reference: the
    # realized value stays within twice the band's half-width
    realized_mae = float(np.abs(truth - pred).mean())
    half = est.metrics["mae"].upper - est.metrics["mae"].value
    assert abs(realized_mae - est.metrics["mae"].value) <= 2 * half


def test_realized_falls_inside_the_band_without_shift(fitted: DLE) -> None:
    inside = {"mae": 0, "rmse": 0}
    for seed in range(10):
        X, pred, truth, _ = rows(1000, 0.0, np.random.default_rng(100 + seed))
        est = fitted.estimate(X, pred)
        realized = {"mae": np.abs(truth - pred).mean(), "rmse": np.sqrt(((truth - pred) ** 2).mean())}
        for m, value in realized.items():
            inside[m] += est.metrics[m].lower <= value <= est.metrics[m].upper
    assert inside["mae"] >= 8 and inside["rmse"] >= 8, inside


def test_bands_narrow_with_more_rows(fitted: DLE) -> None:
    X, pred, _, _ = rows(2000, 0.0, np.random.default_rng(2))
    small, large = fitted.estimate(X.head(100), pred[:100]), fitted.estimate(X, pred)
    width = lambda e: e.metrics["mae"].upper - e.metrics["mae"].lower  # noqa: E731
    assert width(large) < width(small) / 3


def test_weights_scale_the_kpi(fitted: DLE) -> None:
    X, pred, _, _ = rows(500, 0.0, np.random.default_rng(3))
    plain = fitted.estimate(X, pred)
    doubled = fitted.estimate(X, pred, weights=np.full(500, 2.0))
    assert doubled.kpis["cost"].value == pytest.approx(2 * plain.kpis["cost"].value)
    assert doubled.metrics["mae"].value == pytest.approx(plain.metrics["mae"].value)


def test_clear_errors(fitted: DLE) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        DLE().estimate(pd.DataFrame({"x": [1.0]}), [1.0])
    with pytest.raises(DataError, match="at least 20 reference rows"):
        DLE().fit(pd.DataFrame({"x": [1.0, 2.0]}), [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(DataError, match=r"columns \['colour'\]"):
        fitted.estimate(pd.DataFrame({"x": [0.5]}), [1.5])
