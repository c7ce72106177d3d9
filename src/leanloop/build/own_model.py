"""The user's own estimator, kept across retrains.

An adopted version serves the user's fitted estimator, wrapped by leanloop only where
it has to be: calibration on held-out rows (``CalibratedClassifierCV`` over the frozen
model), a prior correction, the expected-value label rule. :func:`own_estimator`
takes those wrappers off again (a calibrator the user built into the model stays: it
is not over a frozen estimator), and :func:`refit_own` fits
:func:`sklearn.base.clone` of it, the same class with the same hyper-parameters, on new
rows in the types the model was adopted with (:data:`~leanloop.scoring.InputFormat.NATIVE`).
Retraining does this unless ``[policy] retrain_model = "leanloop"``.

Examples
--------
>>> import pandas as pd
>>> from sklearn.calibration import CalibratedClassifierCV
>>> from sklearn.ensemble import RandomForestClassifier
>>> from sklearn.frozen import FrozenEstimator
>>> X, y = pd.DataFrame({"x": [0.0, 1, 2, 3] * 5}), [0, 0, 1, 1] * 5
>>> forest = RandomForestClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
>>> calibrated = CalibratedClassifierCV(FrozenEstimator(forest)).fit(X, y)
>>> own_estimator(calibrated) is forest, describe(calibrated)
(True, 'RandomForestClassifier')
>>> refitted, weighted = refit_own(calibrated, X, y, sample_weight=[1.0] * 20)
>>> refitted is forest, refitted.get_params() == forest.get_params(), weighted
(False, True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import PriorShift
from leanloop.errors import ProjectError
from leanloop.label_rule import ExpectedValueClassifier

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["own_estimator", "describe", "refit_own"]


def _leanloop_wrapper(model: Any) -> Any | None:
    """The model inside ``model`` when ``model`` is a wrapper leanloop adds, else None."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    if isinstance(model, (ExpectedValueClassifier, PriorShift, FrozenEstimator)):
        return model.estimator
    if isinstance(model, CalibratedClassifierCV) and isinstance(model.estimator, FrozenEstimator):
        return model.estimator.estimator
    return None


def own_estimator(model: Any) -> Any:
    """The user's estimator under the wrappers leanloop put around it when serving it
    (in a pipeline: around its final step)."""
    from sklearn.pipeline import Pipeline

    while (inner := _leanloop_wrapper(model)) is not None:
        model = inner
    if isinstance(model, Pipeline):
        name, final = model.steps[-1]
        unwrapped = own_estimator(final)
        if unwrapped is not final:
            return Pipeline([*model.steps[:-1], (name, unwrapped)])
    return model


def describe(model: Any) -> str:
    """The estimator's class, a pipeline's as its steps' classes (for lineage).

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> describe(make_pipeline(StandardScaler(), LogisticRegression()))
    'Pipeline(StandardScaler, LogisticRegression)'
    """
    from sklearn.pipeline import Pipeline

    model = own_estimator(model)
    if isinstance(model, Pipeline):
        return f"Pipeline({', '.join(describe(step) for _, step in model.steps)})"
    return type(model).__name__


def refit_own(model: Any, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> tuple[Any, bool]:
    """Fit a clone of the user's estimator under ``model`` on ``X, y``; returns it and
    whether ``sample_weight`` was applied (False when none was given or the estimator's
    ``fit``, in a pipeline its final step's, takes none). An estimator that cannot be
    cloned raises :class:`~leanloop.errors.ProjectError` naming the fix."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import has_fit_parameter

    try:
        estimator = clone(own_estimator(model))
    except (TypeError, RuntimeError) as exc:
        raise ProjectError(
            f"the adopted model ({describe(model)}) cannot be cloned to retrain it ({exc}); give it scikit-learn's "
            'get_params/set_params, or set [policy] retrain_model = "leanloop" in leanloop.toml to retrain '
            "with leanloop's pipeline") from exc
    params: dict[str, Any] = {}
    if sample_weight is not None:
        if isinstance(estimator, Pipeline):
            name, final = estimator.steps[-1]
            if final != "passthrough" and has_fit_parameter(final, "sample_weight"):
                params[f"{name}__sample_weight"] = sample_weight
        elif has_fit_parameter(estimator, "sample_weight"):
            params["sample_weight"] = sample_weight
    estimator.fit(X, y, **params)
    return estimator, bool(params)
