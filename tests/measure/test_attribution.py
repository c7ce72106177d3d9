"""Model harm apart from population change: golden values by hand, prior shift, harm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.measure.attribution import BootstrapOptions, attribute, truth_strata

OPTIONS = BootstrapOptions(resamples=300, seed=1)


def detector(rng: np.random.Generator, n: int, share: float, miss_rate: float = 0.02) -> tuple[np.ndarray, ...]:
    """An anomaly detector's outcomes: truth, and savings per row (100 for a caught
    anomaly, -5 for a false alarm, 0 otherwise), catching ``1 - miss_rate`` of anomalies."""
    truth = (rng.random(n) < share).astype(int)
    caught = truth.astype(bool) & (rng.random(n) > miss_rate)
    false_alarm = ~truth.astype(bool) & (rng.random(n) < 0.01)
    return truth, np.where(caught, 100.0, 0.0) - 5.0 * false_alarm


def test_points_match_a_hand_computation() -> None:
    rng = np.random.default_rng(0)
    ref_s, win_s = rng.choice(list("abc"), 500), rng.choice(list("abc"), 300, p=[0.6, 0.3, 0.1])
    ref_v, win_v = rng.normal(size=500) + (ref_s == "a"), rng.normal(size=300) - 0.5 * (win_s == "b")
    split = attribute(ref_s, ref_v, win_s, win_v, OPTIONS)
    ref_means = pd.Series(ref_v).groupby(ref_s).mean()
    mix = pd.Series(win_s).value_counts(normalize=True)
    expected = float((mix * ref_means).sum())
    assert split.reference == pytest.approx(ref_v.mean(), abs=1e-12)
    assert split.realized == pytest.approx(win_v.mean(), abs=1e-12)
    assert split.expected.value == pytest.approx(expected, abs=1e-12)
    assert split.population.value == pytest.approx(expected - ref_v.mean(), abs=1e-12)
    assert split.model.value == pytest.approx(win_v.mean() - expected, abs=1e-12)
    assert [s.stratum for s in split.strata] == ["a", "b", "c"]
    assert split.model.lower <= split.model.value <= split.model.upper


def test_a_prior_shift_is_the_population_not_the_model() -> None:
    """The report's case: anomalies fall from 7 % to 2.6 %, savings fall with them, the
    model is as good as ever: the population moved, the model did not."""
    rng = np.random.default_rng(2)
    ref_truth, ref_value = detector(rng, 20_000, 0.07)
    win_truth, win_value = detector(rng, 6_000, 0.026)
    split = attribute(ref_truth, ref_value, win_truth, win_value, OPTIONS)
    assert win_value.mean() < 0.5 * ref_value.mean()  # the KPI did fall by half
    assert split.population_changed(tolerance=0.5) and split.population.upper < 0
    assert not split.harmed(tolerance=0.0)
    assert split.model.lower < 0 < split.model.upper


def test_a_worse_model_on_the_same_mix_is_harm() -> None:
    rng = np.random.default_rng(3)
    ref_truth, ref_value = detector(rng, 20_000, 0.07)
    win_truth, win_value = detector(rng, 6_000, 0.07, miss_rate=0.3)
    split = attribute(ref_truth, ref_value, win_truth, win_value, OPTIONS)
    assert split.harmed(tolerance=0.5)
    assert not split.population_changed(tolerance=0.5)


def test_both_at_once_are_told_apart() -> None:
    rng = np.random.default_rng(4)
    ref_truth, ref_value = detector(rng, 20_000, 0.07)
    win_truth, win_value = detector(rng, 8_000, 0.03, miss_rate=0.3)
    split = attribute(ref_truth, ref_value, win_truth, win_value, OPTIONS)
    assert split.harmed(tolerance=0.3) and split.population_changed(tolerance=1.0)
    # direct standardisation: expected on the window's mix with reference's per-class means
    assert split.expected.value == pytest.approx(
        0.03 * 98 + 0.97 * -0.05, abs=0.3)


def test_same_seed_same_result_and_identical_samples_are_no_change() -> None:
    rng = np.random.default_rng(5)
    truth, value = detector(rng, 2_000, 0.1)
    first = attribute(truth, value, truth, value, OPTIONS)
    assert first == attribute(truth, value, truth, value, OPTIONS)
    assert first.population.value == pytest.approx(0, abs=1e-12) and first.model.value == pytest.approx(0, abs=1e-12)
    assert first.model.lower <= 0 <= first.model.upper


def test_a_stratum_the_reference_never_saw_is_taken_as_realized() -> None:
    split = attribute(["a", "a"], [1.0, 3.0], ["a", "new"], [2.0, 50.0], BootstrapOptions(resamples=50))
    assert split.expected.value == pytest.approx(0.5 * 2.0 + 0.5 * 50.0)
    assert split.model.value == pytest.approx(0.0)


def test_empty_sides_are_refused() -> None:
    with pytest.raises(ValueError, match="reference and window must not be empty"):
        attribute([], [], ["a"], [1.0])


def test_regression_strata_are_reference_quantile_bins() -> None:
    ref, win = truth_strata(np.arange(100.0), np.array([-5.0, 10.0, 50.0, 1e6]), bins=4, continuous=True)
    assert sorted(set(ref.tolist())) == ["bin 1", "bin 2", "bin 3", "bin 4"]
    assert win.tolist() == ["bin 1", "bin 1", "bin 3", "bin 4"]
    assert pd.Series(ref).value_counts().tolist() == [25, 25, 25, 25]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("xyz"), st.floats(-100, 100)), min_size=1, max_size=40),
       st.lists(st.sampled_from("xyz"), min_size=1, max_size=40))
def test_a_window_that_repeats_reference_behaviour_has_no_model_effect(
        reference: list[tuple[str, float]], window_strata: list[str]) -> None:
    """When every window row earns its stratum's reference mean, all change is population."""
    strata = np.array([s for s, _ in reference])
    values = np.array([v for _, v in reference])
    means = pd.Series(values).groupby(strata).mean()
    known = [s for s in window_strata if s in means.index] or [strata[0]]
    split = attribute(strata, values, known, [means[s] for s in known], BootstrapOptions(resamples=20))
    assert split.model.value == pytest.approx(0.0, abs=1e-9)
    assert split.population.value + split.model.value == pytest.approx(split.realized - split.reference, abs=1e-9)


def test_beyond_max_rows_the_intervals_match_the_full_bootstrap() -> None:
    """A window of 40,000 rows resampled from 4,000 of them (rescaled): the same points and
    bounds within a fifth of the full bootstrap's interval width; below max_rows, the very
    same result."""
    rng = np.random.default_rng(5)
    ref_truth, ref_value = detector(rng, 8000, 0.10)
    win_truth, win_value = detector(rng, 40_000, 0.05, miss_rate=0.05)
    full = attribute(ref_truth, ref_value, win_truth, win_value, OPTIONS)
    capped = attribute(ref_truth, ref_value, win_truth, win_value, OPTIONS.model_copy(update={"max_rows": 4000}))
    assert (capped.reference, capped.realized) == (full.reference, full.realized)
    for name in ("expected", "population", "model"):
        a, b = getattr(full, name), getattr(capped, name)
        width = a.upper - a.lower
        assert b.value == pytest.approx(a.value, abs=1e-12)
        assert abs(b.lower - a.lower) < 0.2 * width and abs(b.upper - a.upper) < 0.2 * width, name
    roomy = OPTIONS.model_copy(update={"max_rows": 100_000})
    assert attribute(ref_truth, ref_value, win_truth, win_value, roomy) == full
