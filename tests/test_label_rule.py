"""The served label: expected value maximised for any probabilities and value table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leanloop.label_rule import LabelRule, break_even, check_value_table, expected_values, serve_indices


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 30))
    raw = draw(arrays(float, (n, k), elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0])))
    raw[raw.sum(axis=1) == 0, 0] = 1.0
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    # values include ties and all-negative tables
    values = draw(arrays(float, (k, k), elements=st.sampled_from([-5000.0, -100.0, -1.0, 0.0, 1.0, 1000.0])))
    return probabilities, values


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_served_label_maximises_expected_value_ties_to_the_first(case: tuple[np.ndarray, np.ndarray]) -> None:
    probabilities, values = case
    served = serve_indices(probabilities, values, LabelRule.EXPECTED_VALUE)
    ev = expected_values(probabilities, values)
    for row, j in enumerate(served):
        best = ev[row].max()
        assert ev[row, j] == best  # nothing is worth more
        assert j == int(np.flatnonzero(ev[row] == best)[0])  # ties: the first class in order
        for other in range(values.shape[1]):  # and by the definition, not only the matrix product
            direct = sum(probabilities[row, i] * values[i, other] for i in range(values.shape[0]))
            assert direct <= sum(probabilities[row, i] * values[i, j] for i in range(values.shape[0])) + 1e-9


def test_argmax_ignores_values() -> None:
    probabilities = np.array([[0.3, 0.7], [0.9, 0.1]])
    assert serve_indices(probabilities, np.array([[0, -1e6], [0, 1]]), LabelRule.ARGMAX).tolist() == [1, 0]
    assert serve_indices(probabilities, None, LabelRule.EXPECTED_VALUE).tolist() == [1, 0]


def test_binary_rule_is_a_threshold_at_break_even() -> None:
    values = np.array([[0.0, -5000.0], [0.0, 1000.0]])
    p = break_even(values)
    assert p == pytest.approx(5 / 6)
    grid = np.linspace(0, 1, 601)
    grid = grid[np.abs(grid - p) > 1e-9]  # at break-even itself rounding decides
    served = serve_indices(np.column_stack([1 - grid, grid]), values, LabelRule.EXPECTED_VALUE)
    assert served.tolist() == (grid > p).astype(int).tolist()


def test_agrees_with_scikit_learns_tuned_threshold_on_calibrated_scores() -> None:
    """scikit-learn's TunedThresholdClassifierCV searches the threshold that maximises the
    same gain by cross-validation; with calibrated probabilities it lands at break-even."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import TunedThresholdClassifierCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 2))
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(2 * X[:, 0] + X[:, 1] + 1.5)))).astype(int)
    values = np.array([[0.0, -5000.0], [0.0, 1000.0]])

    def gain(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(values[y_true, y_pred].sum())

    tuned = TunedThresholdClassifierCV(LogisticRegression(), scoring=make_scorer(gain), cv=3,
                                       thresholds=200, random_state=0).fit(X, y)
    assert tuned.best_threshold_ == pytest.approx(break_even(values), abs=0.03)
    model = LogisticRegression().fit(X, y)
    ours = serve_indices(model.predict_proba(X), values, LabelRule.EXPECTED_VALUE)
    argmax = model.predict(X)
    assert gain(y, ours) >= gain(y, tuned.predict(X)) - 0.005 * abs(gain(y, ours))
    assert gain(y, ours) > gain(y, argmax)


def test_a_table_that_cannot_choose_is_refused() -> None:
    with pytest.raises(ValueError, match=r"every prediction worth the same .* decision = \"argmax\""):
        check_value_table(np.array([[3.0, 3.0], [-1.0, -1.0]]), ["a", "b"])
    check_value_table(np.array([[0.0, -1.0], [0.0, 1.0]]), [0, 1])
