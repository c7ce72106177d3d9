"""The records a measurement is made of: the window, performance, and the slice
result that a :class:`Chunk` and the whole window's :class:`Measurement` extend.

Their JSON shape is what ``leanloop measure --json`` prints and users script
against: extend, never rename.

Examples
--------
>>> chunk = Chunk(start=None, end=None, rows=0, labelled=0)
>>> sorted(set(Chunk.model_fields) - set(SliceResult.model_fields))
['coverage', 'end', 'label_delay', 'labelled', 'period', 'rows', 'start']
>>> chunk.performance.realized, chunk.drift
({}, [])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.frames import Tabular
from leanloop.measure.attribution import Attribution
from leanloop.measure.bootstrap import Interval
from leanloop.measure.calibration import CalibrationShift
from leanloop.measure.drift import DriftResult
from leanloop.measure.drift.result import drift_frame
from leanloop.measure.hard_cases import HardCase
from leanloop.measure.labels import LabelDelay
from leanloop.measure.multivariate import MultivariateResult
from leanloop.measure.outputs import OutputDrift
from leanloop.measure.quality import QualityReport
from leanloop.measure.segments import Segment
from leanloop.measure.stream import StreamResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Window", "Performance", "SliceResult", "Frames", "Chunk", "Measurement"]


class Window(BaseModel):
    """The slice of production measured."""

    model_config = ConfigDict(frozen=True)

    start: str | None
    end: str | None
    rows: int
    labelled: int
    coverage: float | None = None
    label_delay: LabelDelay | None = None
    #: seconds from this slice's newest row to the newest prediction (the labelled
    #: window only: how old the labelled evidence is), else None
    age_seconds: float | None = None
    #: when the newest label of the slice arrived (epoch seconds; the labelled window
    #: only: the ledger counts a cycle as new evidence only when this moved)
    labels_until: float | None = None
    #: labelled rows of the slice whose label arrived after ``labels_after`` (the last
    #: cycle that counted as evidence; the labelled window only): only these confirm
    new_labels: int | None = None


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


class SliceResult(BaseModel):
    """What one slice of the log shows against the reference: drift, performance,
    KPIs (realized and estimated, with intervals), data quality, multivariate, output
    and target drift. A :class:`Chunk` and the :class:`Measurement` extend it."""

    model_config = ConfigDict(frozen=True)

    drift: list[DriftResult] = Field(default_factory=list)
    performance: Performance = Field(default_factory=Performance)
    kpis: dict[str, float] = Field(default_factory=dict)
    kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    #: what argmax would have earned on the same labelled rows (the served rule's worth is
    #: ``kpis`` minus this); empty for regression or without probabilities
    argmax_kpis: dict[str, float] = Field(default_factory=dict)
    #: KPIs estimated on all rows without labels (CBPE / DLE), and their bands
    estimated_kpis: dict[str, float] = Field(default_factory=dict)
    estimated_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    quality: QualityReport | None = None
    multivariate: MultivariateResult | None = None
    prediction_outputs: list[OutputDrift] | None = None
    target_drift: OutputDrift | None = None

    def slice_fields(self) -> dict[str, Any]:
        """The fields every slice result has, by name (to build a chunk or a measurement)."""
        return {name: getattr(self, name) for name in SliceResult.model_fields}


class Frames(SliceResult):
    """What :func:`~leanloop.measure.slice.measure_frames` finds in one slice: the slice
    result, plus what only the whole window reports."""

    labelled: int = 0
    drifted: list[str] = Field(default_factory=list)
    prediction_drift: DriftResult | None = None
    baseline_kpis: dict[str, float] = Field(default_factory=dict)
    baseline_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    kpi_gain: dict[str, Interval] = Field(default_factory=dict)


class Chunk(SliceResult):
    """A time-ordered part of the window, measured on its own."""

    start: str | None
    end: str | None
    rows: int
    labelled: int
    period: str | None = None
    coverage: float | None = None
    label_delay: LabelDelay | None = None


class Measurement(Tabular, SliceResult):
    """What one window of production looked like; as a frame, drift per feature."""

    window: Window
    champion: str
    served_by: dict[str, int]
    drifted_features: list[str]
    prediction_drift: DriftResult | None
    baseline_kpis: dict[str, float]
    reference_kpis: dict[str, float]
    chunks: list[Chunk] | None = None
    #: bootstrap intervals of ``baseline_kpis``; the model's KPI minus the baseline's on
    #: the same rows (paired resamples): what the model is worth over doing nothing
    baseline_kpi_intervals: dict[str, Interval] = Field(default_factory=dict)
    kpi_gain: dict[str, Interval] = Field(default_factory=dict)
    stream: list[StreamResult] | None = None
    #: Weak segments of the labelled rows, worst (by impact) first.
    segments: list[Segment] = Field(default_factory=list)
    #: Labelled rows the segment finder read when it sampled them (``[segments] max_rows``), else None.
    segment_rows: int | None = None
    #: Hard cases found in the window, by reason.
    hard_cases: dict[str, int] = Field(default_factory=dict)
    #: The hard cases themselves, for the enriched test set (not in the JSON).
    hard_case_rows: list[HardCase] = Field(default_factory=list, exclude=True)
    #: The newest labelled rows, wherever they fall in time, that performance, KPIs,
    #: weak segments and hard cases were judged on (``[measure] labelled_window_rows``).
    labelled_window: Window | None = None
    #: The KPI change from the champion's holdout to the labelled window, split into
    #: what the population did and what the model did (:mod:`leanloop.measure.attribution`).
    kpi_attribution: Attribution | None = None
    #: The attribution in one sentence: a population change, model harm, or neither.
    finding: str | None = None
    #: The accuracy change from the champion's holdout to the labelled window (the
    #: served label right or wrong), split like the KPI's; None for regression.
    accuracy_attribution: Attribution | None = None
    #: The served probabilities' calibration (ECE) on the labelled window against the
    #: champion's on its holdout (:mod:`leanloop.measure.calibration`); None for regression.
    calibration: CalibrationShift | None = None
    #: The label rule the champion serves with (``argmax`` or ``expected_value``).
    label_rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (``chunks`` only when chunks were asked for)."""
        return self.model_dump(mode="json", exclude_none=False, exclude={"chunks"} if self.chunks is None else set())

    def to_frame(self) -> pd.DataFrame:
        """Each feature's drift result, one row each (the rest is in :meth:`to_json`)."""
        return drift_frame(self.drift)

    def frame_title(self) -> str:
        """The window, the champion, what drifted and the realized metrics."""
        realized = ", ".join(f"{k} {v:.4g}" for k, v in self.performance.realized.items())
        return (f"measurement of {self.window.rows} rows ({self.window.labelled} labelled) served by {self.champion}: "
                f"drifted {', '.join(self.drifted_features) or 'none'}" + (f"; {realized}" if realized else ""))

    @property
    def drift_share(self) -> float:
        """Share of features whose primary drift test fired."""
        features = {r.feature for r in self.drift}
        return len(self.drifted_features) / len(features) if features else 0.0
