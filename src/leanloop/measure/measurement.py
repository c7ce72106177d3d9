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
from leanloop.measure.columnar import cached_reference_scored, reference_key
from leanloop.measure.drift import DriftOptions, DriftResult, chi_square_test, drift_report, ks_test
from leanloop.measure.multivariate import MultivariateResult
from leanloop.measure.outputs import OutputDrift
from leanloop.measure.quality import QualityReport
from leanloop.measure.stream import StreamResult
from leanloop.scoring import Scored, model_input, score

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.project import Project

__all__ = ["Window", "Performance", "Chunk", "Measurement", "Frames", "measure_window", "measure_frames", "logged_scored"]


class Window(BaseModel):
    """The slice of production measured."""

    model_config = ConfigDict(frozen=True)

    start: str | None
    end: str | None
    rows: int
    labelled: int


class Performance(BaseModel):
    """Realized metrics on labelled rows, the baseline's on the same rows, and the
    champion's metrics on its test set for reference."""

    model_config = ConfigDict(frozen=True)

    realized: dict[str, float] = Field(default_factory=dict)
    baseline: dict[str, float] = Field(default_factory=dict)
    reference: dict[str, float] = Field(default_factory=dict)


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
    period: str | None = None
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None


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
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None
    stream: list[StreamResult] | None = None

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
    import numpy as np

    labels = window["prediction"].tolist()
    if task is Task.REGRESSION or not classes or window["probabilities"].isna().any():
        return Scored(labels=labels, probabilities=None, classes=classes)
    names = [str(c) for c in classes]
    proba = np.array([[row.get(n, 0.0) for n in names] for row in window["probabilities"]], dtype=float)
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
    drifted: list[str] = field(default_factory=list)
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None


def measure_frames(project: Project, reference: pd.DataFrame, window: pd.DataFrame,
                   reference_scored: Scored, baseline: Any, pca: Any = None) -> Frames:
    """Drift, prediction drift, performance and KPIs of ``window`` against ``reference``
    (with data quality, multivariate, output and target drift; ``pca`` a fitted
    :class:`~leanloop.measure.multivariate.PcaDrift` to reuse)."""
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

    labelled = window[window["label"].notna()]
    if labelled.empty:
        return Frames(drift=drift, prediction_drift=prediction_drift, drifted=drifted, **extra)
    truth = labelled["label"].tolist()
    realized = evaluate_scored(logged_scored(labelled, config.data.task, config.data.classes), truth,
                               config.data, config.kpi)
    X = schema.model_frame(current.loc[labelled.index], "logged predictions")
    base = evaluate(baseline, X, truth, config.data, config.kpi)
    return Frames(drift=drift, prediction_drift=prediction_drift,
                  performance=Performance(realized=realized.metrics, baseline=base.metrics),
                  kpis=realized.kpis, baseline_kpis=base.kpis, labelled=len(labelled), drifted=drifted, **extra)


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

    from leanloop.measure.outputs import prediction_signal, row_loss
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
        loss = row_loss(logged_scored(labelled, task, classes), labelled["label"].tolist(), task)
        results += detect_changes(loss, signal=StreamSignal.LOSS, rows=rows, ids=[ids[i] for i in rows],
                                  times=times[rows], options=config.stream)
    return results


def measure_window(project: Project, *, last: int | None = None, since: float | None = None,
                   chunks: int = 0, period: str | None = None) -> Measurement:
    """Measure the last ``last`` predictions (default: the configured window), or those
    since ``since`` (epoch seconds), against the champion's training data; also per
    chunk: ``chunks`` parts by count, or calendar bins of ``period`` (e.g. "1D")."""
    from leanloop.measure.chunking import chunk_by_count, chunk_by_period

    config = project.config
    registry = project.registry
    champion = registry.champion()
    if since is None and last is None:
        last = config.measure.window_rows
    window = project.store.window(last=last, since=since).reset_index(drop=True)
    reference = _reference(project, champion.train_data, config.measure.reference_max_rows, config.model.seed)
    model, baseline = registry.load(champion.version)
    key = reference_key(champion.version, champion.sha256, config.measure.reference_max_rows, config.model.seed)
    reference_scored = cached_reference_scored(
        project.paths.workspace / "cache", key,
        lambda: score(model, model_input(config.schema_, reference, champion.input_format, "reference data"),
                      config.data.task.value))
    pca = _fit_pca(project, reference)
    whole = measure_frames(project, reference, window, reference_scored, baseline, pca)
    drifted = sorted(whole.drifted)
    chunk_list = None
    slices = (chunk_by_period(window["created_at"].to_numpy(dtype=float), period) if period
              else chunk_by_count(len(window), chunks) if chunks else None)
    if slices is not None:
        chunk_list = []
        for part in slices:
            piece = window.iloc[part.positions]
            part_result = measure_frames(project, reference, piece, reference_scored, baseline, pca)
            chunk_list.append(Chunk(
                start=_iso(piece["created_at"].min()) if len(piece) else None,
                end=_iso(piece["created_at"].max()) if len(piece) else None,
                rows=len(piece), labelled=part_result.labelled, drift=part_result.drift,
                performance=part_result.performance, kpis=part_result.kpis, period=part.label,
                quality=part_result.quality, multivariate=part_result.multivariate,
                prediction_outputs=part_result.prediction_outputs, target_drift=part_result.target_drift,
            ))
    served = window["model_version"].value_counts().to_dict() if len(window) else {}
    return Measurement(
        window=Window(start=_iso(window["created_at"].min()) if len(window) else None,
                      end=_iso(window["created_at"].max()) if len(window) else None,
                      rows=len(window), labelled=whole.labelled),
        champion=champion.version,
        served_by={str(k): int(v) for k, v in served.items()},
        drift=whole.drift, drifted_features=drifted, prediction_drift=whole.prediction_drift,
        performance=Performance(realized=whole.performance.realized, baseline=whole.performance.baseline,
                                reference=champion.metrics),
        kpis=whole.kpis, baseline_kpis=whole.baseline_kpis,
        reference_kpis={k: v for k, v in champion.kpi.items() if not k.startswith("baseline_")},
        chunks=chunk_list, quality=whole.quality, multivariate=whole.multivariate,
        prediction_outputs=whole.prediction_outputs, target_drift=whole.target_drift,
        stream=_stream(project, window),
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
