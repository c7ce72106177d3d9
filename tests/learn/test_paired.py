"""Paired bootstrap: identical outputs give zero, order flips the sign, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from leanloop.errors import InputError
from leanloop.learn.paired import accuracy, mean, paired_difference, statistic_for


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 800)
    weak = np.where(rng.random(800) < 0.7, y, 1 - y)
    strong = np.where(rng.random(800) < 0.85, y, 1 - y)
    return y, weak, strong


def test_identical_outputs_give_zero_with_a_zero_interval() -> None:
    y, weak, _ = _data()
    diff = paired_difference(y, weak, weak, statistic=accuracy, resamples=200, confidence=0.95, seed=1)
    assert (diff.value, diff.lower, diff.upper) == (0.0, 0.0, 0.0)


def test_order_flips_the_sign_and_seed_repeats() -> None:
    y, weak, strong = _data()
    up = paired_difference(y, weak, strong, statistic=accuracy, resamples=300, confidence=0.95, seed=3)
    down = paired_difference(y, strong, weak, statistic=accuracy, resamples=300, confidence=0.95, seed=3)
    assert up.value == pytest.approx(-down.value)
    assert up.lower == pytest.approx(-down.upper) and up.upper == pytest.approx(-down.lower)
    assert up == paired_difference(y, weak, strong, statistic=accuracy, resamples=300, confidence=0.95, seed=3)
    assert up.lower > 0.0


def test_mean_difference_interval_matches_scipy_paired_bootstrap() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.0, 1.0, 500)
    b = a + rng.normal(0.1, 0.3, 500)
    ours = paired_difference(np.zeros(500), a, b, statistic=mean, resamples=4000, confidence=0.9, seed=0)
    theirs = stats.bootstrap((a, b), lambda x, y: np.mean(y - x), paired=True, vectorized=False,
                             n_resamples=4000, confidence_level=0.9, method="percentile",
                             random_state=np.random.default_rng(0)).confidence_interval
    assert ours.value == pytest.approx(float(np.mean(b - a)))
    assert ours.lower == pytest.approx(theirs.low, abs=0.01) and ours.upper == pytest.approx(theirs.high, abs=0.01)


def test_unknown_metric_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="cannot bootstrap 'log_loss'"):
        statistic_for("log_loss")


def test_vectorised_auc_equals_scikit_learn_on_each_resample() -> None:
    from sklearn.metrics import roc_auc_score

    from leanloop.learn.paired import _auc_resampled

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * y, 2)  # rounded: many ties
    draws = rng.integers(0, 300, (20, 300))
    counts = np.stack([np.bincount(row, minlength=300) for row in draws]).astype(float)
    fast = _auc_resampled(y, scores, counts)
    slow = [roc_auc_score(y[idx], scores[idx]) for idx in draws]
    assert fast == pytest.approx(slow, abs=1e-12)


def test_fast_and_slow_paths_agree() -> None:
    y, weak, strong = _data(4)
    fast = paired_difference(y, weak, strong, statistic=accuracy, resamples=300, confidence=0.9, seed=8)
    slow = paired_difference(y, weak, strong, statistic=lambda t, o: float(np.mean(t == o)), resamples=300,
                             confidence=0.9, seed=8)
    assert (fast.lower, fast.upper) == pytest.approx((slow.lower, slow.upper), abs=1e-12)
