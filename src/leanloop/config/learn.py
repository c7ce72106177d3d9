"""Sections of the Learn stage: the decision rules ``[policy]``, ``[retrain]`` and the
promotion ``[gate]``.

Examples
--------
>>> PolicyConfig(main_metric="f1").main_metric_for(DataConfig(path="d.csv", target="y", task="classification"))
'f1'
>>> RetrainConfig().strategy.value, GateConfig().resamples
('reference_plus_recent', 500)
"""

from __future__ import annotations

from pydantic import Field

from leanloop.config._base import Section
from leanloop.config.data import DataConfig
from leanloop.config.engine import EngineKind
from leanloop.config.enums import Metric, ModelKind, RetrainStrategy, Task
from leanloop.config.limits import MAX_CYCLES, MAX_RESAMPLES, MAX_ROWS, MAX_SEGMENTS

__all__ = ["PolicyConfig", "RetrainConfig", "GateConfig"]


class PolicyConfig(Section):
    """Rules that turn a measurement into continue / wait / retrain / rollback / pivot.
    'leanloop explain CYCLE' shows every rule with its numbers."""

    min_rows: int = Field(1000, ge=1, le=MAX_ROWS, description="Rows a window needs before any decision.")
    min_labels: int = Field(300, ge=1, le=MAX_ROWS, description="Labelled rows a window needs to judge performance.")
    main_metric: Metric | None = Field(
        None, description="Metric the policy watches: accuracy, roc_auc, f1 (classification), mae, rmse "
                          "(regression); default roc_auc (binary), accuracy (multiclass), mae.")
    max_metric_drop: float = Field(0.03, ge=0.0, description="Largest tolerated drop of the main metric (absolute).")
    max_kpi_drop: float = Field(0.1, ge=0.0, description="Largest tolerated KPI drop, as a share of the reference KPI.")
    max_drift_share: float = Field(0.5, gt=0.0, le=1.0,
                                   description="Share of drifted features that fires the drift rule.")
    retrain_on_drift: bool = Field(False, description="Retrain on drift alone, without a performance drop.")
    max_class_mix_shift: float | None = Field(0.1, gt=0.0, le=1.0, description=(
        "Class mix change (total variation of the label shares) that, while the model still ranks as on "
        "reference, recalibrates instead of retraining; unset: never recalibrate."))
    max_calibration_shift: float | None = Field(0.03, gt=0.0, le=1.0, description=(
        "Calibration error (ECE) gained over the champion's holdout, lower end of its interval, that, while the "
        "model still ranks as on reference, recalibrates instead of retraining; unset: not on calibration."))
    min_coverage: float = Field(0.0, ge=0.0, le=1.0, description="Share of the window that must have labels.")
    max_quality_breaches: int | None = Field(
        None, ge=0, le=MAX_SEGMENTS,
        description="Data-quality breaches tolerated before waiting (none: informational only).")
    cooldown_cycles: int = Field(1, ge=0, le=MAX_CYCLES, description="Cycles after a retrain before the next one.")
    confirm_cycles: int = Field(1, ge=1, le=MAX_CYCLES,
                                description="Consecutive harmed cycles needed before retraining.")
    rollback_margin: float = Field(
        0.0, ge=0.0, description="Roll back when the previous version beats the champion by more (CI lower end).")
    pivot_baseline_margin: float = Field(
        0.0, description="Pivot when the model beats the trivial baseline by less than this.")
    pivot_after_retrains: int = Field(3, ge=1, le=MAX_CYCLES,
                                      description="Retrains that failed to beat the baseline before a pivot.")
    retrain_model: ModelKind = Field(ModelKind.OWN, description=(
        "The model a retrain fits: own (a clone of the champion's estimator, so an adopted model stays the "
        "user's own, refitted on the new rows) or leanloop (leanloop's pipeline, also for an adopted model)."))

    def main_metric_for(self, data: DataConfig) -> str:
        """The metric the policy watches: configured, else ROC AUC (binary), accuracy
        (multiclass) or MAE (regression)."""
        if self.main_metric:
            return self.main_metric.value
        if data.task is Task.REGRESSION:
            return Metric.MAE.value
        binary = data.classes is not None and len(data.classes) == 2
        return (Metric.ROC_AUC if binary else Metric.ACCURACY).value


class RetrainConfig(Section):
    """Which rows a challenger learns from and which recent rows judge it."""

    strategy: RetrainStrategy = Field(RetrainStrategy.REFERENCE_PLUS_RECENT,
                                      description="reference_plus_recent, expanding or sliding.")
    window_rows: int = Field(20_000, ge=10, le=MAX_ROWS, description="sliding: the latest labelled rows learnt from.")
    recency_half_life_rows: int | None = Field(None, ge=1, le=MAX_ROWS,
                                               description="Production rows' weight halves every this many rows.")
    max_rows: int = Field(50_000, ge=100, le=MAX_ROWS, description="Rows a challenger trains on, at most.")
    production_weight: float = Field(3.0, gt=0.0, description="Weight of production rows against reference rows.")
    recent_eval_share: float = Field(0.3, gt=0.0, lt=1.0,
                                     description="Share of the recent labelled rows held out to judge the challenger.")
    engine: EngineKind = Field(EngineKind.LOCAL, description=(
        "Where leanloop's pipeline is retrained: local (this process) or dask (LightGBM's Dask interface on the "
        "[engine] cluster, converted to a plain LightGBM model for serving; needs leanloop[lightgbm])."))


class GateConfig(Section):
    """The promotion gate: a challenger is promoted only if every check passes."""

    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the gate's intervals.")
    resamples: int = Field(500, ge=50, le=MAX_RESAMPLES, description="Bootstrap resamples of the gate's checks.")
    min_kpi_gain: float = Field(0.0, description="KPI lift per row a challenger must show.")
    shadow_before_promote: bool = Field(False,
                                        description="Shadow a winning challenger on live traffic before promoting it.")
