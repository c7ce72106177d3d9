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
from leanloop.measure.drift import DriftOptions, DriftResult, chi_square_test, feature_drift, ks_test
from leanloop.measure.labels import LabelDelay, label_coverage, label_delay
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
    coverage: float | None = None
    label_delay: LabelDelay | None = None


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


def measure_frames(project: Project, reference: pd.DataFrame, window: pd.DataFrame,
                   reference_scored: Scored, baseline: Any) -> Frames:
    """Drift, prediction drift, performance and KPIs of ``window`` against ``reference``."""
    import pandas as pd

    from leanloop.build.evaluate import evaluate, evaluate_scored

    config = project.config
    schema = config.schema_
    options = DriftOptions(alpha=config.measure.alpha, psi_threshold=config.measure.psi_threshold,
                           psi_bins=config.measure.psi_bins)
    if window.empty:
        return Frames()
    window = window.reset_index(drop=True)
    current = schema.coerce(pd.DataFrame(window["features"].tolist()), "logged predictions")
    drift: list[DriftResult] = []
    for feature in schema.features:
        if current[feature.name].notna().any() and reference[feature.name].notna().any():
            drift.extend(feature_drift(reference[feature.name], current[feature.name], feature=feature.name,
                                       kind=feature.kind, options=options))
    kind, ref_out = _output_sample(reference_scored, config.data.task)
    _, cur_out = _output_sample(logged_scored(window, config.data.task, config.data.classes), config.data.task)
    test = ks_test if kind == "numeric" else chi_square_test
    prediction_drift = test(ref_out, cur_out, feature="prediction", kind=kind, alpha=options.alpha)

    labelled = window[window["label"].notna()]
    if labelled.empty:
        return Frames(drift=drift, prediction_drift=prediction_drift)
    truth = labelled["label"].tolist()
    realized = evaluate_scored(logged_scored(labelled, config.data.task, config.data.classes), truth,
                               config.data, config.kpi)
    X = schema.model_frame(current.loc[labelled.index], "logged predictions")
    base = evaluate(baseline, X, truth, config.data, config.kpi)
    return Frames(drift=drift, prediction_drift=prediction_drift,
                  performance=Performance(realized=realized.metrics, baseline=base.metrics),
                  kpis=realized.kpis, baseline_kpis=base.kpis, labelled=len(labelled))


def measure_window(project: Project, *, last: int | None = None, since: float | None = None,
                   chunks: int = 0) -> Measurement:
    """Measure the last ``last`` predictions (default: the configured window), or those
    since ``since`` (epoch seconds), against the champion's training data."""
    import numpy as np
    import pandas as pd

    config = project.config
    registry = project.registry
    champion = registry.champion()
    if since is None and last is None:
        last = config.measure.window_rows
    window = project.store.window(last=last, since=since).reset_index(drop=True)
    reference = _reference(project, champion.train_data, config.measure.reference_max_rows, config.model.seed)
    model, baseline = registry.load(champion.version)
    reference_scored = score(model, model_input(config.schema_, reference, champion.input_format, "reference data"),
                             config.data.task.value)
    whole = measure_frames(project, reference, window, reference_scored, baseline)
    drifted = sorted({r.feature for r in whole.drift if r.drifted and r.method.value in ("ks", "chi_square")})
    chunk_list = None
    if chunks:
        chunk_list = []
        for part in np.array_split(np.arange(len(window)), min(chunks, max(len(window), 1))):
            piece = window.iloc[part]
            part_result = measure_frames(project, reference, piece, reference_scored, baseline)
            chunk_list.append(Chunk(
                start=_iso(piece["created_at"].min()) if len(piece) else None,
                end=_iso(piece["created_at"].max()) if len(piece) else None,
                rows=len(piece), labelled=part_result.labelled, drift=part_result.drift,
                coverage=label_coverage(piece), label_delay=label_delay(piece),
                performance=part_result.performance, kpis=part_result.kpis,
            ))
    served = window["model_version"].value_counts().to_dict() if len(window) else {}
    return Measurement(
        window=Window(start=_iso(window["created_at"].min()) if len(window) else None,
                      end=_iso(window["created_at"].max()) if len(window) else None,
                      rows=len(window), labelled=whole.labelled,
                      coverage=label_coverage(window), label_delay=label_delay(window)),
        champion=champion.version,
        served_by={str(k): int(v) for k, v in served.items()},
        drift=whole.drift, drifted_features=drifted, prediction_drift=whole.prediction_drift,
        performance=Performance(realized=whole.performance.realized, baseline=whole.performance.baseline,
                                reference=champion.metrics),
        kpis=whole.kpis, baseline_kpis=whole.baseline_kpis,
        reference_kpis={k: v for k, v in champion.kpi.items() if not k.startswith("baseline_")},
        chunks=chunk_list,
    )


def _reference(project: Project, train_data: str | None, max_rows: int, seed: int) -> pd.DataFrame:
    import pandas as pd

    from leanloop.errors import NotFoundError

    if not train_data or not (project.paths.datasets / train_data).is_file():
        raise NotFoundError("the champion has no reference data in the workspace; rebuild or re-adopt it")
    frame = pd.read_parquet(project.paths.datasets / train_data)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame
