"""One window of production measured against the champion's reference data.

A :class:`Measurement` holds the window, per-feature drift, prediction drift,
realized performance on the rows whose labels arrived (with the trivial baseline's
beside it), the KPIs, and optionally the same per time chunk. Its JSON shape is what
``leanloop measure --json`` prints and users script against: extend, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.config import Task
from leanloop.measure.bootstrap import BootstrapOptions, Interval
from leanloop.measure.columnar import cached_reference_scored, reference_key
from leanloop.measure.drift import DriftOptions, DriftResult, chi_square_test, drift_report, ks_test
from leanloop.measure.hard_cases import HardCase
from leanloop.measure.kpi import kpi_intervals, row_weights
from leanloop.measure.labels import LabelDelay, label_coverage, label_delay
from leanloop.measure.multivariate import MultivariateResult
from leanloop.measure.outputs import OutputDrift
from leanloop.measure.quality import QualityReport
from leanloop.measure.segments import Segment
from leanloop.measure.stream import StreamResult
from leanloop.scoring import Scored, model_input, score

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.measure.estimation.champion import ChampionEstimator
    from leanloop.project import Project

__all__ = ["Window", "Performance", "Chunk", "Measurement", "Frames", "measure_window", "measure_frames", "logged_scored"]


class Window(BaseModel):
    """The slice of production measured."""

    model_config = ConfigDict(frozen=True)

    start: str | None
    end: str | None
    rows: int
    labelled: int
    coverage: float | None = None
    label_delay: LabelDelay | None = None


class Performance(BaseModel):
    """Realized metrics on labelled rows, the baseline's on the same rows, and the
    champion's metrics on its test set for reference; bootstrap intervals of the
    realized and baseline metrics; metrics estimated without labels on all rows
    (CBPE / DLE, same names) with their bands, and, where labelled rows exist, the
    estimation error (estimate on the labelled rows minus realized)."""

    model_config = ConfigDict(frozen=True)

    realized: dict[str, float] = Field(default_factory=dict)
    baseline: dict[str, float] = Field(default_factory=dict)
    reference: dict[str, float] = Field(default_factory=dict)
    labelled: int = 0
    intervals: dict[str, Interval] = Field(default_factory=dict)
    baseline_intervals: dict[str, Interval] = Field(default_factory=dict)
    estimated: dict[str, float] = Field(default_factory=dict)
    estimated_intervals: dict[str, Interval] = Field(default_factory=dict)
    estimation_error: dict[str, float] = Field(default_factory=dict)
    estimation_method: str | None = None
    #: labelled rows the intervals' bootstrap read when it subsampled
    #: (``[performance] bootstrap_max_rows``; rescaled to all rows), else None
    bootstrap_rows: int | None = None
    #: rows the estimation bands' simulations read when they subsampled (same setting), else None
    estimation_rows: int | None = None


class Chunk(BaseModel):
    """A time-ordered part of the window, measured on its own."""

    model_config = ConfigDict(frozen=True)

    start: str | None
    end: str | None
    rows: int
    labelled: int
    drift: list[DriftResult]
    performance: Performance
    kpis: dict[str, float]
    kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    estimated_kpis: dict[str, float] = Field(default_factory=dict)
    estimated_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    period: str | None = None
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None
    coverage: float | None = None
    label_delay: LabelDelay | None = None


class Measurement(BaseModel):
    """What one window of production looked like."""

    model_config = ConfigDict(frozen=True)

    window: Window
    champion: str
    served_by: dict[str, int]
    drift: list[DriftResult]
    drifted_features: list[str]
    prediction_drift: DriftResult | None
    performance: Performance
    kpis: dict[str, float]
    baseline_kpis: dict[str, float]
    reference_kpis: dict[str, float]
    chunks: list[Chunk] | None = None
    #: bootstrap intervals of ``kpis`` and ``baseline_kpis``; the model's KPI minus the
    #: baseline's on the same rows (paired resamples): what the model is worth over doing nothing
    kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    baseline_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    kpi_gain: dict[str, Interval] = Field(default_factory=dict)
    #: KPIs estimated on all rows without labels (CBPE / DLE), and their bands
    estimated_kpis: dict[str, float] = Field(default_factory=dict)
    estimated_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None
    stream: list[StreamResult] | None = None
    #: Weak segments of the labelled rows, worst (by impact) first.
    segments: list[Segment] = Field(default_factory=list)
    #: Labelled rows the segment finder read when it sampled them (``[segments] max_rows``), else None.
    segment_rows: int | None = None
    #: Hard cases found in the window, by reason.
    hard_cases: dict[str, int] = Field(default_factory=dict)
    #: The hard cases themselves, for the enriched test set (not in the JSON).
    hard_case_rows: list[HardCase] = Field(default_factory=list, exclude=True)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (``chunks`` only when chunks were asked for)."""
        return self.model_dump(mode="json", exclude_none=False, exclude={"chunks"} if self.chunks is None else set())

    @property
    def drift_share(self) -> float:
        """Share of features whose primary drift test fired."""
        features = {r.feature for r in self.drift}
        return len(self.drifted_features) / len(features) if features else 0.0


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(float(seconds), UTC).isoformat()


def logged_scored(window: pd.DataFrame, task: Task, classes: list[Any] | None) -> Scored:
    """The logged outputs of ``window`` as a :class:`Scored` batch, probabilities in class order."""
    labels = window["prediction"].tolist()
    if task is Task.REGRESSION or not classes or window["probabilities"].isna().any():
        return Scored(labels=labels, probabilities=None, classes=classes)
    import pandas as pd

    names = [str(c) for c in classes]
    # one columnar pass over the logged dicts (a class a row lacks has probability 0)
    proba = pd.DataFrame(window["probabilities"].tolist(), columns=names).fillna(0.0).to_numpy(dtype=float)
    return Scored(labels=labels, probabilities=proba.reshape(len(labels), len(names)), classes=classes)


def _output_sample(scored: Scored, task: Task) -> tuple[str, np.ndarray | list[Any]]:
    """What prediction drift compares: positive-class probability (binary), class
    (multiclass), value (regression)."""
    import numpy as np

    if task is Task.REGRESSION:
        return "numeric", np.asarray(scored.labels, dtype=float)
    if scored.probabilities is not None and scored.classes is not None and len(scored.classes) == 2:
        return "numeric", np.asarray(scored.probabilities)[:, 1]
    return "categorical", [str(v) for v in scored.labels]


@dataclass(frozen=True)
class Frames:
    """What :func:`measure_frames` finds in one slice of the log."""

    drift: list[DriftResult] = field(default_factory=list)
    prediction_drift: DriftResult | None = None
    performance: Performance = field(default_factory=Performance)
    kpis: dict[str, float] = field(default_factory=dict)
    baseline_kpis: dict[str, float] = field(default_factory=dict)
    labelled: int = 0
    kpi_intervals: dict[str, Interval] = field(default_factory=dict)
    baseline_kpi_intervals: dict[str, Interval] = field(default_factory=dict)
    kpi_gain: dict[str, Interval] = field(default_factory=dict)
    estimated_kpis: dict[str, float] = field(default_factory=dict)
    estimated_kpi_intervals: dict[str, Interval] = field(default_factory=dict)

    drifted: list[str] = field(default_factory=list)
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None


