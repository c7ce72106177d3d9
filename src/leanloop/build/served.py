"""What a version serves: calibrated probabilities and the label worth the most.

A classifier version is its fitted pipeline, optionally recalibrated on rows it did
not learn from (:func:`calibrate_model`, by held-out log loss, see
:mod:`leanloop.build.calibration`), and, under ``[kpi] decision = "expected_value"``,
wrapped in :class:`~leanloop.label_rule.ExpectedValueClassifier` with the outcome
values in the model's class order (:func:`served_model`). The wrapper travels in the
version's artifact, so ``/predict``, batch scoring, measurement, the gate and the demo
serve the same label through :func:`leanloop.scoring.score`. :func:`fitted_model`
goes back to the fitted model underneath (what recalibration keeps).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from leanloop.config import KpiConfig, KpiOutcome
>>> kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1000.0),
...                           KpiOutcome(actual=0, predicted=1, value=-5000.0)])
>>> model = LogisticRegression().fit(pd.DataFrame({"x": [0.0, 1, 2, 3]}), [0, 0, 1, 1])
>>> served = served_model(model, kpi, "classification")
>>> type(served).__name__, served.values.tolist(), fitted_model(served) is model
('ExpectedValueClassifier', [[0.0, -5000.0], [0.0, 1000.0]], True)
>>> served_model(model, KpiConfig(), "classification") is model   # no outcomes: argmax
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import CalibrationReport, PriorShift, calibrate
from leanloop.errors import InputError
from leanloop.label_rule import (
    ExpectedValueClassifier,
    LabelRule,
    argmax_equivalent,
    check_value_table,
    label_key,
    value_table,
)

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import KpiConfig

__all__ = ["served_model", "require_probabilities", "calibrate_model", "fitted_model", "served_rule",
           "decides_by_value"]


def decides_by_value(kpi: KpiConfig, task: str, classes: list[Any]) -> bool:
    """Whether the label served for ``classes`` follows the expected-value rule: asked
    for (``[kpi] decision``, or outcomes declared) and different from argmax (an
    accuracy table serves what argmax serves: no wrapper, no probabilities needed).

    >>> from leanloop.config import KpiConfig, KpiOutcome
    >>> accuracy = KpiConfig(outcomes=[KpiOutcome(actual=c, predicted=c, value=1.0) for c in (0, 1)])
    >>> decides_by_value(accuracy, "classification", [0, 1])
    False
    """
    if task == "regression" or kpi.rule is not LabelRule.EXPECTED_VALUE or not kpi.outcomes:
        return False
    return not argmax_equivalent(value_table(kpi, classes))


def _classes(model: Any, kpi: KpiConfig) -> list[Any]:
    """The model's classes as plain values (else the labels the outcomes name)."""
    if hasattr(model, "classes_"):
        return [c.item() if hasattr(c, "item") else c for c in model.classes_]
    return sorted({label_key(v) for o in kpi.outcomes for v in (o.actual, o.predicted)})


def require_probabilities(model: Any, kpi: KpiConfig, task: str) -> None:
    """Refuse a classifier without ``predict_proba`` under the expected-value rule, naming the fix.

    >>> from sklearn.svm import LinearSVC
    >>> from leanloop.config import KpiConfig, KpiOutcome
    >>> kpi = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
    ...                           KpiOutcome(actual=0, predicted=1, value=-2.0)])
    >>> require_probabilities(LinearSVC().fit([[0], [1]], [0, 1]), kpi, "classification")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanloop.errors.InputError: the model (LinearSVC) has no predict_proba, so the expected-value rule of [kpi] ...
    """
    if not hasattr(model, "predict_proba") and decides_by_value(kpi, task, _classes(model, kpi)):
        raise InputError(f"the model ({type(model).__name__}) has no predict_proba, so the expected-value rule of "
                         "[kpi] cannot weigh its outcomes; give it probabilities (e.g. CalibratedClassifierCV) or set "
                         '[kpi] decision = "argmax" in leanloop.toml')


def served_model(model: Any, kpi: KpiConfig, task: str) -> Any:
    """``model`` as it will serve: wrapped in the expected-value rule when ``[kpi]`` asks
    for it (refused when the model has no probabilities, or the table names a class the
    model does not know or cannot choose), else ``model`` itself."""
    model = fitted_model(model, keep_calibration=True)
    if task == "regression" or kpi.rule is not LabelRule.EXPECTED_VALUE or not kpi.outcomes:
        return model
    require_probabilities(model, kpi, task)
    classes = _classes(model, kpi)
    known = {label_key(c) for c in classes}
    unknown = sorted({label_key(v) for o in kpi.outcomes for v in (o.actual, o.predicted)} - known)
    if unknown:
        raise InputError(f"kpi.outcomes name labels {unknown} that the model does not know; its classes are "
                         f"{classes}: fix the labels in [kpi] of leanloop.toml")
    values = value_table(kpi, classes)
    try:
        check_value_table(values, classes)
    except ValueError as exc:
        raise InputError(f"kpi.outcomes: {exc}") from None
    return ExpectedValueClassifier(model, values) if not argmax_equivalent(values) else model


def served_rule(model: Any) -> LabelRule:
    """The rule ``model`` serves by.

    >>> from sklearn.dummy import DummyClassifier
    >>> served_rule(DummyClassifier()).value
    'argmax'
    """
    return LabelRule.EXPECTED_VALUE if isinstance(model, ExpectedValueClassifier) else LabelRule.ARGMAX


def fitted_model(model: Any, *, keep_calibration: bool = False) -> Any:
    """The fitted model under a version's wrappers: without the expected-value rule and,
    unless ``keep_calibration``, without calibration and prior correction.

    >>> from sklearn.dummy import DummyClassifier
    >>> inner = DummyClassifier()
    >>> fitted_model(PriorShift(inner, [0.5, 0.5], [0.8, 0.2])) is inner
    True
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    if isinstance(model, ExpectedValueClassifier):
        model = model.estimator
    if keep_calibration:
        return model
    while True:
        if isinstance(model, (PriorShift, CalibratedClassifierCV, FrozenEstimator)):
            model = model.estimator
        elif isinstance(model, Pipeline) and isinstance(model.steps[-1][1], (PriorShift, CalibratedClassifierCV)):
            model = Pipeline([*model.steps[:-1], (model.steps[-1][0], fitted_model(model.steps[-1][1]))])
            return model
        else:
            return model


def calibrate_model(model: Any, X: pd.DataFrame, y: Any, *, seed: int = 0) -> tuple[Any, CalibrationReport]:
    """Calibrate a fitted classifier on held-out rows ``X, y`` (model form).

    A leanloop pipeline keeps its prepare step outside the calibrator, so scoring still
    runs the compiled prepare step once per request (:func:`leanloop.scoring.score`);
    any other model is calibrated whole.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) == 2:
        (prepare_name, prepare), (name, final) = model.steps
        # the final step was fitted on the prepare step's arrays: its calibrator sees arrays too
        calibrated, report = calibrate(final, prepare.transform(X), y, seed=seed)
        if calibrated is final:
            return model, report
        return Pipeline([(prepare_name, prepare), (name, calibrated)]), report
    return calibrate(model, X, y, seed=seed)
