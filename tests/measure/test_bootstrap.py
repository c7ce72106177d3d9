"""Tests for leanloop.measure.bootstrap: seeded, deterministic, honest intervals."""

from __future__ import annotations

import numpy as np
import pytest

from leanloop.measure.bootstrap import BootstrapOptions, bootstrap, bootstrap_counts


def mean_table(values: np.ndarray):
    return lambda W: {"mean": W @ values / W.sum(axis=1)}


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    values = np.random.default_rng(0).normal(size=300)
    first = bootstrap(mean_table(values), 300, BootstrapOptions(resamples=400, seed=7))
    again = bootstrap(mean_table(values), 300, BootstrapOptions(resamples=400, seed=7))
    other = bootstrap(mean_table(values), 300, BootstrapOptions(resamples=400, seed=8))
    assert first == again
    assert first != other


def test_counts_draw_n_rows_each() -> None:
    counts = bootstrap_counts(50, 30, np.random.default_rng(0))
    assert counts.shape == (30, 50)
    assert (counts.sum(axis=1) == 50).all()


def test_blocks_give_the_same_intervals_as_one_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory blocking must not change the numbers."""
    import leanloop.measure.bootstrap as module

    values = np.random.default_rng(1).normal(size=100)
    whole = bootstrap(mean_table(values), 100, BootstrapOptions(resamples=120, seed=3))
    monkeypatch.setattr(module, "BLOCK_CELLS", 1000)   # 10 resamples per block
    blocked = bootstrap(mean_table(values), 100, BootstrapOptions(resamples=120, seed=3))["mean"]
    # the same resamples; only the matrix product's rounding may differ
    assert (blocked.lower, blocked.upper) == pytest.approx((whole["mean"].lower, whole["mean"].upper), abs=1e-12)


def test_interval_of_a_mean_matches_the_normal_approximation() -> None:
    values = np.random.default_rng(2).normal(10, 2, 2000)
    found = bootstrap(mean_table(values), 2000, BootstrapOptions(resamples=2000, confidence=0.95, seed=0))["mean"]
    half = 1.96 * values.std() / np.sqrt(len(values))
    assert found.value == pytest.approx(values.mean())
    assert found.upper - found.lower == pytest.approx(2 * half, rel=0.1)
    assert found.lower < found.value < found.upper


def test_empty_rows_give_no_interval() -> None:
    assert bootstrap(mean_table(np.array([])), 0, BootstrapOptions()) == {}
