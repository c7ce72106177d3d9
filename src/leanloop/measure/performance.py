"""Realized performance: scikit-learn's metrics on rows whose ground truth is known,
with bootstrap confidence intervals.

Classification: accuracy, precision, recall, F1 (binary: the second class of
``classes`` is positive; multiclass: macro averages over all ``classes``), ROC AUC
(multiclass: one-vs-rest, macro), log loss, Brier score (binary: mean squared error of
the positive probability; multiclass: summed over classes, as scikit-learn) and
expected calibration error ``ece`` (10 equal-width bins; binary: of the positive
probability; multiclass: of the top-label confidence). Regression: MAE, RMSE, MAPE, R².

Examples
--------
>>> import numpy as np
>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]), [0, 1])
>>> {k: round(v, 4) for k, v in m.items()}  # doctest: +NORMALIZE_WHITESPACE
{'accuracy': 0.75, 'precision': 1.0, 'recall': 0.5, 'f1': 0.6667, 'roc_auc': 1.0, 'log_loss': 0.4004,
 'brier': 0.125, 'ece': 0.3}
>>> {k: round(v, 4) for k, v in regression_metrics([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]).items()}
{'mae': 0.5, 'rmse': 0.6455, 'mape': 0.25, 'r2': 0.7321}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.measure.distinct import by_distinct
from leanloop.measure.weighted import confusion, labelled_auc, ratio, weighted_ece

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

__all__ = ["classification_metrics", "confusion_table", "regression_metrics", "higher_is_better", "ClassRows",
           "class_rows", "classification_table", "regression_table"]

_LOWER_IS_BETTER = {"mae", "rmse", "mape", "log_loss", "brier", "ece"}


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is an improvement.

    >>> higher_is_better("roc_auc"), higher_is_better("mae")
    (True, False)
    """
    return metric not in _LOWER_IS_BETTER


@dataclass(frozen=True)
class ClassRows:
    """Labelled classification rows as class codes (positions in ``classes``)."""

    truth: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None
    k: int

    @property
    def binary(self) -> bool:
        return self.k == 2


def class_rows(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray,
               proba: np.ndarray | None, classes: list[Any]) -> ClassRows:
    """Codes of truth and prediction; labels compare as text, so ``1`` and ``"1"`` agree."""
    import numpy as np

    index = {str(c): i for i, c in enumerate(classes)}

    def codes(values: Sequence[Any] | np.ndarray, what: str) -> np.ndarray:
        # Each distinct label (by type and value: True is not 1) is mapped once, in C
        # when the labels share one type; mapping every row cost 1.2 s of a 100k-row measurement.
        try:
            return by_distinct(values, lambda value: index[_text(value)]).astype(int)
        except KeyError as exc:
            from leanloop.errors import DataError

            raise DataError(f"{what} holds the label {exc.args[0]!r}, not one of the classes {classes}") from None

    return ClassRows(codes(y_true, "the truth"), codes(y_pred, "the predictions"),
                     None if proba is None else np.asarray(proba, dtype=float), len(classes))


def _text(label: Any) -> str:
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label)


def classification_metrics(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray,
                           proba: np.ndarray | None, classes: list[Any]) -> dict[str, float]:
    """scikit-learn's classification metrics on these rows (its sums, on the class codes;
    multiclass ROC AUC by scikit-learn itself).

    ROC AUC is left out when the rows hold a single class (multiclass: when any class is
    missing), since it is undefined there; probability metrics need ``proba``.
    """
    import numpy as np

    from leanloop.errors import DataError

    binary = len(classes) == 2
    labels = list(range(len(classes)))
    try:
        rows = class_rows(y_true, y_pred, proba, classes)
    except DataError:
        if proba is not None:
            raise
        return _label_metrics(y_true, y_pred, classes)  # labels outside the classes: scikit-learn's own way
    out = _count_metrics(rows)
    if rows.proba is None:
        return out
    present = int((np.bincount(rows.truth, minlength=len(classes)) > 0).sum())
    if binary and present > 1:
        out["roc_auc"] = float(labelled_auc(rows.proba[:, 1], rows.truth == 1, np.ones((1, len(rows.truth))))[0])
    elif not binary and present == len(classes):
        from sklearn import metrics as skm  # its check that each row's probabilities sum to one

        out["roc_auc"] = float(skm.roc_auc_score(rows.truth, rows.proba, multi_class="ovr", labels=labels))
    out.update(_probability_metrics(rows, rows.proba))
    return out


# Hand-written over scikit-learn's metrics on purpose: the sums are theirs (tests compare
# them with scikit-learn's), but each of its calls checks its input again (np.unique and
# type_of_target over every row: 0.6 s of a 1M-row window's model and baseline metrics).
def _count_metrics(rows: ClassRows) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (binary: of class 1; else macro) from the
    confusion counts of the class codes, ``zero_division=0``, as scikit-learn's."""
    import numpy as np

    k = rows.k
    matrix = np.bincount(rows.truth * k + rows.predicted, minlength=k * k).reshape(k, k)
    tp = np.diagonal(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0).astype(float), matrix.sum(axis=1).astype(float)
    precision, recall, f1 = ratio(tp, predicted), ratio(tp, actual), ratio(2 * tp, predicted + actual)
    out = {"accuracy": float(tp.sum() / len(rows.truth))}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[name] = float(values[1]) if rows.binary else float(np.mean(values))
    return out


