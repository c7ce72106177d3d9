"""Recalibrate before retraining: new probabilities for the same fitted model.

When the model still ranks as on reference but the class mix moved (the policy's
``recalibrate`` rule), the fitted model is not out of date, its probabilities are:
the expected-value rule weighs probabilities learned under the old class priors.
:func:`recalibrate` keeps the champion's fitted model and refits, on the newest
labelled production rows (the measurement's labelled window, ``[measure]
labelled_window_rows``, else ``window_rows``), the better by log loss on those rows of

1. a prior correction (:class:`~leanloop.build.calibration.PriorShift`): the class priors
   the EM method of Saerens, Latinne and Decaestecker (2002) estimates from the rows'
   probabilities (as calibrated at build: EM needs honest posteriors; no labels used),
   replacing any earlier correction rather than stacking on it; the priors it corrects
   from are those the champion's calibrated probabilities reflect (the class shares of
   the rows its calibration was fitted on: its training data, or the production rows an
   earlier recalibration refitted it on, recorded as ``calibration_priors``);
2. a calibration refitted on the labelled rows (sigmoid, isotonic or none by cross-fitted
   log loss, :func:`~leanloop.build.served.calibrate_model`), which absorbs a prior shift
   too, at the price of using the labels.

The result is registered as a ``challenger`` with the same fitted model, the same
reference data, the rule of ``[kpi]`` and ``source = "recalibrate"``, and judged on
the latest ``[retrain] recent_eval_share`` of those rows (which it did not see) by the
same champion/challenger gate as a retrain. Seconds, not a retrain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import CalibrationMethod, CalibrationReport, PriorShift, em_priors
from leanloop.build.served import calibrate_model, fitted_model, served_model
from leanloop.build.train import register_version
from leanloop.errors import DataError, NotFoundError
from leanloop.learn.retrain import Retrained, labelled_production
from leanloop.scoring import model_input
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np

    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

__all__ = ["recalibrate", "with_priors"]


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


def _corrected(model: Any) -> tuple[Any, np.ndarray | None, np.ndarray | None]:
    """``(model without its prior correction, its train priors, its current priors)``; the
    priors are None when ``model`` has no prior correction. A new correction replaces the
    old one (Bayes adjustments compose), so recalibrating again does not nest wrappers."""
    import numpy as np
    from sklearn.pipeline import Pipeline

    final = model.steps[-1][1] if isinstance(model, Pipeline) and len(model.steps) == 2 else model
    if not isinstance(final, PriorShift):
        return model, None, None
    inner = Pipeline([model.steps[0], (model.steps[1][0], final.estimator)]) if final is not model else final.estimator
    return inner, np.asarray(final.train_priors, dtype=float), np.asarray(final.new_priors, dtype=float)


def _shares(y: Any, classes: list[Any]) -> np.ndarray:
    import numpy as np
    import pandas as pd

    shares = pd.Series([str(v) for v in y]).value_counts(normalize=True)
    return np.array([max(float(shares.get(str(k), 0.0)), 1e-6) for k in classes])


def _train_priors(ws: Workspace, champion: ModelVersion, classes: list[Any]) -> np.ndarray:
    """The class priors the champion's calibrated probabilities reflect: the class shares
    of the rows its calibration was fitted on. For a built or retrained version that is
    its training data (the calibration is fitted, unweighted, on a share of it); for a
    version whose calibration an earlier recalibration refitted on production rows, the
    shares of those rows (``calibration_priors`` of its recalibration): its training data
    is the older version's, whose mix the refitted calibration no longer follows, and a
    prior correction from there would correct a shift already absorbed."""
    import numpy as np
    import pandas as pd

    earlier = champion.recalibration or {}
    if earlier.get("chosen") == "calibration" and earlier.get("calibration_priors"):
        known = dict(zip(earlier["classes"], earlier["calibration_priors"], strict=True))
        if all(str(c) in known for c in classes):
            return np.array([float(known[str(c)]) for c in classes])
    config = ws.config
    target = pd.read_parquet(ws.paths.datasets / (champion.train_data or ""),
                             columns=[config.data.target])[config.data.target]
    return _shares(normalize_target(target, config.data.task), classes)


def _candidates(ws: Workspace, champion: ModelVersion, model: Any, X: Any, y: Any) -> tuple[Any, dict[str, Any],
                                                                                            CalibrationReport | None]:
    """The better of a prior correction (EM on the rows' probabilities, no labels used)
    and a calibration refitted on the labelled rows, by log loss on those rows; with the
    numbers behind the choice."""
    import numpy as np
    from sklearn.metrics import log_loss

    config = ws.config
    calibrated = fitted_model(model, keep_calibration=True)
    classes = [c.item() if hasattr(c, "item") else c for c in calibrated.classes_]
    inner, known_train, known_current = _corrected(calibrated)
    if known_train is None or known_current is None:
        train_priors = current = _train_priors(ws, champion, classes)
    else:
        train_priors, current = known_train, known_current
    new_priors = em_priors(calibrated.predict_proba(X), current)
    corrected = with_priors(inner, train_priors, new_priors)
    prior_loss = float(log_loss(y, corrected.predict_proba(X), labels=classes))
    recalibrated, report = calibrate_model(fitted_model(model), X, y, seed=config.model.seed)
    use_priors = prior_loss <= report.log_loss_after
    summary = {"chosen": "prior_correction" if use_priors else "calibration", "classes": [str(c) for c in classes],
               "train_priors": np.round(train_priors, 6).tolist(), "previous_priors": np.round(current, 6).tolist(),
               "new_priors": np.round(new_priors, 6).tolist(), "prior_correction_log_loss": prior_loss,
               "calibration": report.method.value, "calibration_log_loss": report.log_loss_after, "rows": len(y),
               # what the refitted calibration's probabilities reflect (none: the model's own)
               "calibration_priors": None if report.method is CalibrationMethod.NONE
               else np.round(_shares(y, classes), 6).tolist()}
    return (corrected, summary, None) if use_priors else (recalibrated, summary, report)


def recalibrate(ws: Workspace, *, cycle: int | None = None) -> Retrained:
    """Refit the champion's prior correction or calibration on recent labelled rows and
    register the result as ``challenger`` (see the module docs); returns it with the
    rows the gate judges it on."""
    import pandas as pd

    config = ws.config
    champion = ws.registry.champion()
    if not champion.train_data or not champion.test_data:
        raise NotFoundError(f"the champion {champion.version} has no training or test data in the workspace; "
                            "rebuild or re-adopt it")
    # the rows the measurement judged the labelled evidence on: its labelled window
    production = labelled_production(ws, config.measure.labelled_window_rows or config.measure.window_rows)
    if len(production) < config.policy.min_labels:
        raise DataError(f"recalibrating needs at least {config.policy.min_labels} labelled production rows, "
                        f"the log has {len(production)}; send more feedback first")
    cut = int(len(production) * (1 - config.retrain.recent_eval_share))
    fit_rows, recent = production.iloc[:cut], production.iloc[cut:]
    model, baseline = ws.registry.load(champion.version)
    X = model_input(config.schema_, fit_rows, champion.input_format, "recent labelled rows")
    y = normalize_target(fit_rows[config.data.target], config.data.task)
    candidate, summary, report = _candidates(ws, champion, model, X, y)
    served = served_model(candidate, config.kpi, config.data.task.value)
    reference = pd.read_parquet(ws.paths.datasets / champion.train_data)
    holdout = pd.read_parquet(ws.paths.datasets / champion.test_data)
    challenger = register_version(
        ws, served, baseline, train=reference, test=recent, source="recalibrate", parent=champion.version,
        cycle=cycle, alias="challenger", input_format=champion.input_format, trusted=champion.trusted,
        calibration=report, rows={"recalibration": len(fit_rows), "recent_eval": len(recent)},
        recalibration=summary,
    )
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout,
                     strategy="recalibrate", model=served, baseline=baseline)
