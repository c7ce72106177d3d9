"""Recalibrate before retraining: new probabilities for the same fitted model.

When the model still ranks as on reference but the class mix moved (the policy's
``recalibrate`` rule), the fitted model is not out of date, its probabilities are:
the expected-value rule weighs probabilities learned under the old class priors.
:func:`recalibrate` keeps the champion's fitted model and refits, on the newest
labelled production rows (the measured window, ``[measure] window_rows``):

1. a prior correction, when the class priors the EM method of Saerens, Latinne and
   Decaestecker (2002) estimates from the rows' probabilities differ from the training
   priors by more than :data:`MIN_PRIOR_CHANGE` (:class:`~leanloop.build.calibration.PriorShift`);
2. the calibration (sigmoid, isotonic or none by held-out log loss,
   :func:`~leanloop.build.served.calibrate_model`).

Both start from the champion's probabilities as calibrated at build (EM needs honest
posteriors under the training priors), on the same fitted model. The result is registered as a ``challenger`` with the same fitted model, the same
reference data, the rule of ``[kpi]`` and ``source = "recalibrate"``, and judged on
the latest ``[retrain] recent_eval_share`` of those rows (which it did not see) by the
same champion/challenger gate as a retrain. Seconds, not a retrain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import PriorShift, em_priors
from leanloop.build.served import calibrate_model, fitted_model, served_model
from leanloop.build.train import register_version
from leanloop.errors import DataError, NotFoundError
from leanloop.learn.retrain import Retrained, labelled_production
from leanloop.scoring import model_input
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.workspace import Workspace

__all__ = ["recalibrate", "with_priors", "MIN_PRIOR_CHANGE"]

#: Smallest move of an estimated class prior worth a prior correction.
MIN_PRIOR_CHANGE = 0.02


def with_priors(model: Any, train_priors: np.ndarray, new_priors: np.ndarray) -> Any:
    """``model`` with its probabilities re-weighted to ``new_priors``; a leanloop pipeline
    keeps its prepare step in front (so scoring still compiles it).

    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> m = DummyClassifier().fit([[0]] * 4, [0, 0, 1, 1])
    >>> with_priors(m, np.array([0.5, 0.5]), np.array([0.8, 0.2])).predict_proba([[0]]).round(2).tolist()
    [[0.8, 0.2]]
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) == 2:
        (prepare_name, prepare), (name, final) = model.steps
        return Pipeline([(prepare_name, prepare), (name, PriorShift(final, train_priors, new_priors))])
    return PriorShift(model, train_priors, new_priors)


def _train_priors(ws: Workspace, train_data: str, classes: list[Any]) -> np.ndarray:
    import numpy as np
    import pandas as pd

    config = ws.config
    target = pd.read_parquet(ws.paths.datasets / train_data, columns=[config.data.target])[config.data.target]
    y = normalize_target(target, config.data.task)
    keys = [str(c) for c in classes]
    shares = pd.Series([str(v) for v in y]).value_counts(normalize=True)
    return np.array([max(float(shares.get(k, 0.0)), 1e-6) for k in keys])


def recalibrate(ws: Workspace, *, cycle: int | None = None) -> Retrained:
    """Refit the champion's prior correction and calibration on recent labelled rows and
    register the result as ``challenger`` (see the module docs); returns it with the
    rows the gate judges it on."""
    import numpy as np
    import pandas as pd

    config = ws.config
    champion = ws.registry.champion()
    if not champion.train_data or not champion.test_data:
        raise NotFoundError(f"the champion {champion.version} has no training or test data in the workspace; "
                            "rebuild or re-adopt it")
    production = labelled_production(ws).iloc[-config.measure.window_rows:]
    if len(production) < config.policy.min_labels:
        raise DataError(f"recalibrating needs at least {config.policy.min_labels} labelled production rows, "
                        f"the log has {len(production)}; send more feedback first")
    cut = int(len(production) * (1 - config.retrain.recent_eval_share))
    fit_rows, recent = production.iloc[:cut], production.iloc[cut:]
    model, baseline = ws.registry.load(champion.version)
    # the champion's calibrated probabilities: EM needs posteriors that are honest on the reference
    base = fitted_model(model, keep_calibration=True)
    X = model_input(config.schema_, fit_rows, champion.input_format, "recent labelled rows")
    y = normalize_target(fit_rows[config.data.target], config.data.task)
    classes = [c.item() if hasattr(c, "item") else c for c in base.classes_]
    train_priors = _train_priors(ws, champion.train_data, classes)
    new_priors = em_priors(base.predict_proba(X), train_priors)
    shifted = bool(np.max(np.abs(new_priors - train_priors)) > MIN_PRIOR_CHANGE)
    candidate = with_priors(base, train_priors, new_priors) if shifted else base
    candidate, report = calibrate_model(candidate, X, y, seed=config.model.seed)
    served = served_model(candidate, config.kpi, config.data.task.value)
    reference = pd.read_parquet(ws.paths.datasets / champion.train_data)
    holdout = pd.read_parquet(ws.paths.datasets / champion.test_data)
    challenger = register_version(
        ws, served, baseline, train=reference, test=recent, source="recalibrate", parent=champion.version,
        cycle=cycle, alias="challenger", input_format=champion.input_format, trusted=champion.trusted,
        calibration=report, rows={"recalibration": len(fit_rows), "recent_eval": len(recent)},
        recalibration={"prior_correction": shifted, "classes": [str(c) for c in classes],
                       "train_priors": train_priors.round(6).tolist(), "new_priors": new_priors.round(6).tolist(),
                       "calibration": report.method.value, "rows": len(fit_rows)},
    )
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout,
                     strategy="recalibrate", model=served, baseline=baseline)
