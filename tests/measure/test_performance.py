"""Tests for leanloop.measure.performance: values equal scikit-learn's, called directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from leanloop.measure.performance import classification_metrics, higher_is_better, regression_metrics

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
    assert set(out) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
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
    assert set(out) == {"mae", "rmse", "r2"}
    assert out["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), abs=TOL)
    assert out["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y_true, y_pred)), abs=TOL)
    assert out["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), abs=TOL)


def test_r2_omitted_for_one_row() -> None:
    assert regression_metrics([2.0], [3.5]) == {"mae": 1.5, "rmse": 1.5}


@pytest.mark.parametrize(("metric", "higher"), [
    ("roc_auc", True), ("accuracy", True), ("f1", True), ("r2", True),
    ("mae", False), ("rmse", False), ("mape", False), ("log_loss", False), ("brier", False),
])
def test_higher_is_better(metric: str, higher: bool) -> None:
    assert higher_is_better(metric) is higher
