"""Train, evaluate and register a model version from a train and a test frame.

Used by ``leanloop build`` (version 1 from the user's table), by retraining (a
challenger from reference plus production rows) and by ``adopt`` (a user's fitted
model, through :func:`register_version`): one path, so every version carries
the same metrics, baseline, KPIs, fingerprint and lineage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import CalibrationReport
from leanloop.build.checks import VersionWarning, below_baseline, unweighted
from leanloop.build.own_model import describe, refit_own
from leanloop.build.pipeline import MODEL_STEP, make_baseline, make_pipeline
from leanloop.build.served import calibrate_model, decides_by_value, served_model, served_rule
from leanloop.config import ModelKind, Task
from leanloop.data import fingerprint
from leanloop.measure.evaluation import evaluate, evaluate_scored
from leanloop.measure.kpi import row_weights
from leanloop.scoring import InputFormat, Scored, model_input
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ProjectConfig
    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

__all__ = ["Fitted", "train_version", "register_version", "fit_pipeline", "fit_own", "fit_served"]

#: Fewest held-out rows worth calibrating on (fewer: the model is served uncalibrated).
_MIN_CALIBRATION_ROWS = 40


def _quantile(model: Any) -> float | None:
    """The quantile a regressor targets (scikit-learn's quantile loss), if any."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    params = final.get_params() if hasattr(final, "get_params") else {}
    # a model wrapped in SinceChange (leanloop.build.since_change) holds its loss as the estimator's
    if params.get("loss", params.get("estimator__loss")) != "quantile":
        return None
    return float(params["quantile"] if "quantile" in params else params["estimator__quantile"])


@dataclass(frozen=True)
class Fitted:
    """A version's model as it will serve, its baseline, and how it was calibrated."""

    model: Any
    baseline: Any
    calibration: CalibrationReport | None = None
    warnings: tuple[VersionWarning, ...] = ()


def fit_pipeline(config: ProjectConfig, train: pd.DataFrame,
                 sample_weight: np.ndarray | None = None) -> tuple[Any, Any]:
    """Fit the configured pipeline and the trivial baseline on ``train`` (a regression
    under asymmetric absolute costs targets the cost-optimal quantile, ``[kpi]``)."""
    X = config.schema_.model_frame(train, "training data")
    y = normalize_target(train[config.data.target], config.data.task)
    quantile = config.kpi.quantile if config.data.task is Task.REGRESSION else None
    model = make_pipeline(config.schema_, config.data.task, config.model, quantile=quantile)
    params = {} if sample_weight is None else {f"{MODEL_STEP}__sample_weight": sample_weight}
    model.fit(X, y, **params)
    baseline = make_baseline(config.data.task).fit(X, y)
    return model, baseline


def fit_own(config: ProjectConfig, estimator: Any, train: pd.DataFrame,
            sample_weight: np.ndarray | None = None) -> tuple[Any, Any, tuple[VersionWarning, ...]]:
    """Fit a clone of the user's ``estimator`` (:func:`leanloop.build.own_model.refit_own`) on
    ``train`` in its native input types, and the trivial baseline; warns when the weights
    could not be applied."""
    X = model_input(config.schema_, train, InputFormat.NATIVE, "training data")
    y = normalize_target(train[config.data.target], config.data.task)
    import numpy as np

    model, weighted = refit_own(estimator, X, y, sample_weight)
    baseline = make_baseline(config.data.task).fit(config.schema_.model_frame(train, "training data"), y)
    # equal weights (the expanding strategy) lose nothing when they are not applied
    ignored = sample_weight is not None and not weighted and float(np.ptp(sample_weight)) > 0
    return model, baseline, (unweighted(describe(model)),) if ignored else ()


def fit_served(config: ProjectConfig, train: pd.DataFrame, sample_weight: np.ndarray | None = None,
               estimator: Any = None, pipeline: Callable[..., tuple[Any, Any]] | None = None) -> Fitted:
    """``pipeline`` (default :func:`fit_pipeline`; or, given the user's ``estimator``, :func:`fit_own`), then,
    for a classifier under the expected-value rule, the calibration on
    ``[model] calibration_size`` of the rows held out from fitting, and the rule itself
    (:func:`leanloop.build.served.served_model`)."""
    import numpy as np

    def fit(rows: pd.DataFrame, weights: np.ndarray | None) -> tuple[Any, Any, tuple[VersionWarning, ...]]:
        if estimator is not None:
            return fit_own(config, estimator, rows, weights)
        return (*(pipeline or fit_pipeline)(config, rows, weights), ())

    task, size = config.data.task, config.model.calibration_size
    classes = (list(config.data.classes) if config.data.classes else
               sorted(set(normalize_target(train[config.data.target], task).tolist()), key=str))
    calibrating = (decides_by_value(config.kpi, task.value, classes)
                   and size > 0 and int(len(train) * size) >= _MIN_CALIBRATION_ROWS)
    if not calibrating:
        model, baseline, warned = fit(train, sample_weight)
        return Fitted(served_model(model, config.kpi, task.value), baseline, warnings=warned)
    input_format = InputFormat.ENCODED if estimator is None else InputFormat.NATIVE
    X = model_input(config.schema_, train, input_format, "training data")  # errors name rows of the whole table
    held = np.zeros(len(train), dtype=bool)
    held[np.random.default_rng(config.model.seed).permutation(len(train))[: int(len(train) * size)]] = True
    weights = None if sample_weight is None else np.asarray(sample_weight)[~held]
    model, baseline, warned = fit(train[~held], weights)
    model, report = calibrate_model(model, X[held], normalize_target(train[config.data.target][held], task),
                                    seed=config.model.seed)
    return Fitted(served_model(model, config.kpi, task.value), baseline, report, warned)


def train_version(ws: Workspace, *,
                  train: pd.DataFrame, test: pd.DataFrame, source: str, parent: str | None = None,
                  cycle: int | None = None, sample_weight: np.ndarray | None = None,
                  alias: str | None = "champion", rows: dict[str, int] | None = None) -> ModelVersion:
    """Fit on ``train``, then :func:`register_version` (evaluate on ``test``, save, register)."""
    fitted = fit_served(ws.config, train, sample_weight)
    return register_version(ws, fitted.model, fitted.baseline, train=train, test=test, source=source,
                            parent=parent, cycle=cycle, alias=alias, rows=rows, calibration=fitted.calibration,
                            warnings=fitted.warnings)


def register_version(ws: Workspace, model: Any, baseline: Any,
                     *, train: pd.DataFrame, test: pd.DataFrame, source: str, parent: str | None = None,
                     cycle: int | None = None, alias: str | None = None, rows: dict[str, int] | None = None,
                     input_format: InputFormat = InputFormat.ENCODED, trusted: bool = False,
                     calibration: CalibrationReport | None = None,
                     recalibration: dict[str, Any] | None = None,
                     warnings: tuple[VersionWarning, ...] = (), test_scored: Scored | None = None) -> ModelVersion:
    """Evaluate a fitted model and baseline on ``test``, save the frames, register the version.

    ``train`` becomes the version's drift reference. When ``test`` is ``train`` (an
    adopted model judged on its reference data) the frame is saved once. Nothing is
    registered when any step fails; the frames written for a failed version are removed.
    ``test_scored``: the model's outputs on ``test`` made elsewhere (a cross-fitted
    challenger's out-of-fold scores, on rows the registered model trained on), recorded
    instead of scoring ``test`` with ``model``.
    A model in native input is the user's own (:data:`ModelKind.OWN`); one that does not
    beat the baseline on the main metric is registered with a ``below_baseline`` warning.
    """
    config, paths, registry = ws.config, ws.paths, ws.registry
    y_test = normalize_target(test[config.data.target], config.data.task).tolist()
    X_model = model_input(config.schema_, test, input_format, "test data")
    result = (evaluate(model, X_model, y_test, config.data, config.kpi) if test_scored is None else
              evaluate_scored(test_scored, y_test, config.data, config.kpi, weights=row_weights(X_model, config.kpi)))
    base = evaluate(baseline, config.schema_.model_frame(test, "test data"), y_test, config.data, config.kpi)
    metric = config.policy.main_metric_for(config.data)
    weak = below_baseline(metric, model=result.metrics.get(metric), baseline=base.metrics.get(metric))

    version = registry.next_version()
    paths.datasets.mkdir(parents=True, exist_ok=True)
    train_path = paths.datasets / f"{version}-train.parquet"
    test_path = train_path if test is train else paths.datasets / f"{version}-test.parquet"
    try:
        train.to_parquet(train_path, index=False)
        if test_path != train_path:
            test.to_parquet(test_path, index=False)
        return registry.register(
            model, baseline, alias=alias, task=config.data.task.value,
            schema=config.schema_.model_dump(mode="json"),
            metrics=result.metrics, baseline_metrics=base.metrics,
            kpi={**result.kpis, **{f"baseline_{k}": v for k, v in base.kpis.items()}},
            fingerprint=fingerprint(train), parent=parent, source=source, cycle=cycle,
            train_data=train_path.name, test_data=test_path.name,
            rows={"train": len(train), "test": len(test), **(rows or {})},
            input_format=input_format, trusted=trusted,
            decision=served_rule(model), calibration=calibration, recalibration=recalibration,
            quantile=_quantile(model) if config.data.task is Task.REGRESSION else None,
            model_kind=ModelKind.OWN if InputFormat(input_format) is InputFormat.NATIVE else ModelKind.LEANLOOP,
            estimator=describe(model), warnings=[*warnings, *([weak] if weak else [])],
        )
    except BaseException:
        train_path.unlink(missing_ok=True)
        test_path.unlink(missing_ok=True)
        raise
