"""Honest probabilities: measure calibration, calibrate on held-out rows, correct priors.

Expected-value decisions (:mod:`leanloop.label_rule`) are only as good as the
probabilities they weigh. Three tools:

- :func:`reliability` and :func:`expected_calibration_error`: the top-label
  reliability table (per confidence bin: mean confidence, accuracy, rows) and its
  weighted gap, the ECE (from :mod:`leanloop.measure.calibration`, which the
  measurement of a window uses too);
- :func:`calibrate`: scikit-learn's ``CalibratedClassifierCV`` over the *frozen*
  fitted model (``FrozenEstimator``), sigmoid or isotonic, chosen by held-out log loss,
  or none when neither helps. The choice is cross-fitted (each half of the held-out
  rows scores a calibrator fitted on the other half), so isotonic regression cannot win
  by memorising the rows it is judged on; the chosen method is then fitted on all of them;
- :func:`em_priors` and :class:`PriorShift`: when the class mix moves but each class
  looks as before (a prior shift), the EM method of Saerens, Latinne and Decaestecker
  (2002, Neural Computation 14(1)) estimates the new class priors from unlabelled
  probabilities, and Bayes' rule re-weights the model's probabilities to them (hand-
  written: scikit-learn has no prior adjustment; the estimator is a few lines of
  arithmetic and is on the model-file allow-list).

Examples
--------
>>> import numpy as np
>>> train = np.array([0.5, 0.5])
>>> adjusted = adjust_priors(np.array([[0.5, 0.5]]), train, np.array([0.8, 0.2]))
>>> adjusted.round(2).tolist()
[[0.8, 0.2]]
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

# one calibration measure for build and the measurement of a window (measure/ imports no build/)
from leanloop.measure.calibration import ReliabilityBin, expected_calibration_error, reliability

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["CalibrationMethod", "ReliabilityBin", "CalibrationReport", "reliability", "expected_calibration_error",
           "calibrate", "em_priors", "adjust_priors", "PriorShift"]


class CalibrationMethod(str, Enum):
    """How a classifier's probabilities are recalibrated."""

    NONE = "none"
    SIGMOID = "sigmoid"
    ISOTONIC = "isotonic"


class CalibrationReport(BaseModel):
    """Calibration before and after, on held-out rows, and the method chosen."""

    model_config = ConfigDict(frozen=True)

    method: CalibrationMethod
    rows: int
    log_loss_before: float
    log_loss_after: float
    ece_before: float
    ece_after: float
    reliability_before: list[ReliabilityBin]
    reliability_after: list[ReliabilityBin]
    #: cross-fitted held-out log loss of each candidate method (what chose ``method``)
    candidates: dict[str, float]


def _log_loss(y: Any, probabilities: np.ndarray, classes: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, probabilities, labels=list(classes)))


def _fit(model: Any, method: CalibrationMethod, X: pd.DataFrame | np.ndarray, y: Any) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    if method is CalibrationMethod.NONE:
        return model
    return CalibratedClassifierCV(FrozenEstimator(model), method=method.value).fit(X, y)


def _rows(X: Any, rows: np.ndarray) -> Any:
    """Rows of a data frame or an array, by position."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def calibrate(model: Any, X: pd.DataFrame | np.ndarray, y: Any, *, seed: int = 0, bins: int = 10,
              methods: tuple[CalibrationMethod, ...] = tuple(CalibrationMethod)) -> tuple[Any, CalibrationReport]:
    """Recalibrate a fitted classifier on held-out rows ``X, y`` if that lowers log loss.

    Returns the model to register (the calibrated wrapper, or ``model`` itself when
    ``none`` wins) and the report, whose "after" figures are out of fold (each half of
    the rows scored by a calibrator fitted on the other half), so they are as honest as
    the "before" ones. A method is tried only when each half holds every class twice.
    """
    import numpy as np

    y = np.asarray(y)
    classes = model.classes_
    order = np.random.default_rng(seed).permutation(len(y))
    halves = [order[: len(y) // 2], order[len(y) // 2:]]
    before = model.predict_proba(X)
    out_of_fold: dict[CalibrationMethod, np.ndarray] = {CalibrationMethod.NONE: before}
    for method in methods:
        if method is CalibrationMethod.NONE:
            continue
        proba = np.empty_like(before)
        for fit_rows, test_rows in (halves, halves[::-1]):
            counts = np.unique(y[fit_rows], return_counts=True)[1]
            if len(counts) < len(classes) or counts.min() < 2:
                break  # a calibrator needs every class in its half
            proba[test_rows] = _fit(model, method, _rows(X, fit_rows), y[fit_rows]).predict_proba(_rows(X, test_rows))
        else:
            out_of_fold[method] = proba
    scores = {m.value: _log_loss(y, p, classes) for m, p in out_of_fold.items()}
    best = CalibrationMethod(min(scores, key=lambda m: scores[m]))
    after = out_of_fold[best]
    report = CalibrationReport(
        method=best, rows=len(y),
        log_loss_before=scores[CalibrationMethod.NONE.value], log_loss_after=scores[best.value],
        ece_before=expected_calibration_error(y, before, classes, bins),
        ece_after=expected_calibration_error(y, after, classes, bins),
        reliability_before=reliability(y, before, classes, bins),
        reliability_after=reliability(y, after, classes, bins),
        candidates=scores,
    )
    return _fit(model, best, X, y), report


def adjust_priors(probabilities: np.ndarray, train_priors: np.ndarray, new_priors: np.ndarray) -> np.ndarray:
    """Bayes' rule: probabilities learned under ``train_priors`` re-weighted to ``new_priors``."""
    import numpy as np

    weighted = np.asarray(probabilities, dtype=float) * (np.asarray(new_priors) / np.asarray(train_priors))
    return weighted / weighted.sum(axis=1, keepdims=True)


def em_priors(probabilities: np.ndarray, train_priors: np.ndarray, *, max_iter: int = 1000,
              tol: float = 1e-8) -> np.ndarray:
    """The class priors of unlabelled rows, by Saerens-Latinne-Decaestecker EM.

    E step: adjust each row's probabilities to the current priors; M step: the new
    priors are their mean. Starts from ``train_priors``; stops when no prior moves by
    more than ``tol``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(20_000) < 0.2                   # 20 % positives now, 50 % in training
    >>> x = rng.normal(np.where(truth, 1.0, -1.0), 1.0)     # each class looks as in training
    >>> score = 1 / (1 + np.exp(-2 * x))                    # the exact posterior under 50/50
    >>> proba = np.column_stack([1 - score, score])
    >>> em_priors(proba, np.array([0.5, 0.5])).round(2).tolist()
    [0.8, 0.2]
    """
    import numpy as np

    train_priors = np.asarray(train_priors, dtype=float)
    priors = train_priors.copy()
    for _ in range(max_iter):
        updated = adjust_priors(probabilities, train_priors, priors).mean(axis=0)
        if np.max(np.abs(updated - priors)) < tol:
            return updated
        priors = updated
    return priors


class PriorShift:
    """A fitted classifier whose probabilities are re-weighted to new class priors.

    scikit-learn conventions: the constructor stores its arguments; ``classes_`` and
    ``predict`` (argmax of the adjusted probabilities) follow the wrapped model.
    """

    def __init__(self, estimator: Any, train_priors: Any, new_priors: Any) -> None:
        self.estimator = estimator
        self.train_priors = train_priors
        self.new_priors = new_priors

    @property
    def classes_(self) -> Any:
        return self.estimator.classes_

    def fit(self, X: Any = None, y: Any = None) -> PriorShift:
        """Nothing to learn: the wrapped model is fitted and the priors are given."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        # the wrapped classifier's tags, so scikit-learn's calibration can wrap this one in turn
        return self.estimator.__sklearn_tags__()

    def predict_proba(self, X: Any) -> np.ndarray:
        """The wrapped model's probabilities under the new priors."""
        import numpy as np

        return adjust_priors(self.estimator.predict_proba(X), np.asarray(self.train_priors),
                             np.asarray(self.new_priors))

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest adjusted probability."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
