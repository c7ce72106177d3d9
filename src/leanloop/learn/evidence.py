"""What the policy reads: one window's numbers and the loop's recent history.

:class:`Evidence` is a flat, typed view of a :class:`~leanloop.measure.measurement.Measurement`
(the window's size, labels, the main metric and the KPI — realized, estimated, the
reference's and the trivial baseline's — drift and data quality) plus :class:`History`,
what the ledger says about earlier cycles (how long since the last retrain, how long
the harm has lasted, how many retrains failed to bring the KPI back) and, when the
champion replaced another version, how that ``previous`` version does on the same rows.
The policy's tests build it directly; the loop builds it with :func:`evidence_from`.

Examples
--------
>>> e = Evidence(rows=5000, champion_rows=5000, labelled=4000, metric="roc_auc",
...              realized=0.80, reference=0.90)
>>> e.coverage
0.8
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from leanloop.config import ProjectConfig
    from leanloop.measure.records import Measurement

__all__ = ["History", "Previous", "Evidence", "evidence_from", "class_mix_shift"]


class History(BaseModel):
    """What earlier cycles of the ledger say (:func:`leanloop.learn.ledger.history` reads it)."""

    model_config = ConfigDict(frozen=True)

    cycles_since_retrain: int | None = None
    harm_streak: int = 0
    failed_retrains: int = 0
    #: when the newest label the last counted cycle judged on arrived: a cycle whose
    #: labelled evidence is no newer adds no confirmation (None: no such cycle)
    labels_until: float | None = None
    #: the last challenger was promoted after learning from the rows logged since
    #: ``adapting_since`` (the change it answered), ``adapting_rows`` of them: more such
    #: rows teach a better one (None: no adaptation under way)
    adapting_since: float | None = None
    adapting_rows: int | None = None
    #: when the labelled rows of the first cycle of the current harm streak start: a
    #: retrain on lasting harm learns from every row the harm was seen on
    harm_since: float | None = None


class Previous(BaseModel):
    """The ``previous`` version scored on the window's labelled rows, beside the champion."""

    model_config = ConfigDict(frozen=True)

    version: str
    champion_metric: float
    previous_metric: float
    gain_lower: float
    gain_upper: float
    rows: int


class Evidence(BaseModel):
    """One window's numbers, as the policy's rules read them."""

    model_config = ConfigDict(frozen=True)

    rows: int
    champion_rows: int
    labelled: int
    metric: str
    realized: float | None = None
    realized_lower: float | None = None
    realized_upper: float | None = None
    reference: float | None = None
    estimated: float | None = None
    baseline: float | None = None
    kpi_name: str = "net_value"
    kpi: float | None = None
    reference_kpi: float | None = None
    estimated_kpi: float | None = None
    drift_share: float = 0.0
    drifted_features: list[str] = Field(default_factory=list)
    multivariate_drift: bool | None = None
    prediction_drift: bool | None = None
    quality_breaches: list[str] = Field(default_factory=list)
    history: History = Field(default_factory=History)
    previous: Previous | None = None
    #: A challenger the loop put in shadow mode whose live verdict is still pending.
    shadow_trial: str | None = None
    #: labelled rows inside the newest window (``labelled`` counts the labelled window,
    #: wherever its rows fall in time); None: the same as ``labelled``
    window_labelled: int | None = None
    #: the KPI change per prediction the model is responsible for, and the mix's part,
    #: with their intervals (:mod:`leanloop.measure.harm`); None when not measured
    kpi_model: float | None = None
    kpi_model_upper: float | None = None
    kpi_population: float | None = None
    kpi_population_lower: float | None = None
    kpi_population_upper: float | None = None
    #: the attribution in one sentence (a population change or model harm)
    finding: str | None = None
    #: when the newest label of the labelled window arrived (epoch seconds)
    labels_until: float | None = None
    #: labels of the labelled window that arrived after the last cycle that counted
    #: (None: not measured; then any newer label counts)
    new_labels: int | None = None
    #: labelled rows logged since ``history.adapting_since`` (None: no adaptation under way)
    adapt_rows: int | None = None
    #: How well the champion ranks (ROC AUC, one-vs-rest for multiclass) on the labelled
    #: rows, its interval, and on reference: what tells recalibration from retraining.
    ranking: float | None = None
    ranking_lower: float | None = None
    ranking_upper: float | None = None
    ranking_reference: float | None = None
    #: How far the class mix of the labels moved from the reference (total variation, 0..1).
    class_mix_shift: float | None = None
    #: The served probabilities' ECE on the labelled rows, the champion's on its holdout,
    #: and the ECE gained (window minus reference at the window's size) with its lower end.
    calibration_error: float | None = None
    calibration_reference: float | None = None
    calibration_shift: float | None = None
    calibration_shift_lower: float | None = None

    @property
    def coverage(self) -> float:
        """Share of the window's predictions whose labels arrived."""
        labelled = self.labelled if self.window_labelled is None else self.window_labelled
        return labelled / self.rows if self.rows else 0.0

    @property
    def new_evidence(self) -> bool:
        """Whether labels arrived since the last cycle the ledger counted (always, when
        either side does not say)."""
        last = self.history.labels_until
        return last is None or self.labels_until is None or self.labels_until > last

    def fresh(self, min_labels: int) -> bool:
        """Whether this window is evidence of its own: labels arrived since the last
        counted cycle and, where counted, at least ``min_labels`` of them (a window that
        overlaps the last one counts only its new rows).

        >>> e = Evidence(rows=5000, champion_rows=5000, labelled=4000, metric="roc_auc", new_labels=200)
        >>> e.fresh(300), e.fresh(100)
        (False, True)
        """
        return self.new_evidence and (self.new_labels is None or self.new_labels >= min_labels)


