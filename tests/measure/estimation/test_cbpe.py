"""Tests for CBPE on perfectly calibrated synthetic data: labels are drawn from the
probabilities (seeded), so the exact expected metrics are known analytically."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from leanloop.config import KpiConfig, KpiOutcome
from leanloop.errors import DataError, NotFittedError
from leanloop.measure.estimation import CBPE, Calibration
from leanloop.measure.performance import ClassRows, classification_table

EXACT = 1e-12


def draw(proba: np.ndarray, rng: np.random.Generator, times: int = 1) -> np.ndarray:
    """Class codes drawn from each row's probabilities, ``times`` times: (times, n)."""
    u = rng.uniform(size=(times, len(proba), 1))
    return np.minimum((u > np.cumsum(proba, axis=1)[None]).sum(axis=2), proba.shape[1] - 1)


def binary_scores(n: int, rng: np.random.Generator) -> np.ndarray:
    p = rng.beta(2, 2, n)
    return np.c_[1 - p, p]


KPI = KpiConfig(name="profit", default_value=1.0, outcomes=[
    KpiOutcome(actual=1, predicted=1, value=10.0), KpiOutcome(actual=0, predicted=1, value=-30.0)])


def test_binary_estimate_equals_the_analytic_expectation() -> None:
    rng = np.random.default_rng(0)
    proba = binary_scores(400, rng)
    cbpe = CBPE(classes=[0, 1], calibration=Calibration.NONE, kpi=KPI).fit(proba, draw(proba, rng)[0])
    est = cbpe.estimate(proba)
    p1, pred = proba[:, 1], proba.argmax(axis=1)
    tp, npp = p1[pred == 1].sum(), (pred == 1).sum()
    assert est.metrics["accuracy"].value == pytest.approx(proba[np.arange(400), pred].mean(), abs=EXACT)
    assert est.metrics["precision"].value == pytest.approx(tp / npp, abs=EXACT)
    assert est.metrics["recall"].value == pytest.approx(tp / p1.sum(), abs=EXACT)   # ratio of expectations
    assert est.metrics["f1"].value == pytest.approx(2 * tp / (npp + p1.sum()), abs=EXACT)
    # expected AUC: each row a positive with weight p and a negative with weight 1 - p
    doubled = skm.roc_auc_score(np.r_[np.ones(400), np.zeros(400)], np.r_[p1, p1], sample_weight=np.r_[p1, 1 - p1])
    assert est.metrics["roc_auc"].value == pytest.approx(doubled, abs=EXACT)
    value = np.where(pred == 1, 10.0 * p1 - 30.0 * (1 - p1), 1.0)
    assert est.kpis["profit"].value == pytest.approx(value.mean(), abs=EXACT)
    assert est.kpis["profit_total"].value == pytest.approx(value.sum(), abs=1e-9)
    assert np.allclose(est.confusion, [[(1 - p1)[pred == 0].sum(), (1 - p1)[pred == 1].sum()],
                                       [p1[pred == 0].sum(), tp]])


def test_realized_falls_inside_the_band_at_the_configured_rate() -> None:
    rng = np.random.default_rng(1)
    proba = binary_scores(500, rng)
    est = CBPE(classes=[0, 1], calibration=Calibration.NONE, seed=5, confidence=0.9).fit(
        proba, draw(proba, rng)[0]).estimate(proba)
    pred = proba.argmax(axis=1)
    labels = draw(proba, np.random.default_rng(99), times=400)
    realized = {m: [] for m in est.metrics}
    for truth in labels:
        table = classification_table(np.ones((1, 500)), ClassRows(truth, pred, proba, 2))
        for m in realized:
            realized[m].append(table[m][0])
    for m, values in realized.items():
        inside = np.mean([(est.metrics[m].lower <= v <= est.metrics[m].upper) for v in values])
        assert 0.85 <= inside <= 0.96, (m, inside)
        assert np.mean(values) == pytest.approx(est.metrics[m].value, abs=0.005), m


def test_isotonic_calibration_corrects_overconfident_scores() -> None:
    """The model reports p**0.4 (overconfident for positives); calibration on a labelled
    reference recovers the true probabilities, so the estimate meets the expectation."""
    rng = np.random.default_rng(2)
    true_ref = rng.uniform(size=20_000)
    labels = (rng.uniform(size=20_000) < true_ref).astype(int)
    score = lambda p: np.c_[1 - p**0.4, p**0.4]  # noqa: E731
    cbpe = CBPE(classes=[0, 1]).fit(score(true_ref), labels)
    true_new = rng.beta(2, 3, 4000)
    est = cbpe.estimate(score(true_new))
    pred = score(true_new).argmax(axis=1)
    expected_accuracy = np.where(pred == 1, true_new, 1 - true_new).mean()
    assert est.metrics["accuracy"].value == pytest.approx(expected_accuracy, abs=0.01)
    uncalibrated = (CBPE(classes=[0, 1], calibration=Calibration.NONE).fit(score(true_ref), labels)
                    .estimate(score(true_new)))
    assert abs(uncalibrated.metrics["accuracy"].value - expected_accuracy) > 0.05


def test_multiclass_with_string_labels_in_any_order() -> None:
    """NannyML's issue #346: multiclass CBPE with string labels. Classes here are text in
    a non-sorted order; the estimate must follow the probability columns, not sorting."""
    rng = np.random.default_rng(3)
    classes = ["yes", "no", "maybe"]
    proba = rng.dirichlet([2, 2, 2], 3000)
    labels = np.array(classes)[draw(proba, rng)[0]]
    cbpe = CBPE(classes=classes, seed=0).fit(proba, labels.tolist())
    analysis = rng.dirichlet([4, 1, 2], 2000)
    predictions = np.array(classes)[analysis.argmax(axis=1)].tolist()
    est = cbpe.estimate(analysis, predictions)
    pred = analysis.argmax(axis=1)
    assert est.metrics["accuracy"].value == pytest.approx(analysis[np.arange(2000), pred].mean(), abs=0.02)
    precision = np.mean([analysis[pred == c, c].sum() / (pred == c).sum() for c in range(3)])
    assert est.metrics["precision"].value == pytest.approx(precision, abs=0.02)
    codes = draw(analysis, np.random.default_rng(4))[0]
    truth = np.array(classes)[codes]
    realized = {"accuracy": skm.accuracy_score(truth, predictions),
                "f1": skm.f1_score(truth, predictions, average="macro", labels=classes),
                "roc_auc": skm.roc_auc_score(codes, analysis, multi_class="ovr", labels=[0, 1, 2])}
    for m, value in realized.items():
        assert est.metrics[m].lower - 0.01 <= value <= est.metrics[m].upper + 0.01, (m, value, est.metrics[m])
    # the same model with its columns listed in another order gives the same estimates
    order = [2, 0, 1]
    again = CBPE(classes=[classes[i] for i in order], seed=0).fit(proba[:, order], labels.tolist()).estimate(
        analysis[:, order], predictions)
    for m in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert again.metrics[m].value == pytest.approx(est.metrics[m].value, abs=1e-9)


def test_multiclass_exact_without_calibration() -> None:
    rng = np.random.default_rng(5)
    proba = rng.dirichlet([1, 1, 1, 1], 300)
    est = CBPE(classes=list("abcd"), calibration=Calibration.NONE).fit(proba, list("abcd") * 75).estimate(proba)
    pred = proba.argmax(axis=1)
    assert est.metrics["accuracy"].value == pytest.approx(proba[np.arange(300), pred].mean(), abs=EXACT)
    recall = np.mean([proba[pred == c, c].sum() / proba[:, c].sum() for c in range(4)])
    assert est.metrics["recall"].value == pytest.approx(recall, abs=EXACT)


def test_same_seed_same_band() -> None:
    rng = np.random.default_rng(6)
    proba = binary_scores(300, rng)
    labels = draw(proba, rng)[0]
    one = CBPE(classes=[0, 1], seed=3).fit(proba, labels).estimate(proba)
    two = CBPE(classes=[0, 1], seed=3).fit(proba, labels).estimate(proba)
    assert one == two


def test_clear_errors() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        CBPE(classes=[0, 1]).estimate(np.array([[0.5, 0.5]]))
    with pytest.raises(DataError, match="one column per class"):
        CBPE(classes=["a", "b", "c"]).fit(np.array([[0.5, 0.5]]), ["a"])
    with pytest.raises(DataError, match="'z', not one of the classes"):
        CBPE(classes=["a", "b"]).fit(np.array([[0.5, 0.5]]), ["z"])
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        CBPE(classes=[0, 1]).fit(np.array([[1.5, -0.5]]), [0])


@pytest.mark.parametrize("ties", [False, True])
def test_binary_draws_give_the_weight_matrix_figures(ties: bool) -> None:
    """The binary simulation's counts and ranks give what the (row, class) weight matrix
    gives, draw for draw: counts exactly, the KPI to rounding."""
    from leanloop.measure.estimation.cbpe import _BinaryDraws
    from leanloop.measure.kpi import outcome_table

    rng = np.random.default_rng(3)
    proba = binary_scores(700, rng)
    if ties:
        proba = np.round(proba, 1)
    predicted = rng.integers(0, 2, 700)
    k, n = 2, len(proba)
    rows = ClassRows(truth=np.tile(np.arange(k), n), predicted=np.repeat(predicted, k), proba=None, k=k)
    weights = rng.uniform(0.5, 2.0, n)
    kpi_values = outcome_table(KPI, [0, 1])[rows.truth, rows.predicted] * np.repeat(weights, k)
    drawn = draw(proba, rng, times=60)
    W = (drawn[:, :, None] == np.arange(k)).reshape(60, n * k).astype(float)
    cbpe = CBPE(classes=[0, 1], kpi=KPI)
    expected = cbpe._metrics(W, rows, proba)
    found = _BinaryDraws(rows.predicted[::k], proba[:, 1], kpi_values).metrics(drawn == 1)
    for name, values in expected.items():
        assert np.array_equal(found[name], values, equal_nan=True), name
    assert np.allclose(found["kpi"], W @ kpi_values / n, rtol=1e-12, atol=0)
