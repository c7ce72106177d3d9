"""Sections of the Measure stage: ``[performance]``, ``[measure]`` (drift), ``[quality]``,
``[multivariate]``, ``[stream]``, ``[segments]`` and ``[testset]``.

:class:`DriftSettings` declares the drift thresholds once: ``[measure]`` extends it with
the window, and :class:`leanloop.measure.drift.DriftOptions` with a seed.

Examples
--------
>>> MeasureConfig().alpha, SegmentsConfig().correction.value
(0.05, 'bh')
"""

from __future__ import annotations

from pydantic import Field

from leanloop.config._base import Section
from leanloop.config.enums import (
    Correction,
    DriftMethod,
    SegmentMetric,
    StreamDetectorKind,
    ThresholdMode,
    TimeBasis,
)
from leanloop.config.limits import MAX_BINS, MAX_ROUNDS, MAX_ROWS, MAX_SEGMENTS

__all__ = ["DriftSettings", "PerformanceConfig", "MeasureConfig", "QualityConfig", "MultivariateConfig",
           "StreamConfig", "SegmentsConfig", "TestsetConfig"]


class PerformanceConfig(Section):
    """Bootstrap intervals of realized metrics and KPIs, and estimated performance
    without labels (CBPE for classifiers, DLE for regressors)."""

    bootstrap_resamples: int = Field(500, ge=50, le=20_000, description="Bootstrap resamples of each interval.")
    bootstrap_max_rows: int | None = Field(20_000, ge=1000, le=MAX_ROWS,
                                           description="Rows drawn for the bootstrap (none: all labelled rows).")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals.")
    estimate: bool = Field(True, description="Estimate performance on rows without labels.")


class DriftSettings(Section):
    """Drift thresholds, declared once for ``[measure]`` and the drift options."""

    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="p-value threshold of the tests (KS, chi-square, ...).")
    psi_threshold: float = Field(0.2, gt=0.0, description="PSI above this is drift.")
    psi_bins: int = Field(10, ge=2, le=MAX_BINS,
                          description="Quantile bins of the reference for numeric PSI, JS and Hellinger.")
    wasserstein_threshold: float = Field(0.1, gt=0.0, description="Wasserstein / reference std above this is drift.")
    jensen_shannon_threshold: float = Field(0.1, gt=0.0, le=1.0,
                                            description="JS distance (base 2) above this is drift.")
    hellinger_threshold: float = Field(0.1, gt=0.0, le=1.0, description="Hellinger distance above this is drift.")
    l_infinity_threshold: float = Field(0.1, gt=0.0, le=1.0,
                                        description="Largest change of a category's share above this is drift.")
    large_sample: int = Field(1000, ge=2, le=MAX_ROWS,
                              description="From this many values on both sides, distances instead of tests.")
    threshold_mode: ThresholdMode = Field(ThresholdMode.FIXED,
                                          description="fixed, or calibrated per feature on reference chunks.")
    false_alarm_rate: float = Field(0.05, gt=0.0, lt=0.5, description="Calibrated: alarm rate on data without drift.")
    calibration_rounds: int = Field(30, ge=5, le=MAX_ROUNDS,
                                    description="Calibrated: reference chunks drawn per threshold.")


class MeasureConfig(DriftSettings):
    """The window and drift thresholds. [measure.drift_methods] picks a method per
    feature, e.g. age = "psi"."""

    window_rows: int = Field(5000, ge=10, le=MAX_ROWS, description="Rows in a window (the newest predictions).")
    labelled_window_rows: int | None = Field(
        None, ge=10, le=MAX_ROWS,
        description="Labelled rows performance and KPIs are judged on: the newest rows that have labels, "
                    "wherever they fall in time (none: as many as window_rows).")
    labelled_max_age_days: float | None = Field(
        None, ge=0.0, description="Labelled rows older than this many days (before the newest prediction) "
                                  "are not judged on (none: any age).")
    reference_max_rows: int = Field(50_000, ge=100, le=MAX_ROWS, description="Rows of the reference data sampled.")
    drift_methods: dict[str, DriftMethod] = Field(default_factory=dict,
                                                  description="Drift method per feature, instead of the default.")
    time: TimeBasis | None = Field(None, description=(
        "What windows, --since/--until, --period and chunks go by: event (each row's event time, its arrival "
        "when it carries none; late events land in their own period) or arrival (none: event when [data] "
        "time_column is set)."))


class QualityConfig(Section):
    """Data-quality checks of a window against the reference: each flags above its threshold."""

    max_missing_increase: float = Field(0.05, ge=0.0, le=1.0, description="Increase of a feature's missing rate.")
    max_out_of_range_share: float = Field(0.01, ge=0.0, le=1.0,
                                          description="Share of values outside the reference range.")
    max_unseen_share: float = Field(0.0, ge=0.0, le=1.0, description="Share of categories the reference never had.")
    max_type_error_share: float = Field(0.0, ge=0.0, le=1.0, description="Share of values of the wrong type.")
    max_duplicate_increase: float = Field(0.05, ge=0.0, le=1.0, description="Increase of the duplicate-row share.")


class MultivariateConfig(Section):
    """Multivariate drift: a domain classifier telling reference from window rows, and
    the PCA reconstruction error against reference chunks."""

    enabled: bool = Field(True, description="Run the multivariate checks.")
    auc_threshold: float = Field(0.55, gt=0.5, lt=1.0, description="Domain classifier ROC AUC above this is drift.")
    folds: int = Field(5, ge=2, le=20, description="Cross-validation folds of the domain classifier.")
    max_rows: int = Field(5_000, ge=100, le=MAX_ROWS, description="Rows a side for the domain classifier.")
    top_features: int = Field(5, ge=1, le=MAX_SEGMENTS, description="Features reported as driving the drift.")
    pca_variance: float = Field(0.65, gt=0.0, lt=1.0, description="Variance the PCA components keep.")
    pca_chunks: int = Field(10, ge=3, le=MAX_ROUNDS, description="Reference chunks that set the PCA band.")
    pca_sigmas: float = Field(3.0, gt=0.0, description="Band of mean +/- this many std of the reference error.")
    seed: int = Field(0, description="Seed of the row samples.")


class StreamConfig(Section):
    """River change detectors over the per-prediction loss and the outputs, in order.
    kswin runs a KS test per row (about 1 ms each), so it is off by default."""

    enabled: bool = Field(True, description="Run the streaming detectors.")
    detectors: list[StreamDetectorKind] = Field(
        default_factory=lambda: [StreamDetectorKind.ADWIN, StreamDetectorKind.PAGE_HINKLEY],
        description="Detectors to run: adwin, page_hinkley, kswin.")
    adwin_delta: float = Field(0.002, gt=0.0, lt=1.0, description="ADWIN confidence (smaller: fewer changes).")
    page_hinkley_threshold: float = Field(50.0, gt=0.0, description="Page-Hinkley alarm threshold.")
    page_hinkley_delta: float = Field(0.005, ge=0.0, description="Page-Hinkley tolerated change.")
    kswin_alpha: float = Field(0.00001, gt=0.0, lt=1.0, description="KSWIN p-value threshold.")
    kswin_window: int = Field(300, ge=20, le=MAX_SEGMENTS, description="KSWIN window in rows.")
    seed: int = Field(0, description="Seed of KSWIN's sampling.")


class SegmentsConfig(Section):
    """Weak segments: slices (a category, a reference quantile bin, pairs of them) of
    labelled rows significantly worse than the rest, in the measurement and in the
    promotion gate alike. One setting serves both: the gate blocks a challenger
    significantly worse on any of the top_k largest single slices of at least
    min_support rows, corrected as the finder is (BH by default: a gate that errs
    toward keeping the champion costs one delayed promotion, not a shipped regression).
    """

    metric: SegmentMetric = Field(SegmentMetric.KPI, description="What a segment is worse in: kpi or error.")
    min_support: int = Field(50, ge=5, le=MAX_ROWS, description="Fewest rows a segment needs to be tested.")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Significance level after the correction.")
    correction: Correction = Field(Correction.BH, description="Multiple-comparison correction: bh or holm.")
    bins: int = Field(5, ge=2, le=50, description="Reference quantile bins of each numeric feature.")
    max_pairs: int = Field(2000, ge=0, le=MAX_SEGMENTS, description="Pairs of slices tested, at most.")
    top_k: int = Field(10, ge=1, le=MAX_SEGMENTS,
                       description="Weak segments reported; slices the gate tests (largest first).")
    max_rows: int | None = Field(20_000, ge=100, le=MAX_ROWS, description="Rows sampled to find segments (none: all).")


class TestsetConfig(Section):
    """Hard cases (confident errors, high loss, weak segments, drifted regions) kept in
    the enriched test set; the gate rejects a challenger significantly worse on it."""

    __test__ = False  # not a pytest test class despite its name

    confidence: float = Field(0.8, gt=0.5, le=1.0, description="A wrong prediction this confident is a hard case.")
    low_margin: float = Field(0.6, gt=0.0, le=1.0,
                              description="A right prediction whose class probability is below this is a hard "
                                          "case (low margin); a confident right one never is.")
    per_reason: int = Field(100, ge=1, le=MAX_ROWS, description="Hard cases added per reason per cycle.")
    max_rows: int = Field(5000, ge=10, le=MAX_ROWS, description="Rows the enriched test set keeps (oldest go first).")
    min_rows: int = Field(30, ge=1, le=MAX_ROWS, description="Rows the gate needs before it judges on the test set.")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Significance level of the gate's test-set check.")
