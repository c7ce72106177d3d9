"""Every drift method: equal to scipy or to hand-computed values, and one contract for all."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from leanloop.errors import InputError
from leanloop.measure.drift import DriftMethod, DriftOptions, DriftResult
from leanloop.measure.drift.engine import SPECS, check_method, compare, prepare, run_method
from leanloop.measure.drift.hellinger import hellinger_from_counts
from leanloop.measure.drift.jensen_shannon import jensen_shannon_from_counts
from leanloop.measure.drift.l_infinity import l_infinity_from_counts
from leanloop.measure.drift.samples import CategoricalSample, NumericSample

TOL = 1e-9


def _num(seed: int, n: int, shift: float = 0.0, decimals: int | None = None) -> np.ndarray:
    x = np.random.default_rng(seed).normal(shift, 1, n)
    return np.round(x, decimals) if decimals is not None else x


def _run(method: DriftMethod, ref: object, cur: object, kind: str = "numeric", **options: object) -> DriftResult:
    return run_method(method, ref, cur, feature="x", kind=kind, options=DriftOptions(**options))


# --- equal to scipy (statistic and p-value, 1e-9) ----------------------------------


@pytest.mark.parametrize(("n", "m", "decimals"),
                         [(300, 250, None), (40, 40, 0), (20_000, 15_000, 2), (12_000, 30_001, 1)])
def test_ks_equals_scipy(n: int, m: int, decimals: int | None) -> None:
    ref, cur = _num(1, n, decimals=decimals), _num(2, m, 0.03, decimals)
    expected = stats.ks_2samp(ref, cur)
    result = _run(DriftMethod.KS, ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=TOL, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=TOL, abs=1e-300)


@pytest.mark.parametrize(("n", "m"), [(300, 250), (500, 500), (1001, 333)])
def test_wasserstein_equals_scipy_over_reference_std(n: int, m: int) -> None:
    ref, cur = _num(3, n, decimals=1), _num(4, m, 0.2, 1)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    result = _run(DriftMethod.WASSERSTEIN, ref, cur)
    assert result.statistic == pytest.approx(expected, rel=TOL)
    assert result.p_value is None and result.threshold == 0.1


def test_cramer_von_mises_equals_scipy() -> None:
    ref, cur = _num(5, 400), _num(6, 300, 0.1)
    expected = stats.cramervonmises_2samp(ref, cur)
    result = _run(DriftMethod.CRAMER_VON_MISES, ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=TOL)


def test_anderson_darling_equals_scipy() -> None:
    ref, cur = _num(7, 400), _num(8, 300, 0.25)
    try:
        with pytest.warns(UserWarning, match="p-value"):
            expected = stats.anderson_ksamp([ref, cur], variant="midrank")
    except TypeError:  # scipy before `variant`
        with pytest.warns(UserWarning, match="p-value"):
            expected = stats.anderson_ksamp([ref, cur])
    result = _run(DriftMethod.ANDERSON_DARLING, ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=TOL)


def test_chi_square_equals_scipy_with_unseen_and_vanished() -> None:
    ref = ["a"] * 30 + ["b"] * 50 + ["gone"] * 20
    cur = ["new"] * 20 + ["b"] * 35 + ["a"] * 45
    expected = stats.chi2_contingency(np.array([[30, 50, 20, 0], [45, 35, 0, 20]]))
    result = _run(DriftMethod.CHI_SQUARE, ref, cur, "categorical")
    assert result.statistic == pytest.approx(expected.statistic, rel=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=TOL)
    assert (result.unseen, result.vanished) == (["new"], ["gone"])


def test_z_test_squared_equals_uncorrected_chi_square() -> None:
    ref, cur = [True] * 70 + [False] * 30, [True] * 55 + [False] * 45
    expected = stats.chi2_contingency(np.array([[30, 70], [45, 55]]), correction=False)
    result = _run(DriftMethod.Z_TEST, ref, cur, "boolean")
    assert result.statistic**2 == pytest.approx(expected.statistic, rel=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=TOL)
    assert (result.unseen, result.vanished) == ([], [])


def test_jensen_shannon_equals_scipy_on_categories() -> None:
    ref, cur = list("aaabbc"), list("abbccc")
    expected = jensenshannon([3 / 6, 2 / 6, 1 / 6], [1 / 6, 2 / 6, 3 / 6], base=2)
    assert _run(DriftMethod.JENSEN_SHANNON, ref, cur, "categorical").statistic == pytest.approx(expected, rel=TOL)


# --- hand-computed golden values ----------------------------------------------------


def test_jensen_shannon_by_hand() -> None:
    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4).
    # KL(p||m) = 1/2 log2(2/3) + 1/2 log2(2);  KL(q||m) = log2(4/3)
    # JS divergence = (KL(p||m) + KL(q||m)) / 2; distance = its square root.
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    expected = math.sqrt((kl_p + kl_q) / 2)
    assert jensen_shannon_from_counts(np.array([5, 5]), np.array([10, 0]))[0] == pytest.approx(expected, rel=TOL)


def test_hellinger_by_hand() -> None:
    # p = (0.5, 0.5), q = (0.9, 0.1): H = sqrt(((sqrt.5 - sqrt.9)^2 + (sqrt.5 - sqrt.1)^2) / 2)
    expected = math.sqrt(((math.sqrt(0.5) - math.sqrt(0.9)) ** 2 + (math.sqrt(0.5) - math.sqrt(0.1)) ** 2) / 2)
    assert hellinger_from_counts(np.array([50, 50]), np.array([90, 10]))[0] == pytest.approx(expected, rel=TOL)
    assert hellinger_from_counts(np.array([1, 0]), np.array([0, 1]))[0] == pytest.approx(1.0, rel=TOL)


def test_psi_numeric_bins_by_hand() -> None:
    # Reference 1..8, bins=4: inner edges are the quartiles 2.75, 4.5, 6.25, so the
    # reference counts are 2, 2, 2, 2; current [1, 1, 1, 1, 5, 8, 9, 10] counts 4, 0, 1, 3.
    # PSI = sum (c - r) ln(c / r) with r = 1/4 and c = 4/8, 1e-4 (floored), 1/8, 3/8.
    r = 0.25
    expected = sum((c - r) * math.log(c / r) for c in (0.5, 1e-4, 0.125, 0.375))
    result = _run(DriftMethod.PSI, list(range(1, 9)), [1, 1, 1, 1, 5, 8, 9, 10], psi_bins=4)
    assert result.statistic == pytest.approx(expected, rel=TOL)


def test_l_infinity_by_hand() -> None:
    assert l_infinity_from_counts(np.array([50, 30, 20]), np.array([20, 30, 50]))[0] == pytest.approx(0.3)


def test_wasserstein_by_hand() -> None:
    # Every value moves by +2; the reference [0, 2, 4] has std sqrt(8/3).
    result = _run(DriftMethod.WASSERSTEIN, [0.0, 2.0, 4.0], [2.0, 4.0, 6.0])
    assert result.statistic == pytest.approx(2 / math.sqrt(8 / 3), rel=TOL)


# --- one contract for every method --------------------------------------------------


def _kind(method: DriftMethod) -> str:
    return "numeric" if SPECS[method].numeric is not None else "categorical"


def _sample(kind: str, seed: int, shifted: bool, n: int = 1500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "numeric":
        return rng.normal(1.0 if shifted else 0.0, 1, n)
    return rng.choice(["a", "b"], n, p=[0.3, 0.7] if shifted else [0.6, 0.4])


@pytest.mark.parametrize("method", list(DriftMethod))
def test_contract_identical_samples_are_not_drift(method: DriftMethod) -> None:
    ref = _sample(_kind(method), 1, False)
    result = _run(method, ref, ref.copy(), _kind(method))
    assert result.method is method and result.drifted is False
    if not SPECS[method].test:
        assert result.statistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", list(DriftMethod))
def test_contract_clear_shift_is_drift_and_round_trips(method: DriftMethod) -> None:
    kind = _kind(method)
    result = _run(method, _sample(kind, 2, False), _sample(kind, 3, True), kind)
    assert result.drifted is True
    assert (result.n_reference, result.n_current) == (1500, 1500)
    assert (result.p_value is None) is (not SPECS[method].test)
    assert DriftResult.model_validate_json(result.model_dump_json()) == result
    again = _run(method, _sample(kind, 2, False), _sample(kind, 3, True), kind)
    assert again.model_dump_json() == result.model_dump_json()


@pytest.mark.parametrize("method", [m for m in DriftMethod if SPECS[m].numeric and SPECS[m].categorical])
def test_binned_methods_read_both_kinds(method: DriftMethod) -> None:
    assert _run(method, _sample("numeric", 4, False), _sample("numeric", 5, True)).drifted
    assert _run(method, _sample("categorical", 4, False), _sample("categorical", 5, True), "categorical").drifted


def test_method_that_does_not_fit_the_kind_is_refused() -> None:
    with pytest.raises(InputError, match=r"feature 'city' is categorical: method 'wasserstein' does not apply"):
        check_method(DriftMethod.WASSERSTEIN, "categorical", "city")
    with pytest.raises(InputError, match=r"feature 'age' is numeric: method 'z_test' does not apply"):
        check_method("z_test", "numeric", "age")
    with pytest.raises(InputError, match=r"unknown drift method 'median'"):
        check_method("median", "numeric", "age")


def test_z_test_refuses_three_categories() -> None:
    with pytest.raises(InputError, match=r"feature 'x': the z-test compares two categories, the samples hold 3"):
        _run(DriftMethod.Z_TEST, list("aab"), list("abc"), "categorical")


# --- invariants (hypothesis) --------------------------------------------------------

numbers = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50)
labels = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=50)
SYMMETRIC_NUMERIC = [DriftMethod.KS, DriftMethod.CRAMER_VON_MISES]
SYMMETRIC_CATEGORICAL = [DriftMethod.JENSEN_SHANNON, DriftMethod.HELLINGER, DriftMethod.L_INFINITY,
                         DriftMethod.CHI_SQUARE]
DISTANCES = [DriftMethod.PSI, DriftMethod.JENSEN_SHANNON, DriftMethod.HELLINGER, DriftMethod.L_INFINITY]


@settings(max_examples=30, deadline=None)
@given(values=numbers)
def test_identical_numeric_samples_have_distance_zero(values: list[float]) -> None:
    for method in (DriftMethod.WASSERSTEIN, DriftMethod.PSI, DriftMethod.JENSEN_SHANNON, DriftMethod.HELLINGER,
                   DriftMethod.KS):
        result = _run(method, values, list(values))
        assert result.statistic == pytest.approx(0.0, abs=1e-9) and not result.drifted


@settings(max_examples=30, deadline=None)
@given(values=labels)
def test_identical_categorical_samples_have_distance_zero(values: list[str]) -> None:
    for method in [*DISTANCES, DriftMethod.CHI_SQUARE]:
        result = _run(method, values, list(values), "categorical")
        assert result.statistic == pytest.approx(0.0, abs=1e-9) and not result.drifted


@settings(max_examples=30, deadline=None)
@given(ref=numbers, cur=numbers)
def test_symmetric_numeric_methods_are_symmetric(ref: list[float], cur: list[float]) -> None:
    for method in SYMMETRIC_NUMERIC:
        if method is DriftMethod.CRAMER_VON_MISES and (len(ref) < 2 or len(cur) < 2):
            continue
        assert _run(method, ref, cur).statistic == pytest.approx(_run(method, cur, ref).statistic, rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(ref=labels, cur=labels)
def test_symmetric_categorical_methods_are_symmetric_and_distances_non_negative(ref: list[str], cur: list[str]) -> None:
    for method in SYMMETRIC_CATEGORICAL:
        forward = _run(method, ref, cur, "categorical").statistic
        assert forward == pytest.approx(_run(method, cur, ref, "categorical").statistic, rel=1e-9, abs=1e-12)
    for method in DISTANCES:
        assert _run(method, ref, cur, "categorical").statistic >= 0


@settings(max_examples=30, deadline=None)
@given(ref=numbers, cur=numbers, bins=st.integers(2, 12))
def test_psi_numeric_is_never_negative(ref: list[float], cur: list[float], bins: int) -> None:
    assert _run(DriftMethod.PSI, ref, cur, psi_bins=bins).statistic >= 0


# --- mergeable summaries ------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(parts=st.lists(numbers, min_size=1, max_size=5))
def test_numeric_summaries_merge_exactly(parts: list[list[float]]) -> None:
    merged = NumericSample.of(parts[0])
    for part in parts[1:]:
        merged = merged.merge(NumericSample.of(part))
    assert merged.values.tolist() == NumericSample.of([v for p in parts for v in p]).values.tolist()


@settings(max_examples=30, deadline=None)
@given(parts=st.lists(labels, min_size=1, max_size=5))
def test_categorical_summaries_merge_exactly(parts: list[list[str]]) -> None:
    merged = CategoricalSample.of(parts[0])
    for part in parts[1:]:
        merged = merged.merge(CategoricalSample.of(part))
    whole = CategoricalSample.of([v for p in parts for v in p])
    assert (merged.labels, merged.counts.tolist()) == (whole.labels, whole.counts.tolist())


def test_merged_chunks_give_the_same_result_as_the_whole() -> None:
    ref, cur = prepare(_num(9, 3000), "numeric", feature="x", side="r"), _num(10, 3000, 0.05)
    parts = [NumericSample.of(cur[i:i + 700]) for i in range(0, 3000, 700)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    for method in (DriftMethod.KS, DriftMethod.WASSERSTEIN, DriftMethod.PSI):
        whole = compare("x", "numeric", ref, NumericSample.of(cur), method=method, options=DriftOptions())
        assert compare("x", "numeric", ref, merged, method=method, options=DriftOptions()) == whole


def test_unused_categories_of_a_pandas_categorical_are_not_counted() -> None:
    import pandas as pd

    ref = pd.Series(pd.Categorical(["a", "b", "a"], categories=["a", "b", "z"]))
    cur = pd.Series(pd.Categorical(["a", "b", "b"], categories=["a", "b", "z"]))
    assert CategoricalSample.of(ref).labels == ["a", "b"]
    result = _run(DriftMethod.CHI_SQUARE, ref, cur, "categorical")
    assert (result.unseen, result.vanished) == ([], []) and 0 <= result.p_value <= 1