def measure_frames(project: Project, reference: pd.DataFrame, window: pd.DataFrame,
                   reference_scored: Scored, baseline: Any, pca: Any = None,
                   estimator: ChampionEstimator | None = None) -> Frames:
    """Drift, prediction drift, performance and KPIs of ``window`` against ``reference``
    (with data quality, multivariate, output and target drift; ``pca`` a fitted
    :class:`~leanloop.measure.multivariate.PcaDrift` to reuse), and estimated
    performance when an ``estimator`` is given."""
    import pandas as pd

    from leanloop.build.evaluate import evaluate, evaluate_scored

    config = project.config
    schema = config.schema_
    options = DriftOptions.from_config(config.measure, seed=config.model.seed)
    if window.empty:
        return Frames()
    window = window.reset_index(drop=True)
    current = schema.coerce(pd.DataFrame(window["features"].tolist()), "logged predictions")
    report = drift_report(reference[schema.names], current, options=options, methods=config.measure.drift_methods,
                          schema=schema)
    drift, drifted = report.results, report.drifted
    kind, ref_out = _output_sample(reference_scored, config.data.task)
    _, cur_out = _output_sample(logged_scored(window, config.data.task, config.data.classes), config.data.task)
    test = ks_test if kind == "numeric" else chi_square_test
    prediction_drift = test(ref_out, cur_out, feature="prediction", kind=kind, alpha=options.alpha)
    extra = _monitor(project, reference, current, window, reference_scored, options, pca)

    scored = logged_scored(window, config.data.task, config.data.classes)
    estimates = _estimates(project, estimator, scored, current, window.index)
    labelled = window[window["label"].notna()]
    if labelled.empty:
        return Frames(drift=drift, prediction_drift=prediction_drift, drifted=drifted,
                      estimated_kpis={k: i.value for k, i in estimates.kpis.items()},
                      estimated_kpi_intervals=estimates.kpis,
                      performance=Performance(estimated=estimates.values, estimated_intervals=estimates.bands,
                                              estimation_method=estimates.method, estimation_rows=estimates.rows),
                      **extra)
    truth = labelled["label"].tolist()
    resampling = BootstrapOptions(resamples=config.performance.bootstrap_resamples,
                                  confidence=config.performance.confidence, seed=config.model.seed,
                                  max_rows=config.performance.bootstrap_max_rows)
    X = schema.model_frame(current.loc[labelled.index], "logged predictions")
    realized = evaluate_scored(logged_scored(labelled, config.data.task, config.data.classes), truth,
                               config.data, config.kpi, weights=row_weights(X, config.kpi), intervals=resampling)
    base = evaluate(baseline, X, truth, config.data, config.kpi, intervals=resampling)
    on_labelled = estimates if len(labelled) == len(window) else _estimates(
        project, estimator, logged_scored(labelled, config.data.task, config.data.classes), current, labelled.index)
    gain = {}
    if realized.kpi_values is not None and base.kpi_values is not None:
        gain = kpi_intervals(realized.kpi_values - base.kpi_values, config.kpi.name, resampling)
    performance = Performance(
        realized=realized.metrics, baseline=base.metrics, labelled=len(labelled), intervals=realized.intervals,
        baseline_intervals=base.intervals, estimated=estimates.values, estimated_intervals=estimates.bands,
        estimation_error={k: v - realized.metrics[k] for k, v in on_labelled.values.items() if k in realized.metrics},
        estimation_method=estimates.method, bootstrap_rows=realized.bootstrap_rows, estimation_rows=estimates.rows)
    return Frames(drift=drift, prediction_drift=prediction_drift, performance=performance,
                  kpis=realized.kpis, baseline_kpis=base.kpis, labelled=len(labelled), drifted=drifted,
                  kpi_intervals=realized.kpi_intervals, baseline_kpi_intervals=base.kpi_intervals,
                  kpi_gain=gain, estimated_kpis={k: i.value for k, i in estimates.kpis.items()},
                  estimated_kpi_intervals=estimates.kpis, **extra)


@dataclass(frozen=True)
class _Estimates:
    method: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    bands: dict[str, Interval] = field(default_factory=dict)
    kpis: dict[str, Interval] = field(default_factory=dict)
    rows: int | None = None


def _estimates(project: Project, estimator: ChampionEstimator | None, scored: Scored, current: pd.DataFrame,
               rows: pd.Index) -> _Estimates:
    """The estimator's view of ``rows`` of the window (nothing without an estimator)."""
    if estimator is None:
        return _Estimates()
    X = project.config.schema_.model_frame(current.loc[rows], "logged predictions")
    found = estimator.estimate(scored, X, row_weights(X, project.config.kpi))
    if found is None:
        return _Estimates()
    bands = {k: Interval(value=e.value, lower=e.lower, upper=e.upper) for k, e in found.metrics.items()}
    kpis = {k: Interval(value=e.value, lower=e.lower, upper=e.upper) for k, e in found.kpis.items()}
    return _Estimates(found.method, found.values, bands, kpis, found.simulated_rows)


