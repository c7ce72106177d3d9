"""Tests for leanloop.measure.drift: golden values, a contract every method passes, invariants."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from leanloop.errors import InputError
from leanloop.measure.drift import (
    DriftMethod,
    DriftOptions,
    DriftResult,
    chi_square_test,
    contingency_table,
    feature_drift,
    ks_test,
    psi_test,
)
from leanloop.schema import FeatureKind

RESULT_KEYS = {
    "feature", "kind", "method", "statistic", "p_value",
    "threshold", "drifted", "n_reference", "n_current",
    "threshold_mode", "unseen", "vanished",
}


# --- golden values ------------------------------------------------------------------


def test_ks_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 300), rng.normal(0.2, 1.1, 250)
    expected = stats.ks_2samp(ref, cur)
    result = ks_test(ref, cur, feature="x", alpha=0.01)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.threshold == 0.01
    assert result.drifted is bool(expected.pvalue < 0.01)
    assert (result.n_reference, result.n_current) == (300, 250)


def test_chi_square_equals_scipy_on_hand_built_table() -> None:
    ref = ["a"] * 30 + ["b"] * 50 + ["c"] * 20
    cur = ["c"] * 20 + ["b"] * 35 + ["a"] * 45
    expected = stats.chi2_contingency(np.array([[30, 50, 20], [45, 35, 20]]))
    result = chi_square_test(ref, cur, feature="city")
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.drifted is bool(expected.pvalue < 0.05)


def test_chi_square_statistic_by_hand() -> None:
    # Table [[50, 50, 0], [40, 40, 20]]: column totals 90, 90, 20, rows 100 each, so the
    # expected counts are 45, 45, 10 on both rows.
    # chi2 = 4 * (5**2 / 45) + (0 - 10)**2 / 10 + (20 - 10)**2 / 10 = 20/9 + 20
    result = chi_square_test(["a"] * 50 + ["b"] * 50, ["a"] * 40 + ["b"] * 40 + ["c"] * 20, feature="c")
    assert result.statistic == pytest.approx(20 / 9 + 20, rel=1e-12)


def test_psi_numeric_by_hand() -> None:
    # bins=2: reference quantiles at 0, 0.5, 1 of [1, 2, 3, 4] are 1, 2.5, 4, so the bins
    # are (-inf, 2.5] and (2.5, +inf).
    # reference counts 2, 2 -> proportions r = 0.5, 0.5
    # current [1, 1, 1, 4] counts 3, 1 -> proportions c = 0.75, 0.25
    # PSI = (0.75 - 0.5) * ln(0.75 / 0.5) + (0.25 - 0.5) * ln(0.25 / 0.5)
    #     = 0.25 * ln(1.5) + 0.25 * ln(2) = 0.25 * ln(3)
    result = psi_test([1, 2, 3, 4], [1, 1, 1, 4], feature="age", kind="numeric", bins=2)
    assert result.statistic == pytest.approx(0.25 * math.log(3), rel=1e-12)
    assert result.p_value is None
    assert result.threshold == 0.2
    assert result.drifted is True


def test_psi_categorical_empty_bin_uses_epsilon() -> None:
    # reference a, a, b, b -> r = 0.5, 0.5; current a, a, a, a -> c = 1.0, 0.0,
    # and the empty bin's 0.0 is floored at 1e-4.
    # PSI = (1 - 0.5) * ln(1 / 0.5) + (1e-4 - 0.5) * ln(1e-4 / 0.5)
    expected = 0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    result = psi_test(["a", "a", "b", "b"], ["a"] * 4, feature="city", kind="categorical")
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(result.statistic)


# --- contract: every method ---------------------------------------------------------


def _numeric(seed: int, shift: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1, 2000)


def _categorical(seed: int, shift: float) -> np.ndarray:
    p = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return np.random.default_rng(seed).choice(["a", "b", "c"], 2000, p=p)


Run = Callable[[object, object], DriftResult]
Sample = Callable[[int, float], np.ndarray]

CASES: dict[str, tuple[DriftMethod, Run, Sample]] = {
    "ks": (DriftMethod.KS, lambda r, c: ks_test(r, c, feature="x"), _numeric),
    "chi_square": (DriftMethod.CHI_SQUARE, lambda r, c: chi_square_test(r, c, feature="x"), _categorical),
    "psi_numeric": (DriftMethod.PSI, lambda r, c: psi_test(r, c, feature="x", kind="numeric"), _numeric),
    "psi_categorical": (
        DriftMethod.PSI,
        lambda r, c: psi_test(r, c, feature="x", kind="categorical"),
        _categorical,
    ),
}


def test_contract_covers_the_single_method_functions() -> None:
    # Every method is covered by tests/measure/test_drift_methods.py's contract suite.
    assert {method for method, _, _ in CASES.values()} == {DriftMethod.KS, DriftMethod.CHI_SQUARE, DriftMethod.PSI}


@pytest.mark.parametrize("name", CASES)
def test_identical_samples_are_not_drift(name: str) -> None:
    method, run, sample = CASES[name]
    ref = sample(1, 0)
    result = run(ref, ref.copy())
    assert result.method is method
    assert result.drifted is False
    assert result.statistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_results_round_trip_through_json(name: str) -> None:
    method, run, sample = CASES[name]
    result = run(sample(1, 0), sample(2, 1))
    assert DriftResult.model_validate_json(result.model_dump_json()) == result
    dumped = result.model_dump(mode="json")
    assert set(dumped) == RESULT_KEYS
    assert dumped["method"] == method.value


@pytest.mark.parametrize("name", CASES)
def test_same_input_same_output(name: str) -> None:
    _, run, sample = CASES[name]
    first = run(sample(3, 0), sample(4, 1))
    second = run(sample(3, 0), sample(4, 1))
    assert first.model_dump_json() == second.model_dump_json()


@pytest.mark.parametrize("name", CASES)
def test_clearly_shifted_sample_is_drift(name: str) -> None:
    _, run, sample = CASES[name]
    result = run(sample(5, 0), sample(6, 1))
    assert result.drifted is True
    assert (result.n_reference, result.n_current) == (2000, 2000)


# --- PSI invariants -----------------------------------------------------------------

numbers = st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60)
labels = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=60)


@given(ref=numbers, cur=numbers, bins=st.integers(2, 12))
def test_psi_numeric_is_never_negative(ref: list[float], cur: list[float], bins: int) -> None:
    assert psi_test(ref, cur, feature="x", kind="numeric", bins=bins).statistic >= 0


@given(ref=labels, cur=labels)
def test_psi_categorical_is_never_negative(ref: list[str], cur: list[str]) -> None:
    assert psi_test(ref, cur, feature="x", kind="categorical").statistic >= 0


@given(values=numbers, bins=st.integers(2, 12))
def test_psi_numeric_of_identical_inputs_is_zero(values: list[float], bins: int) -> None:
    assert abs(psi_test(values, list(values), feature="x", kind="numeric", bins=bins).statistic) <= 1e-12


@given(values=labels)
def test_psi_categorical_of_identical_inputs_is_zero(values: list[str]) -> None:
    assert abs(psi_test(values, list(values), feature="x", kind="categorical").statistic) <= 1e-12


# --- categories, booleans, missing values -------------------------------------------


def test_unseen_category_is_chi_square_drift() -> None:
    ref = ["a"] * 100 + ["b"] * 100
    cur = ["a"] * 85 + ["b"] * 85 + ["new"] * 30
    categories, table = contingency_table(pd.Series(ref), pd.Series(cur))
    assert categories == ["a", "b", "new"]
    assert table.tolist() == [[100, 100, 0], [85, 85, 30]]
    assert chi_square_test(ref, cur, feature="city").drifted is True


def test_single_category_overall_is_no_drift() -> None:
    result = chi_square_test(["a"] * 5, ["a"] * 9, feature="city")
    assert (result.statistic, result.p_value, result.drifted) == (0.0, 1.0, False)


def test_booleans_work() -> None:
    ref = pd.Series([True] * 80 + [False] * 20)
    shifted = pd.Series([True] * 40 + [False] * 60)
    options = DriftOptions()
    same = feature_drift(ref, ref.copy(), feature="flag", kind=FeatureKind.BOOLEAN, options=options)
    moved = feature_drift(ref, shifted, feature="flag", kind=FeatureKind.BOOLEAN, options=options)
    assert [r.method for r in moved] == [DriftMethod.Z_TEST, DriftMethod.PSI]  # two categories
    assert [r.drifted for r in same] == [False, False]
    assert [r.drifted for r in moved] == [True, True]
    assert {r.kind for r in moved} == {"boolean"}


def test_booleans_with_missing_values_match_plain_booleans() -> None:
    ref = pd.Series([True, False] * 10)  # bool dtype
    cur = pd.Series([True, None, False] * 10)  # object dtype because of None
    result = chi_square_test(ref, cur, feature="flag", kind="boolean")
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert (result.n_reference, result.n_current) == (20, 20)


def test_integer_codes_turned_float_by_missing_values_still_match() -> None:
    result = chi_square_test(pd.Series([1, 2, 1, 2]), pd.Series([1.0, 2.0, None, 1.0, 2.0]), feature="code")
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.drifted is False


def test_missing_values_are_dropped_and_counted() -> None:
    ref = pd.Series([1.0, None, 3.0, np.nan, 5.0])
    cur = pd.Series([2.0, 4.0, None])
    results = feature_drift(ref, cur, feature="age", kind=FeatureKind.NUMERIC, options=DriftOptions())
    assert [(r.n_reference, r.n_current) for r in results] == [(3, 2), (3, 2)]
    assert results[0].statistic == pytest.approx(stats.ks_2samp([1.0, 3.0, 5.0], [2.0, 4.0]).statistic)
    cats = chi_square_test(["a", None, "b", np.nan], ["a", None], feature="city")
    assert (cats.n_reference, cats.n_current) == (2, 1)


# --- feature_drift dispatch ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "methods"),
    [
        (FeatureKind.NUMERIC, [DriftMethod.KS, DriftMethod.PSI]),
        (FeatureKind.DATETIME, [DriftMethod.KS, DriftMethod.PSI]),
        (FeatureKind.CATEGORICAL, [DriftMethod.CHI_SQUARE, DriftMethod.PSI]),
        (FeatureKind.BOOLEAN, [DriftMethod.Z_TEST, DriftMethod.PSI]),
    ],
)
def test_feature_drift_picks_methods_by_kind(kind: FeatureKind, methods: list[DriftMethod]) -> None:
    samples = {
        FeatureKind.NUMERIC: pd.Series([1.0, 2.0, 3.0]),
        FeatureKind.DATETIME: pd.Series(pd.date_range("2024-01-01", periods=3, freq="D")),
        FeatureKind.CATEGORICAL: pd.Series(["a", "b", "c"]),
        FeatureKind.BOOLEAN: pd.Series([True, False, True]),
    }
    results = feature_drift(samples[kind], samples[kind], feature="f", kind=kind, options=DriftOptions())
    assert [r.method for r in results] == methods
    assert all(r.kind == kind.value and r.drifted is False for r in results)


def test_feature_drift_passes_options_through() -> None:
    options = DriftOptions(alpha=0.01, psi_threshold=0.5, psi_bins=4, large_sample=10_000)
    ref, cur = pd.Series(_numeric(1, 0)), pd.Series(_numeric(2, 0))
    ks, psi = feature_drift(ref, cur, feature="x", kind=FeatureKind.NUMERIC, options=options)
    assert (ks.threshold, psi.threshold) == (0.01, 0.5)
    expected = psi_test(_numeric(1, 0), _numeric(2, 0), feature="x", kind="numeric", threshold=0.5, bins=4)
    assert psi == expected


def test_datetime_is_compared_as_seconds_since_epoch() -> None:
    ref = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D"))
    cur = pd.Series(pd.date_range("2024-03-01", periods=100, freq="D", tz="UTC"))
    ks, psi = feature_drift(ref, cur, feature="signup", kind=FeatureKind.DATETIME, options=DriftOptions())
    epoch = pd.Timestamp("1970-01-01")
    ref_seconds = [(t - epoch).total_seconds() for t in ref]
    cur_seconds = [(t.tz_localize(None) - epoch).total_seconds() for t in cur]
    assert ks.statistic == pytest.approx(stats.ks_2samp(ref_seconds, cur_seconds).statistic)
    assert ks.drifted and psi.drifted


def test_datetime_missing_values_are_dropped() -> None:
    ref = pd.Series([pd.Timestamp("2024-01-01"), None, pd.Timestamp("2024-01-03")])
    cur = pd.Series([pd.Timestamp("2024-01-02"), pd.NaT])
    results = feature_drift(ref, cur, feature="signup", kind=FeatureKind.DATETIME, options=DriftOptions())
    assert [(r.n_reference, r.n_current) for r in results] == [(2, 1), (2, 1)]


# --- documented errors --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FeatureKind))
@pytest.mark.parametrize("current", [pd.Series([], dtype=object), pd.Series([None, None], dtype=object)])
def test_empty_current_raises(kind: FeatureKind, current: pd.Series) -> None:
    reference = pd.Series(["2024-01-01", "2024-01-02"]) if kind is FeatureKind.DATETIME else pd.Series([1, 0])
    with pytest.raises(InputError, match=r"feature 'age': the current sample has no non-missing values"):
        feature_drift(reference, current, feature="age", kind=kind, options=DriftOptions())


def test_empty_reference_raises() -> None:
    with pytest.raises(InputError, match=r"feature 'age': the reference sample has no non-missing values"):
        ks_test([np.nan], [1.0], feature="age")


def test_non_numbers_in_numeric_test_raise() -> None:
    with pytest.raises(InputError, match=r"feature 'age'.*must hold numbers.*got 'forty'"):
        ks_test([1.0, 2.0], ["forty"], feature="age")


def test_psi_unknown_kind_raises() -> None:
    with pytest.raises(InputError, match=r"unknown kind 'text'"):
        psi_test([1], [1], feature="x", kind="text")


def test_psi_too_few_bins_raises() -> None:
    with pytest.raises(InputError, match=r"bins >= 2, got 1"):
        psi_test([1, 2], [1, 2], feature="x", kind="numeric", bins=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("alpha", 1.5), ("alpha", 0.0), ("psi_threshold", 0.0), ("psi_bins", 1)],
)
def test_drift_options_reject_out_of_range(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        DriftOptions(**{field: value})


def test_drift_options_are_frozen_and_closed() -> None:
    with pytest.raises(ValidationError, match="alpah"):
        DriftOptions(alpah=0.1)
    options = DriftOptions()
    with pytest.raises(ValidationError, match="frozen"):
        options.alpha = 0.1  # type: ignore[misc]
