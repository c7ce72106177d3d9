"""The report's own typed records: what every renderer (HTML, Markdown, JSON) reads.

They are filled by :mod:`leanloop.report.source` from the store's JSON shapes, so a
change of the store's records touches that one adapter, never the renderers.
Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Band", "Rule", "DriftRow", "QualityRow", "GateCheck", "SegmentRow", "Multivariate", "ChunkView",
    "CycleView", "EventView", "VersionView", "Distribution", "HardCaseRow", "ReportData",
]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Band(_Record):
    """A value and its interval (``lower``/``upper`` None when none was computed)."""

    value: float | None
    lower: float | None = None
    upper: float | None = None


class Rule(_Record):
    """One rule of the decision: the number it saw, its threshold, whether it fired."""

    rule: str
    value: float | None
    threshold: float | None
    fired: bool
    says: str


class DriftRow(_Record):
    """One feature's (or output's) drift test."""

    feature: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int


class QualityRow(_Record):
    """One data-quality check of one feature against the reference."""

    feature: str
    check: str
    value: float | None
    reference: float | None
    threshold: float | None
    flagged: bool
    count: int | None = None


class GateCheck(_Record):
    """One check of the champion-against-challenger gate."""

    check: str
    champion: float | None
    challenger: float | None
    threshold: float | None
    passed: bool
    difference: float | None = None
    lower: float | None = None
    upper: float | None = None
    p_value: float | None = None
    says: str = ""


class SegmentRow(_Record):
    """A weak segment of the labelled rows."""

    segment: str
    rows: int
    metric: str
    value: float | None
    overall: float | None
    gap: float | None
    adjusted_p_value: float | None
    impact: float | None


class Multivariate(_Record):
    """The joint drift checks: domain classifier AUC and PCA reconstruction error."""

    drifted: bool
    classifier_auc: Band | None = None
    classifier_threshold: float | None = None
    classifier_drifted: bool | None = None
    top_features: list[str] = Field(default_factory=list)
    pca_error: float | None = None
    pca_lower: float | None = None
    pca_upper: float | None = None
    pca_drifted: bool | None = None


class ChunkView(_Record):
    """A time chunk (``--chunks``) or calendar period (``--period``) of a measured window."""

    label: str
    start: str | None
    end: str | None
    rows: int
    labelled: int
    drift: list[DriftRow]
    realized: Band | None
    estimated: Band | None


class CycleView(_Record):
    """One cycle of the ledger, as the report shows it."""

    cycle: int
    at: str
    trigger: str
    action: str
    rules: list[Rule]
    champion_before: str
    champion_after: str
    challenger: str | None
    promoted: bool
    rolled_back: bool
    shadowed: str | None
    error: str | None
    window_start: str | None
    window_end: str | None
    rows: int
    labelled: int
    coverage: float | None
    delay_p50: float | None
    delay_p90: float | None
    realized: dict[str, Band]
    estimated: dict[str, Band]
    baseline: dict[str, Band]
    reference: dict[str, float]
    estimation_error: dict[str, float]
    estimation_method: str | None
    kpis: dict[str, Band]
    estimated_kpis: dict[str, Band]
    baseline_kpis: dict[str, Band]
    reference_kpis: dict[str, float]
    kpi_gain: dict[str, Band]
    #: what argmax would have earned on the same labelled rows (the served rule's worth is the difference)
    argmax_kpis: dict[str, float] = {}
    drift: list[DriftRow]
    drifted_features: list[str]
    prediction_drift: DriftRow | None
    output_drift: list[DriftRow]
    multivariate: Multivariate | None
    quality: list[QualityRow]
    gate: list[GateCheck]
    gate_promote: bool | None
    segments: list[SegmentRow]
    hard_cases: dict[str, int]
    chunks: list[ChunkView]


class EventView(_Record):
    """A ledger entry outside a cycle: manual promotion or rollback, shadow start or stop."""

    entry: int
    kind: str
    at: str
    champion_before: str
    champion_after: str
    reason: str


class VersionView(_Record):
    """One model version and where it came from."""

    version: str
    parent: str | None
    source: str
    #: the user's own estimator (adopted, or its clone refitted) or leanloop's pipeline, and its class
    model_kind: str = "leanloop"
    estimator: str | None = None
    created_at: str
    cycle: int | None
    train_data: str | None
    train_rows: int | None
    fingerprint: str
    metrics: dict[str, float]
    aliases: list[str]
    promoted_at: list[str]
    promoted_by: list[str]
    #: the label rule it serves with (``argmax``, ``expected_value``)
    label_rule: str = "argmax"


class Distribution(_Record):
    """One feature in the reference data against the focus cycle's window, as shares per bin."""

    feature: str
    kind: str
    bins: list[str]
    reference: list[float]
    current: list[float]
    n_reference: int
    n_current: int


class HardCaseRow(_Record):
    """A row of the enriched test set."""

    prediction_id: str
    added_at: str
    cycle: int | None
    reason: str
    detail: str | None
    model_version: str | None
    label: str | None
    prediction: str | None


class ReportData(_Record):
    """Everything the report shows; ``leanloop report --format json`` prints it."""

    project: str
    generated_at: str
    task: str
    main_metric: str
    main_kpi: str | None
    champion: str | None
    focus: CycleView | None
    cycles: list[CycleView]
    events: list[EventView]
    versions: list[VersionView]
    distributions: list[Distribution]
    hard_cases: list[HardCaseRow]
    hard_cases_total: int