def _monitor(project: Project, reference: pd.DataFrame, current: pd.DataFrame, window: pd.DataFrame,
             reference_scored: Scored, options: DriftOptions, pca: Any) -> dict[str, Any]:
    """Data quality, multivariate drift, output drift and target drift of one slice."""
    from leanloop.measure.multivariate import multivariate_drift
    from leanloop.measure.outputs import prediction_outputs, target_drift
    from leanloop.measure.quality import quality_report

    config = project.config
    task, schema = config.data.task, config.schema_
    labels = window.loc[window["label"].notna(), "label"].tolist()
    target = reference[config.data.target].tolist() if config.data.target in reference else []
    multivariate = None
    if config.multivariate.enabled:
        multivariate = multivariate_drift(reference, current, schema, config.multivariate, pca=pca)
    return {
        "quality": quality_report(reference, current, schema, config.quality),
        "multivariate": multivariate,
        "prediction_outputs": prediction_outputs(
            reference_scored, logged_scored(window, task, config.data.classes), task, options),
        "target_drift": target_drift(target, labels, task, options) if labels else None,
    }


def _stream(project: Project, window: pd.DataFrame) -> list[StreamResult] | None:
    """River detectors over the per-prediction loss (labelled rows) and the prediction stream."""
    import numpy as np

    from leanloop.measure.outputs import prediction_signal
    from leanloop.measure.rows import row_outcomes
    from leanloop.measure.stream import StreamSignal, detect_changes

    config = project.config
    if not config.stream.enabled or window.empty:
        return None
    task, classes = config.data.task, config.data.classes
    ids, times = window["prediction_id"].tolist(), window["created_at"].to_numpy(dtype=float)
    results = detect_changes(prediction_signal(logged_scored(window, task, classes), task),
                             signal=StreamSignal.PREDICTION, ids=ids, times=times, options=config.stream)
    rows = np.flatnonzero(window["label"].notna().to_numpy())
    if len(rows):
        labelled = window.iloc[rows]
        scored = logged_scored(labelled, task, classes)
        loss = row_outcomes(labelled["label"].tolist(), scored.labels, None, config.data, config.kpi).error
        results += detect_changes(loss, signal=StreamSignal.LOSS, rows=rows, ids=[ids[i] for i in rows],
                                  times=times[rows], options=config.stream)
    return results