def _interval(performance: Any, metric: str) -> tuple[float | None, float | None]:
    """The realized metric's confidence interval, when the measurement carries one."""
    intervals = getattr(performance, "intervals", None) or {}
    band = intervals.get(metric) if isinstance(intervals, dict) else None
    if band is None:
        return None, None
    if isinstance(band, dict):
        return band.get("lower"), band.get("upper")
    return getattr(band, "lower", None), getattr(band, "upper", None)


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("drifted")
    return getattr(value, "drifted", None)


def evidence_from(measurement: Measurement, config: ProjectConfig, *, history: History | None = None,
                  previous: Previous | None = None, shadow_trial: str | None = None,
                  adapt_rows: int | None = None) -> Evidence:
    """The :class:`Evidence` of ``measurement`` for the project's policy."""
    metric = config.policy.main_metric_for(config.data)
    kpi_name = config.kpi.name
    performance = measurement.performance
    estimated = getattr(performance, "estimated", None) or {}
    estimated_value = estimated.get(metric) if isinstance(estimated, dict) else None
    if isinstance(estimated_value, dict):
        estimated_value = estimated_value.get("value")
    lower, upper = _interval(performance, metric)
    quality = getattr(measurement, "quality", None)
    breaches = [] if quality is None else list(getattr(quality, "breaches", []) or [])
    estimated_kpis = getattr(measurement, "estimated_kpis", None) or {}
    labelled_window = getattr(measurement, "labelled_window", None)
    split = getattr(measurement, "kpi_attribution", None)
    mix = class_mix_shift(getattr(measurement, "target_drift", None))
    return Evidence(
        rows=measurement.window.rows,
        champion_rows=measurement.served_by.get(measurement.champion, 0),
        labelled=measurement.window.labelled if labelled_window is None else labelled_window.rows,
        window_labelled=None if labelled_window is None else measurement.window.labelled,
        labels_until=None if labelled_window is None else labelled_window.labels_until,
        new_labels=None if labelled_window is None else labelled_window.new_labels,
        kpi_model=None if split is None else split.model.value,
        kpi_model_upper=None if split is None else split.model.upper,
        kpi_population=None if split is None else split.population.value,
        kpi_population_lower=None if split is None else split.population.lower,
        kpi_population_upper=None if split is None else split.population.upper,
        finding=getattr(measurement, "finding", None),
        metric=metric,
        realized=performance.realized.get(metric),
        realized_lower=lower, realized_upper=upper,
        reference=performance.reference.get(metric),
        estimated=estimated_value if isinstance(estimated_value, (int, float)) else None,
        baseline=performance.baseline.get(metric),
        kpi_name=kpi_name,
        kpi=measurement.kpis.get(kpi_name),
        reference_kpi=measurement.reference_kpis.get(kpi_name),
        estimated_kpi=estimated_kpis.get(kpi_name) if isinstance(estimated_kpis, dict) else None,
        drift_share=measurement.drift_share,
        drifted_features=list(measurement.drifted_features),
        multivariate_drift=_flag(getattr(measurement, "multivariate", None)),
        prediction_drift=_flag(measurement.prediction_drift),
        quality_breaches=breaches,
        history=history or History(),
        previous=previous,
        shadow_trial=shadow_trial, class_mix_shift=mix, adapt_rows=adapt_rows,
        **_ranking(performance, config), **_calibration(getattr(measurement, "calibration", None)),
    )


def _calibration(found: Any) -> dict[str, Any]:
    """The measurement's calibration figures (:class:`~leanloop.measure.calibration.CalibrationShift`)."""
    if found is None:
        return {}
    return {"calibration_error": found.window.value, "calibration_reference": found.reference,
            "calibration_shift": found.shift.value, "calibration_shift_lower": found.shift.lower}


def _ranking(performance: Any, config: ProjectConfig) -> dict[str, Any]:
    """The ranking metric (ROC AUC) of the measurement, its interval and reference value."""
    if config.data.task.value == "regression":
        return {}
    lower, upper = _interval(performance, "roc_auc")
    return {"ranking": performance.realized.get("roc_auc"), "ranking_lower": lower, "ranking_upper": upper,
            "ranking_reference": performance.reference.get("roc_auc")}


def class_mix_shift(target_drift: Any) -> float | None:
    """Total variation between the reference and the current class shares of the labels.

    >>> from leanloop.measure.outputs import OutputDrift, Share
    >>> drift = OutputDrift(output="target", kind="categorical", drift=[],
    ...                     shares={"0": Share(reference=0.5, current=0.75), "1": Share(reference=0.5, current=0.25)})
    >>> class_mix_shift(drift)
    0.25
    """
    shares = getattr(target_drift, "shares", None)
    if not shares:
        return None
    return 0.5 * sum(abs(s.reference - s.current) for s in shares.values())