def _probability_metrics(rows: ClassRows, proba: np.ndarray) -> dict[str, float]:
    """Log loss (probabilities clipped to [eps, 1 - eps]), Brier score (binary: of the
    positive class; else summed over classes) and the point ECE, as scikit-learn's."""
    import numpy as np

    truth, n = rows.truth, len(rows.truth)
    eps = np.finfo(proba.dtype).eps
    out = {"log_loss": float(np.mean(-np.log(np.clip(proba[np.arange(n), truth], eps, 1 - eps))))}
    if rows.binary:
        out["brier"] = float(np.mean((proba[:, 1] - (truth == 1)) ** 2))
        out["ece"] = float(weighted_ece(np.ones((1, n)), proba[:, 1], truth == 1)[0])
    else:
        gap = proba.copy()
        gap[np.arange(n), truth] -= 1.0
        out["brier"] = float(np.mean((gap ** 2).sum(axis=1)))
        out["ece"] = float(weighted_ece(np.ones((1, n)), proba.max(axis=1), proba.argmax(axis=1) == truth)[0])
    return out


def _label_metrics(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray,
                   classes: list[Any]) -> dict[str, float]:
    """Accuracy, precision, recall and F1 by scikit-learn on the labels themselves."""
    import numpy as np
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(list(y_true)), np.asarray(list(y_pred))
    kwargs: dict[str, Any] = ({"pos_label": classes[1], "average": "binary"} if len(classes) == 2
                              else {"average": "macro", "labels": classes})
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0, **kwargs)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0, **kwargs)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0, **kwargs)),
    }


def confusion_table(matrix: np.ndarray, total: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall and F1 of each weighted confusion matrix ``(B, k, k)``
    [actual, predicted] holding ``total`` weight (binary: of class 1; else macro means).

    >>> import numpy as np
    >>> table = confusion_table(np.array([[[3.0, 1.0], [2.0, 4.0]]]), np.array([10.0]))
    >>> {name: round(float(value[0]), 4) for name, value in table.items()}
    {'accuracy': 0.7, 'precision': 0.8, 'recall': 0.6667, 'f1': 0.7273}
    """
    import numpy as np

    tp = np.diagonal(matrix, axis1=1, axis2=2)
    predicted, actual = matrix.sum(axis=1), matrix.sum(axis=2)
    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    f1 = ratio(2 * tp, predicted + actual)
    if matrix.shape[1] == 2:
        return {"accuracy": tp.sum(axis=1) / total, "precision": precision[:, 1], "recall": recall[:, 1],
                "f1": f1[:, 1]}
    return {"accuracy": tp.sum(axis=1) / total, "precision": precision.mean(axis=1),
            "recall": recall.mean(axis=1), "f1": f1.mean(axis=1)}


def classification_table(W: np.ndarray, rows: ClassRows) -> dict[str, np.ndarray]:
    """Every classification metric for each weighting (row of ``W``), vectorised.

    Equals :func:`classification_metrics` for ``W`` of ones (ROC AUC is NaN where undefined).
    """
    import numpy as np

    W = np.atleast_2d(np.asarray(W, dtype=float))
    total = W.sum(axis=1)
    out = confusion_table(confusion(W, rows.truth, rows.predicted, rows.k), total)
    if rows.proba is None:
        return out
    proba, n = rows.proba, len(rows.truth)
    onehot = np.zeros((n, rows.k))
    onehot[np.arange(n), rows.truth] = 1.0
    if rows.binary:
        out["roc_auc"] = labelled_auc(proba[:, 1], rows.truth == 1, W)
    else:
        out["roc_auc"] = np.mean([labelled_auc(proba[:, c], rows.truth == c, W) for c in range(rows.k)], axis=0)
    eps = np.finfo(float).eps
    out["log_loss"] = W @ -np.log(np.clip(proba[np.arange(n), rows.truth], eps, 1 - eps)) / total
    squared = ((proba - onehot) ** 2).sum(axis=1)
    out["brier"] = W @ (squared / 2 if rows.binary else squared) / total
    if rows.binary:
        out["ece"] = weighted_ece(W, proba[:, 1], onehot[:, 1])
    else:
        out["ece"] = weighted_ece(W, proba.max(axis=1), proba.argmax(axis=1) == rows.truth)
    return out


def regression_metrics(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> dict[str, float]:
    """scikit-learn's MAE, RMSE, MAPE and R² (R² left out for fewer than two rows)."""
    import numpy as np
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    out = {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": math.sqrt(float(skm.mean_squared_error(y_true, y_pred))),
        "mape": float(skm.mean_absolute_percentage_error(y_true, y_pred)),
    }
    if len(y_true) > 1:
        out["r2"] = float(skm.r2_score(y_true, y_pred))
    return out


def regression_table(W: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Every regression metric for each weighting (row of ``W``), vectorised."""
    import numpy as np

    W = np.atleast_2d(np.asarray(W, dtype=float))
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    total = W.sum(axis=1)
    error = y_true - y_pred
    eps = np.finfo(float).eps
    residual = W @ error**2
    spread = W @ y_true**2 - (W @ y_true) ** 2 / total
    return {
        "mae": W @ np.abs(error) / total,
        "rmse": np.sqrt(residual / total),
        "mape": W @ (np.abs(error) / np.maximum(np.abs(y_true), eps)) / total,
        "r2": np.where(spread > 0, 1 - ratio(residual, spread), np.nan),
    }