def measure_window(project: Project, *, last: int | None = None, since: float | None = None,
                   chunks: int = 0, period: str | None = None, window: pd.DataFrame | None = None,
                   loaded: tuple[Any, Any] | None = None) -> Measurement:
    """Measure the last ``last`` predictions (default: the configured window), or those
    since ``since`` (epoch seconds), against the champion's training data; also per
    chunk: ``chunks`` parts by count, or calendar bins of ``period`` (e.g. "1D").

    A caller that already read the window from the store (``window``, as
    :meth:`~leanloop.store.SQLStore.window` returns it) or loaded the champion's
    ``(model, baseline)`` (``loaded``) passes them so they are not read again."""
    from leanloop.measure.chunking import chunk_by_count, chunk_by_period
    from leanloop.measure.estimation.champion import fit_champion_estimator
    from leanloop.measure.hard_cases import weak_spots

    config = project.config
    registry = project.registry
    champion = registry.champion()
    if since is None and last is None:
        last = config.measure.window_rows
    if window is None:
        window = project.store.window(last=last, since=since)
    window = window.reset_index(drop=True)
    reference = _reference(project, champion.train_data, config.measure.reference_max_rows, config.model.seed)
    model, baseline = registry.load(champion.version) if loaded is None else loaded
    key = reference_key(champion.version, champion.sha256, config.measure.reference_max_rows, config.model.seed)
    reference_scored = cached_reference_scored(
        project.paths.workspace / "cache", key,
        lambda: score(model, model_input(config.schema_, reference, champion.input_format, "reference data"),
                      config.data.task.value))
    pca = _fit_pca(project, reference)
    estimator = fit_champion_estimator(project, champion, model) if len(window) else None
    whole = measure_frames(project, reference, window, reference_scored, baseline, pca, estimator)
    drifted = sorted(whole.drifted)
    chunk_list = None
    slices = (chunk_by_period(window["created_at"].to_numpy(dtype=float), period) if period
              else chunk_by_count(len(window), chunks) if chunks else None)
    if slices is not None:
        chunk_list = []
        for part in slices:
            piece = window.iloc[part.positions]
            part_result = measure_frames(project, reference, piece, reference_scored, baseline, pca, estimator)
            chunk_list.append(Chunk(
                start=_iso(piece["created_at"].min()) if len(piece) else None,
                end=_iso(piece["created_at"].max()) if len(piece) else None,
                rows=len(piece), labelled=part_result.labelled, drift=part_result.drift,
                performance=part_result.performance, kpis=part_result.kpis, period=part.label,
                quality=part_result.quality, multivariate=part_result.multivariate,
                prediction_outputs=part_result.prediction_outputs, target_drift=part_result.target_drift,
                kpi_intervals=part_result.kpi_intervals, estimated_kpis=part_result.estimated_kpis,
                estimated_kpi_intervals=part_result.estimated_kpi_intervals,
                coverage=label_coverage(piece), label_delay=label_delay(piece),
            ))
    served = window["model_version"].value_counts().to_dict() if len(window) else {}
    spots = weak_spots(config, reference=reference, window=window, drifted=drifted)
    return Measurement(
        window=Window(start=_iso(window["created_at"].min()) if len(window) else None,
                      end=_iso(window["created_at"].max()) if len(window) else None,
                      rows=len(window), labelled=whole.labelled,
                      coverage=label_coverage(window), label_delay=label_delay(window)),
        champion=champion.version,
        served_by={str(k): int(v) for k, v in served.items()},
        drift=whole.drift, drifted_features=drifted, prediction_drift=whole.prediction_drift,
        performance=whole.performance.model_copy(update={"reference": champion.metrics}),
        kpis=whole.kpis, baseline_kpis=whole.baseline_kpis,
        reference_kpis={k: v for k, v in champion.kpi.items() if not k.startswith("baseline_")},
        chunks=chunk_list, quality=whole.quality, multivariate=whole.multivariate,
        prediction_outputs=whole.prediction_outputs, target_drift=whole.target_drift,
        stream=_stream(project, window), segments=spots.segments, segment_rows=spots.segment_rows, hard_cases=spots.counts(),
        hard_case_rows=spots.hard_cases,
        kpi_intervals=whole.kpi_intervals, baseline_kpi_intervals=whole.baseline_kpi_intervals,
        kpi_gain=whole.kpi_gain, estimated_kpis=whole.estimated_kpis,
        estimated_kpi_intervals=whole.estimated_kpi_intervals,
    )


def _fit_pca(project: Project, reference: pd.DataFrame) -> Any:
    """PCA drift fitted once per window on the reference (``None`` when off or too small)."""
    from leanloop.measure.multivariate import PcaDrift

    options = project.config.multivariate
    if not options.enabled or len(reference) < 2 * options.pca_chunks:
        return None
    return PcaDrift(options).fit(reference, project.config.schema_)


def _reference(project: Project, train_data: str | None, max_rows: int, seed: int) -> pd.DataFrame:
    import pandas as pd

    from leanloop.errors import NotFoundError

    if not train_data or not (project.paths.datasets / train_data).is_file():
        raise NotFoundError("the champion has no reference data in the workspace; rebuild or re-adopt it")
    frame = pd.read_parquet(project.paths.datasets / train_data)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame
