"""The weak-segment finder: planted slices found, none invented, pairs, tests against scipy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from leanloop.config import Correction, SegmentsConfig
from leanloop.measure.segments import _p_values, adjust_p_values, find_segments


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": rng.choice(["north", "south", "east", "west"], n),
        "plan": rng.choice(["basic", "plus", "pro"], n),
        "age": rng.uniform(18, 80, n),
        "income": rng.lognormal(10, 0.5, n),
    })


def test_planted_weak_slice_is_found_and_ranked_first() -> None:
    frame = synthetic(4000, seed=1)
    rng = np.random.default_rng(2)
    values = rng.normal(10.0, 3.0, len(frame))
    planted = (frame["region"] == "east").to_numpy()
    values[planted] -= 2.0
    found = find_segments(frame, values, config=SegmentsConfig(), metric="profit")
    assert found, "the planted slice was not found"
    top = found[0]
    assert top.segment == "region = east" and top.rows == int(planted.sum())
    assert top.value == pytest.approx(values[planted].mean())
    assert top.overall == pytest.approx(values.mean())
    assert top.gap == pytest.approx(values.mean() - values[planted].mean())
    assert top.impact == pytest.approx(top.rows * top.gap)
    assert top.adjusted_p_value < 0.05 and top.p_value <= top.adjusted_p_value
    assert [s.impact for s in found] == sorted((s.impact for s in found), reverse=True)
    # Pairs that only repeat the weak parent are not reported.
    assert not any(" & " in s.segment and "region = east" in s.segment for s in found)


def test_planted_error_rate_in_a_quantile_bin_uses_reference_edges() -> None:
    reference = synthetic(2000, seed=3)
    frame = synthetic(3000, seed=4)
    rng = np.random.default_rng(5)
    edges = np.quantile(reference["age"], [0.8])
    weak = (frame["age"] >= edges[0]).to_numpy()
    errors = (rng.random(len(frame)) < np.where(weak, 0.3, 0.1)).astype(float)
    found = find_segments(frame, errors, config=SegmentsConfig(metric="error"), reference=reference,
                          binary=True, higher_is_better=False, metric="error_rate")
    assert found[0].segment == f"age in [{edges[0]:.6g}, inf)"
    assert found[0].conditions[0].low == pytest.approx(edges[0]) and found[0].conditions[0].high is None
    assert found[0].metric == "error_rate" and found[0].value > found[0].overall


@pytest.mark.parametrize("correction", [Correction.BH, Correction.HOLM])
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_nothing_reported_without_a_weak_slice(seed: int, correction: Correction) -> None:
    frame = synthetic(3000, seed=seed)
    values = np.random.default_rng(seed + 100).normal(0.0, 1.0, len(frame))
    config = SegmentsConfig(correction=correction, min_support=30)
    assert find_segments(frame, values, config=config) == []


def test_a_pair_is_found_when_only_the_pair_is_weak() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame({"a": rng.choice(["x", "y"], n), "b": rng.choice(["u", "v"], n), "z": rng.normal(size=n)})
    # XOR: (x, u) and (y, v) lose, (x, v) and (y, u) win; every single value averages out.
    sign = np.where((frame["a"] == "x") == (frame["b"] == "u"), -1.0, 1.0)
    values = sign + rng.normal(0.0, 1.0, n)
    found = find_segments(frame, values, config=SegmentsConfig())
    assert {s.segment for s in found} == {"a = x & b = u", "a = y & b = v"}
    assert all(len(s.conditions) == 2 for s in found)


def test_min_support_top_k_and_max_pairs() -> None:
    frame = synthetic(3000, seed=8)
    values = np.random.default_rng(9).normal(0.0, 1.0, len(frame))
    values[(frame["plan"] == "pro").to_numpy()] -= 1.0
    values[(frame["region"] == "west").to_numpy()] -= 0.8
    assert len(find_segments(frame, values, config=SegmentsConfig(top_k=1))) == 1
    assert find_segments(frame, values, config=SegmentsConfig(min_support=2000)) == []
    singles_only = find_segments(frame, values, config=SegmentsConfig(max_pairs=0))
    assert singles_only and all(len(s.conditions) == 1 for s in singles_only)


def test_same_input_same_result_and_stable_json() -> None:
    frame = synthetic(2000, seed=13)
    values = np.random.default_rng(14).normal(0.0, 1.0, len(frame)) - 1.5 * (frame["plan"] == "plus").to_numpy()
    first = find_segments(frame, values, config=SegmentsConfig())
    assert first == find_segments(frame, values, config=SegmentsConfig())
    body = json.loads(json.dumps(first[0].model_dump(mode="json")))
    assert list(body) == ["segment", "conditions", "rows", "metric", "value", "overall", "gap", "p_value",
                          "adjusted_p_value", "impact"]
    assert list(body["conditions"][0]) == ["feature", "value", "low", "high", "missing"]


def test_p_values_match_scipy_on_the_raw_samples() -> None:
    rng = np.random.default_rng(15)
    values = rng.normal(size=500)
    mask = rng.random(500) < 0.3
    welch = _p_values(mask[None, :], values, binary=False, higher_is_better=True)[0]
    expected = stats.ttest_ind(values[mask], values[~mask], equal_var=False, alternative="less").pvalue
    assert welch == pytest.approx(expected, rel=1e-9)
    errors = (rng.random(500) < 0.2).astype(float)
    fisher = _p_values(mask[None, :], errors, binary=True, higher_is_better=False)[0]
    table = [[errors[mask].sum(), (1 - errors[mask]).sum()], [errors[~mask].sum(), (1 - errors[~mask]).sum()]]
    assert fisher == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue, rel=1e-12)


def test_missing_values_and_categories_make_slices() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan] * 100, "c": ["a", "b"] * 100})
    values = np.where(frame["x"].isna(), -1.0, 1.0) + np.random.default_rng(0).normal(0, 0.1, 200)
    found = find_segments(frame, values, config=SegmentsConfig(min_support=20))
    assert found[0].segment in ("x is missing", "c = b")
    assert found[0].rows == 100


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_adjusted_p_values_bound_the_raw_ones_and_keep_their_order(p: list[float]) -> None:
    raw = np.array(p)
    for correction in Correction:
        adjusted = adjust_p_values(raw, correction)
        assert np.all(adjusted >= raw - 1e-12) and np.all(adjusted <= 1.0)
        order = np.argsort(raw, kind="stable")
        assert np.all(np.diff(adjusted[order]) >= -1e-12)
    # Holm is never more lenient than Benjamini-Hochberg.
    assert np.all(adjust_p_values(raw, Correction.HOLM) >= adjust_p_values(raw, Correction.BH) - 1e-12)
