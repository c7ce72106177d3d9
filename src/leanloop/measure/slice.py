"""One slice of the prediction log measured against the reference data.

:func:`measure_frames` is the per-slice computation that the whole window and each of
its chunks go through (:mod:`leanloop.measure.measurement` orchestrates them): drift,
prediction drift, data quality, multivariate, output and target drift, realized
performance and KPIs on the labelled rows (with the trivial baseline's beside them),
and, with an estimator, performance estimated without labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanloop.config import Task
from leanloop.measure.bootstrap import BootstrapOptions, Interval
from leanloop.measure.distinct import column_list
from leanloop.measure.drift import DriftOptions, chi_square_test, drift_report, ks_test
from leanloop.measure.evaluation import Evaluation, evaluate, evaluate_scored
from leanloop.measure.kpi import argmax_kpis, kpi_intervals, row_weights
from leanloop.measure.logged import logged_scored, output_sample
from leanloop.measure.memory import release_freed_memory
from leanloop.measure.multivariate import multivariate_drift
from leanloop.measure.outputs import prediction_outputs, target_drift
from leanloop.measure.quality import quality_report
from leanloop.measure.records import Frames, Performance
from leanloop.store.features import feature_frame

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import ProjectConfig
    from leanloop.measure.estimation.champion import ChampionEstimator
    from leanloop.measure.files import FileMeasurement
    from leanloop.scoring import Scored

__all__ = ["ColumnsHook", "SliceFrames", "measure_frames"]

#: Where a slice's per-column statistics (feature drift and data quality) are computed:
#: given the reference rows and the slice's coerced features, the same report as
#: :func:`~leanloop.measure.drift.drift_report` and :func:`~leanloop.measure.quality.quality_report`
#: give. An engine (:mod:`leanloop.engines`) passes one to run them elsewhere.
ColumnsHook = Callable[["pd.DataFrame", "pd.DataFrame"], "FileMeasurement"]


@dataclass(frozen=True)
class _Estimates:
    method: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    bands: dict[str, Interval] = field(default_factory=dict)
    kpis: dict[str, Interval] = field(default_factory=dict)
    rows: int | None = None


def measure_frames(config: ProjectConfig, reference: pd.DataFrame, window: pd.DataFrame,
                   reference_scored: Scored, baseline: Any, pca: Any = None,
                   estimator: ChampionEstimator | None = None, labelled: pd.DataFrame | None = None,
                   outputs_reference: Scored | None = None, columns: ColumnsHook | None = None,
                   frames: SliceFrames | None = None) -> Frames:
    """Drift, prediction drift, performance and KPIs of ``window`` against ``reference``
    (with data quality, multivariate, output and target drift; ``pca`` a fitted
    :class:`~leanloop.measure.multivariate.PcaDrift` to reuse), and estimated
    performance when an ``estimator`` is given.

    With ``labelled`` (the newest labelled rows, wherever they fall in time) realized
    performance and KPIs are judged on those rows and the estimate on the window's rows
    still without labels; without it, both on the window's own rows. Prediction drift
    compares the outputs with ``outputs_reference`` when given (the champion's outputs on
    its holdout: on its own training rows a model is more confident than it will ever be
    on new rows, and that gap alone fired the alarm on a stable period).
    ``frames``: the slice's features, coerced and as the model reads them, when the
    caller made them (:meth:`SliceFrames.of` ``window``)."""

    schema = config.schema_
    options = DriftOptions.from_config(config.measure, seed=config.model.seed)
    if window.empty:
        return Frames()
    window = window.reset_index(drop=True)
    frames = frames or SliceFrames.of(config, window)
    current = frames.coerced_features()
    if columns is not None:
        found = columns(reference, current)
        report, quality = found.drift, found.quality or quality_report(reference, current, schema, config.quality)
    else:
        report = drift_report(reference[schema.names], current, options=options,
                              methods=config.measure.drift_methods, schema=schema)
        quality = quality_report(reference, current, schema, config.quality)
    scored = logged_scored(window, config.data.task, config.data.classes)
    kind, ref_out = output_sample(outputs_reference or reference_scored, config.data.task)
    _, cur_out = output_sample(scored, config.data.task)
    test = ks_test if kind == "numeric" else chi_square_test
    common: dict[str, Any] = {
        "drift": report.results, "drifted": report.drifted,
        "prediction_drift": test(ref_out, cur_out, feature="prediction", kind=kind, alpha=options.alpha),
        "quality": quality, **_monitor(config, reference, current, window, scored, reference_scored, options, pca),
    }
    unlabelled = window.index[window["label"].isna().to_numpy()] if labelled is not None else window.index
    rows = unlabelled if len(unlabelled) else window.index
    # the same outputs are one Scored (one list of labels, factorised once), not one per use
    estimates = _estimates(config, estimator, scored if len(rows) == len(window)
                           else logged_scored(window.loc[rows], config.data.task, config.data.classes), frames, rows)
    common["estimated_kpis"] = {k: i.value for k, i in estimates.kpis.items()}
    common["estimated_kpi_intervals"] = estimates.kpis
    own = labelled is None
    labelled = window[window["label"].notna()] if labelled is None else labelled.reset_index(drop=True)
    if labelled.empty:
        return Frames(performance=Performance(estimated=estimates.values, estimated_intervals=estimates.bands,
                                              estimation_method=estimates.method, estimation_rows=estimates.rows),
                      **common)
    # The labelled rows are often the window itself (every row labelled): then their
    # features and CBPE's estimate on them are the window's, not computed twice
    # (the estimate's simulation was a quarter of a 10k-row window's measurement).
    whole = (not own and len(labelled) == len(window) == len(rows) and "prediction_id" in window
             and "prediction_id" in labelled
             and bool((labelled["prediction_id"].to_numpy() == window["prediction_id"].to_numpy()).all()))
    same = whole or (own and len(labelled) == len(window))
    features = (frames if same else SliceFrames(config, current.loc[labelled.index]) if own
                else SliceFrames.of(config, labelled))
    if same:
        features.keep_model_frame_only()
        del current
    release_freed_memory()  # what drift, quality and the estimate freed, before the bootstraps
    return _labelled(config, features, labelled, scored if same else None, baseline, estimator, estimates, same,
                     common)


class SliceFrames:
    """A slice's coerced features and, made once when first asked for, their model frame
    (the frame the model reads), shared by every part of a measurement that reads them.

    >>> import pandas as pd
    >>> from leanloop.config import DataConfig, ProjectConfig
    >>> from leanloop.schema import Feature, Schema
    >>> features = [Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")]
    >>> config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification"),
    ...                        schema=Schema(features=features))
    >>> frames = SliceFrames.of(config, pd.DataFrame({"features": [{"x": "1", "c": "a"}, {"x": 3, "c": None}]}))
    >>> frames.coerced_features()["x"].tolist(), frames.all().values.tolist()
    ([1.0, 3.0], [[1.0, 'a'], [3.0, nan]])
    """

    def __init__(self, config: ProjectConfig, coerced: pd.DataFrame, made: pd.DataFrame | None = None) -> None:
        self.config, self.made, self.n = config, made, len(coerced)
        self.coerced: pd.DataFrame | None = coerced

    @classmethod
    def of(cls, config: ProjectConfig, window: pd.DataFrame) -> SliceFrames:
        """The features of ``window``'s rows (as the log holds them), coerced to the schema
        once (a 1M-row window's coercion is 0.15 s)."""
        return cls(config, config.schema_.coerce(feature_frame(window), "logged predictions"))

    def coerced_features(self) -> pd.DataFrame:
        """The features coerced to the schema's types (index 0..n-1)."""
        return self._coerced()

    def all(self) -> pd.DataFrame:
        """The model frame of every row (built once per measurement, not once per use: 0.5 s
        a build at 1M rows)."""
        if self.made is None:
            self.made = self.config.schema_.model_columns(self._coerced())
        return self.made

    def rows(self, rows: pd.Index) -> pd.DataFrame:
        """The model frame of ``rows`` (labels of the coerced features' index)."""
        if len(rows) == self.n:
            return self.all()
        return self.config.schema_.model_columns(self._coerced().loc[rows])

    def keep_model_frame_only(self) -> None:
        """Let the coerced features go once only the model frame of every row is read
        again (56 MB of a 1M-row window, live when the bootstraps peak)."""
        self.all()
        self.coerced = None

    def _coerced(self) -> pd.DataFrame:
        if self.coerced is None:
            raise RuntimeError("the coerced features were let go; only the model frame of every row is kept")
        return self.coerced


def _labelled(config: ProjectConfig, features: SliceFrames, labelled: pd.DataFrame, scored: Scored | None,
              baseline: Any, estimator: ChampionEstimator | None, estimates: _Estimates, same: bool,
              common: dict[str, Any]) -> Frames:
    """The slice's result when some rows carry labels (``features``: theirs; ``scored``:
    their logged outputs when already read): realized performance and KPIs beside the
    baseline's, with bootstrap intervals and the estimation error (``estimates``: the
    window's; ``same``: made on these very rows)."""
    truth = column_list(labelled["label"])
    resampling = BootstrapOptions(resamples=config.performance.bootstrap_resamples,
                                  confidence=config.performance.confidence, seed=config.model.seed,
                                  max_rows=config.performance.bootstrap_max_rows)
    X = features.all()
    labelled_scored = scored if scored is not None else logged_scored(labelled, config.data.task, config.data.classes)
    weights = row_weights(X, config.kpi)
    realized = evaluate_scored(labelled_scored, truth, config.data, config.kpi, weights=weights, intervals=resampling)
    argmax = argmax_kpis(labelled_scored, truth, config.kpi, weights) if config.data.task is Task.CLASSIFICATION else {}
    base = evaluate(baseline, X, truth, config.data, config.kpi, intervals=resampling)
    on_labelled = estimates if same else _estimates(config, estimator, labelled_scored, features, X.index)
    performance = Performance(
        realized=realized.metrics, baseline=base.metrics, labelled=len(labelled), intervals=realized.intervals,
        baseline_intervals=base.intervals, estimated=estimates.values, estimated_intervals=estimates.bands,
        estimation_error={k: v - realized.metrics[k] for k, v in on_labelled.values.items() if k in realized.metrics},
        estimation_method=estimates.method, bootstrap_rows=realized.bootstrap_rows, estimation_rows=estimates.rows)
    return Frames(performance=performance, kpis=realized.kpis, argmax_kpis=argmax, baseline_kpis=base.kpis,
                  labelled=len(labelled),
                  kpi_intervals=realized.kpi_intervals, baseline_kpi_intervals=base.kpi_intervals,
                  kpi_gain=_gain(realized, base, config.kpi.name, resampling), **common)


def _gain(realized: Evaluation, base: Evaluation, kpi_name: str, resampling: BootstrapOptions) -> dict[str, Interval]:
    """The model's KPI minus the baseline's on the same rows (paired resamples)."""
    if realized.kpi_values is None or base.kpi_values is None:
        return {}
    return kpi_intervals(realized.kpi_values - base.kpi_values, kpi_name, resampling)


def _estimates(config: ProjectConfig, estimator: ChampionEstimator | None, scored: Scored, frames: SliceFrames,
               rows: pd.Index) -> _Estimates:
    """The estimator's view of ``rows`` of the window (nothing without an estimator)."""
    if estimator is None:
        return _Estimates()
    X = frames.rows(rows)
    found = estimator.estimate(scored, X, row_weights(X, config.kpi))
    if found is None:
        return _Estimates()
    bands = {k: Interval(value=e.value, lower=e.lower, upper=e.upper) for k, e in found.metrics.items()}
    kpis = {k: Interval(value=e.value, lower=e.lower, upper=e.upper) for k, e in found.kpis.items()}
    return _Estimates(found.method, found.values, bands, kpis, found.simulated_rows)


def _monitor(config: ProjectConfig, reference: pd.DataFrame, current: pd.DataFrame, window: pd.DataFrame,
             scored: Scored, reference_scored: Scored, options: DriftOptions, pca: Any) -> dict[str, Any]:
    """Multivariate drift, output drift and target drift of one slice."""
    task, schema = config.data.task, config.schema_
    labels = window.loc[window["label"].notna(), "label"].tolist()
    target = reference[config.data.target].tolist() if config.data.target in reference else []
    multivariate = None
    if config.multivariate.enabled:
        multivariate = multivariate_drift(reference, current, schema, config.multivariate, pca=pca)
    return {
        "multivariate": multivariate,
        "prediction_outputs": prediction_outputs(reference_scored, scored, task, options),
        "target_drift": target_drift(target, labels, task, options) if labels else None,
    }
