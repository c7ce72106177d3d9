"""Realized performance: scikit-learn's metrics on rows whose ground truth is known.

Examples
--------
>>> import numpy as np
>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]), [0, 1])
>>> {k: round(v, 4) for k, v in m.items()}
{'accuracy': 0.75, 'precision': 1.0, 'recall': 0.5, 'f1': 0.6667, 'roc_auc': 1.0}
>>> {k: round(v, 4) for k, v in regression_metrics([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]).items()}
{'mae': 0.5, 'rmse': 0.6455, 'r2': 0.7321}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

__all__ = ["classification_metrics", "regression_metrics", "higher_is_better"]

_LOWER_IS_BETTER = {"mae", "rmse", "mape", "log_loss", "brier"}


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is an improvement.

    >>> higher_is_better("roc_auc"), higher_is_better("mae")
    (True, False)
    """
    return metric not in _LOWER_IS_BETTER


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], proba: np.ndarray | None,
                           classes: list[Any]) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and ROC AUC.

    Binary problems score the second class of ``classes`` as positive; multiclass ones
    use macro averages and one-vs-rest ROC AUC. ROC AUC is left out when the rows hold
    a single class, since it is undefined there.
    """
    import numpy as np
    from sklearn import metrics as skm

    y_true = np.asarray(list(y_true))
    y_pred = np.asarray(list(y_pred))
    binary = len(classes) == 2
    kwargs: dict[str, Any] = {"pos_label": classes[1], "average": "binary"} if binary else {"average": "macro", "labels": classes}
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0, **kwargs)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0, **kwargs)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0, **kwargs)),
    }
    present = set(y_true.tolist())
    if proba is not None and len(present) > 1:
        if binary:
            positive = (y_true == classes[1]).astype(int)
            out["roc_auc"] = float(skm.roc_auc_score(positive, proba[:, 1]))
        elif present == set(classes):
            codes = np.array([classes.index(v) for v in y_true])
            out["roc_auc"] = float(skm.roc_auc_score(codes, proba, multi_class="ovr", labels=list(range(len(classes)))))
    return out


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """MAE, RMSE and R² (R² left out for fewer than two rows)."""
    import numpy as np
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    out = {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": math.sqrt(float(skm.mean_squared_error(y_true, y_pred))),
    }
    if len(y_true) > 1:
        out["r2"] = float(skm.r2_score(y_true, y_pred))
    return out
