"""Tests for leanloop.measure.performance: values equal scikit-learn's, called directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from leanloop.measure.performance import (
    class_rows,
    classification_metrics,
    classification_table,
    higher_is_better,
    regression_metrics,
    regression_table,
)
from leanloop.measure.weighted import weighted_auc

TOL = 1e-9


def random_proba(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    raw = rng.random((n, k))
    return raw / raw.sum(axis=1, keepdims=True)


def test_binary_equals_sklearn() -> None:
    rng = np.random.default_rng(0)
    proba = random_proba(rng, 60, 2)
    y_true = rng.integers(0, 2, 60)
    y_pred = (proba[:, 1] + rng.normal(0, 0.2, 60) > 0.5).astype(int)
    out = classification_metrics(y_true.tolist(), y_pred.tolist(), proba, [0, 1])
    assert set(out) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier", "ece"}
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=TOL)
    assert out["precision"] == pytest.approx(skm.precision_score(y_true, y_pred), abs=TOL)
    assert out["recall"] == pytest.approx(skm.recall_score(y_true, y_pred), abs=TOL)
    assert out["f1"] == pytest.approx(skm.f1_score(y_true, y_pred), abs=TOL)
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, proba[:, 1]), abs=TOL)


def test_binary_second_class_is_positive() -> None:
    rng = np.random.default_rng(0)
    proba = random_proba(rng, 40, 2)
    y_true = rng.choice(["no", "yes"], 40)
    y_pred = rng.choice(["no", "yes"], 40)
    out = classification_metrics(y_true, y_pred, proba, ["no", "yes"])
    assert out["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, pos_label="yes"), abs=TOL)
    assert out["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, pos_label="yes"), abs=TOL)
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true == "yes", proba[:, 1]), abs=TOL)
    flipped = classification_metrics(y_true, y_pred, proba[:, ::-1], ["yes", "no"])
    assert flipped["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, pos_label="no"), abs=TOL)
    assert flipped["roc_auc"] == pytest.approx(out["roc_auc"], abs=TOL)


def test_multiclass_equals_sklearn() -> None:
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    proba = random_proba(rng, 90, 3)
    y_true = rng.choice(classes, 90)
    y_pred = rng.choice(classes, 90)
    out = classification_metrics(y_true.tolist(), y_pred.tolist(), proba, classes)
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=TOL)
    assert out["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro"), abs=TOL)
    assert out["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro"), abs=TOL)
    assert out["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"), abs=TOL)
    expected_auc = skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    assert out["roc_auc"] == pytest.approx(expected_auc, abs=TOL)


def test_roc_auc_omitted_for_single_class() -> None:
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    out = classification_metrics([1, 1, 1], [1, 0, 1], proba, [0, 1])
    assert "roc_auc" not in out
    assert out["accuracy"] == pytest.approx(2 / 3, abs=TOL)
    assert out["recall"] == pytest.approx(2 / 3, abs=TOL)


def test_roc_auc_omitted_when_a_class_is_absent_in_multiclass() -> None:
    rng = np.random.default_rng(0)
    proba = random_proba(rng, 6, 3)
    out = classification_metrics(["a", "b", "a", "b", "a", "b"], ["a", "b", "c", "b", "a", "a"], proba, ["a", "b", "c"])
    assert "roc_auc" not in out


def test_no_probabilities_no_roc_auc() -> None:
    out = classification_metrics([0, 1, 1], [0, 1, 0], None, [0, 1])
    assert set(out) == {"accuracy", "precision", "recall", "f1"}


def test_zero_division_is_zero() -> None:
    out = classification_metrics([0, 0, 1], [0, 0, 0], None, [0, 1])
    assert (out["precision"], out["recall"], out["f1"]) == (0.0, 0.0, 0.0)


def test_regression_equals_sklearn() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(10, 3, 50)
    y_pred = y_true + rng.normal(0, 1, 50)
    out = regression_metrics(y_true.tolist(), y_pred.tolist())
    assert set(out) == {"mae", "rmse", "mape", "r2"}
    assert out["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), abs=TOL)
    assert out["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y_true, y_pred)), abs=TOL)
    assert out["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), abs=TOL)


def test_r2_omitted_for_one_row() -> None:
    assert regression_metrics([2.0], [3.5]) == {"mae": 1.5, "rmse": 1.5, "mape": 0.75}


@pytest.mark.parametrize(("metric", "higher"), [
    ("roc_auc", True), ("accuracy", True), ("f1", True), ("r2", True),
    ("mae", False), ("rmse", False), ("mape", False), ("log_loss", False), ("brier", False),
])
def test_higher_is_better(metric: str, higher: bool) -> None:
    assert higher_is_better(metric) is higher


# --- probability metrics, MAPE, and the vectorised tables behind the bootstrap ---

def _ece_by_hand(confidence: np.ndarray, hit: np.ndarray, bins: int = 10) -> float:
    """ECE from scikit-learn's calibration_curve (uniform bins) and the bin counts."""
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(hit, confidence, n_bins=bins, strategy="uniform")
    counts = np.histogram(confidence, bins=np.linspace(0, 1, bins + 1))[0]
    counts = counts[counts > 0]
    return float(np.sum(counts / len(confidence) * np.abs(prob_true - prob_pred)))


def test_binary_probability_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(1)
    proba = random_proba(rng, 200, 2)
    y_true = (rng.random(200) < proba[:, 1]).astype(int)
    out = classification_metrics(y_true.tolist(), proba.argmax(axis=1).tolist(), proba, [0, 1])
    assert out["log_loss"] == pytest.approx(skm.log_loss(y_true, proba), abs=TOL)
    assert out["brier"] == pytest.approx(skm.brier_score_loss(y_true, proba[:, 1]), abs=TOL)
    assert out["ece"] == pytest.approx(_ece_by_hand(proba[:, 1], y_true), abs=TOL)


def test_multiclass_probability_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(2)
    classes = ["x", "y", "z"]
    proba = random_proba(rng, 150, 3)
    codes = np.array([rng.choice(3, p=p) for p in proba])
    y_true = np.array(classes)[codes]
    predicted = proba.argmax(axis=1)
    out = classification_metrics(y_true.tolist(), np.array(classes)[predicted].tolist(), proba, classes)
    assert out["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=classes), abs=TOL)
    assert out["brier"] == pytest.approx(skm.brier_score_loss(y_true, proba, labels=classes, scale_by_half=False),
                                         abs=TOL)
    assert out["ece"] == pytest.approx(_ece_by_hand(proba.max(axis=1), predicted == codes), abs=TOL)


def test_mape_equals_sklearn() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(10, 3, 50)
    y_pred = y_true + rng.normal(0, 1, 50)
    out = regression_metrics(y_true.tolist(), y_pred.tolist())
    assert out["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y_true, y_pred), abs=TOL)


@pytest.mark.parametrize("classes", [[0, 1], ["no", "yes"], ["a", "b", "c"]])
def test_weighted_table_equals_sklearn_with_sample_weight(classes: list) -> None:
    """A bootstrap resample is a count vector: the table must equal scikit-learn with
    those counts as sample_weight, metric by metric."""
    rng = np.random.default_rng(3)
    k, n = len(classes), 120
    proba = random_proba(rng, n, k)
    codes = np.array([rng.choice(k, p=p) for p in proba])
    y_true = np.array(classes, dtype=object)[codes]
    y_pred = np.array(classes, dtype=object)[(proba + rng.normal(0, 0.2, proba.shape)).argmax(axis=1)]
    rows = class_rows(y_true.tolist(), y_pred.tolist(), proba, classes)
    counts = rng.multinomial(n, np.full(n, 1 / n), size=3).astype(float)
    table = classification_table(np.vstack([np.ones(n), counts]), rows)
    avg = {"average": "binary", "pos_label": 1} if k == 2 else {"average": "macro", "labels": list(range(k))}
    for b, weights in enumerate([np.ones(n), *counts]):
        w = {"sample_weight": weights}
        truth, pred = rows.truth, rows.predicted
        assert table["accuracy"][b] == pytest.approx(skm.accuracy_score(truth, pred, **w), abs=TOL)
        assert table["precision"][b] == pytest.approx(skm.precision_score(truth, pred, zero_division=0, **avg, **w),
                                                      abs=TOL)
        assert table["recall"][b] == pytest.approx(skm.recall_score(truth, pred, zero_division=0, **avg, **w), abs=TOL)
        assert table["f1"][b] == pytest.approx(skm.f1_score(truth, pred, zero_division=0, **avg, **w), abs=TOL)
        auc = (skm.roc_auc_score(truth, proba[:, 1], **w) if k == 2 else
               skm.roc_auc_score(truth, proba, multi_class="ovr", average="macro", labels=list(range(k)), **w))
        assert table["roc_auc"][b] == pytest.approx(auc, abs=TOL)
        assert table["log_loss"][b] == pytest.approx(skm.log_loss(truth, proba, labels=list(range(k)), **w), abs=TOL)
        brier = (skm.brier_score_loss(truth, proba[:, 1], **w) if k == 2 else
                 skm.brier_score_loss(truth, proba, labels=list(range(k)), scale_by_half=False, **w))
        assert table["brier"][b] == pytest.approx(brier, abs=TOL)


def test_weighted_regression_table_equals_sklearn_with_sample_weight() -> None:
    rng = np.random.default_rng(4)
    n = 80
    y_true = rng.normal(5, 2, n)
    y_pred = y_true + rng.normal(0, 1, n)
    counts = rng.multinomial(n, np.full(n, 1 / n), size=3).astype(float)
    table = regression_table(np.vstack([np.ones(n), counts]), y_true, y_pred)
    for b, weights in enumerate([np.ones(n), *counts]):
        w = {"sample_weight": weights}
        assert table["mae"][b] == pytest.approx(skm.mean_absolute_error(y_true, y_pred, **w), abs=TOL)
        assert table["rmse"][b] == pytest.approx(math.sqrt(skm.mean_squared_error(y_true, y_pred, **w)), abs=TOL)
        assert table["mape"][b] == pytest.approx(skm.mean_absolute_percentage_error(y_true, y_pred, **w), abs=TOL)
        assert table["r2"][b] == pytest.approx(skm.r2_score(y_true, y_pred, **w), abs=TOL)


def test_auc_ties_count_one_half_like_sklearn() -> None:
    scores = np.array([0.5, 0.5, 0.5, 0.2, 0.9, 0.2])
    truth = np.array([1, 0, 1, 0, 1, 1])
    got = weighted_auc(scores, truth[None].astype(float), 1.0 - truth[None])
    assert got[0] == pytest.approx(skm.roc_auc_score(truth, scores), abs=TOL)



def test_the_auc_of_one_score_for_every_row_is_one_half_as_scikit_learn_says() -> None:
    from leanloop.measure.bootstrap import bootstrap_counts

    rng = np.random.default_rng(2)
    y = (rng.random(500) < 0.3).astype(float)
    W = bootstrap_counts(500, 20, rng)
    scores = np.full(500, 0.3)
    found = weighted_auc(scores, W * y, W * (1 - y))
    assert found.tolist() == [skm.roc_auc_score(y, scores, sample_weight=w) for w in W]
    assert np.isnan(weighted_auc(scores, W * 0.0, W)).all()


@pytest.mark.parametrize("ties", [False, True])
def test_the_labelled_auc_is_the_weighted_auc_of_the_same_rows(ties: bool) -> None:
    """Bootstrap counts give the very same AUCs (every sum exact); fractional weights
    the same to rounding; a weighting without a positive or a negative row is NaN."""
    from leanloop.measure.bootstrap import bootstrap_counts
    from leanloop.measure.weighted import labelled_auc

    rng = np.random.default_rng(5)
    scores = rng.uniform(size=3000)
    if ties:
        scores = np.round(scores, 2)
    y = rng.random(3000) < scores
    W = bootstrap_counts(3000, 50, rng)
    assert np.array_equal(labelled_auc(scores, y, W), weighted_auc(scores, W * y, W * ~y))
    fractions = rng.uniform(size=(4, 3000))
    assert np.allclose(labelled_auc(scores, y, fractions), weighted_auc(scores, fractions * y, fractions * ~y),
                       rtol=1e-12, atol=0)
    only = np.zeros((2, 3000))
    only[0, y], only[1, ~y] = 1.0, 1.0
    assert np.isnan(labelled_auc(scores, y, only)).all()
    assert labelled_auc(np.full(3000, 0.3), y, W).tolist() == [0.5] * 50


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counted_metrics_equal_sklearn_on_random_rows_with_ties(k: int, seed: int) -> None:
    # the point metrics are counted on class codes, not by scikit-learn's calls: the same figures
    rng = np.random.default_rng(seed)
    n = 5_000
    proba = rng.dirichlet(np.ones(k), n).round(2)  # rounded: many tied scores
    proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
    proba = np.clip(proba, 0.0, 1.0)
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.7, proba.argmax(axis=1), rng.integers(0, k, n))
    classes = list(range(k))
    out = classification_metrics(y_true, y_pred, proba, classes)
    avg = {"average": "binary"} if k == 2 else {"average": "macro"}
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), rel=1e-12)
    assert out["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, zero_division=0, **avg), rel=1e-12)
    assert out["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, zero_division=0, **avg), rel=1e-12)
    assert out["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, zero_division=0, **avg), rel=1e-12)
    expected_auc = (skm.roc_auc_score(y_true, proba[:, 1]) if k == 2
                    else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
    assert out["roc_auc"] == pytest.approx(expected_auc, rel=1e-12)
    assert out["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=classes), rel=1e-12)
    expected_brier = (skm.brier_score_loss(y_true, proba[:, 1]) if k == 2
                      else skm.brier_score_loss(y_true, proba, labels=classes, scale_by_half=False))
    assert out["brier"] == pytest.approx(expected_brier, rel=1e-12)


def test_counted_metrics_zero_division_for_a_class_never_predicted() -> None:
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 0, 0, 0])
    out = classification_metrics(y_true, y_pred, None, [0, 1, 2])
    assert out["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))
    assert out["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
