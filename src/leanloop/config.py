"""Project configuration: ``leanloop.toml``, validated once by pydantic.

The config holds the data description (target, task, time and id columns), the
schema, and the settings of each stage (model, KPI, measurement, policy, server,
store). It is written with commented defaults by ``leanloop init`` and read, never
mutated, by everything else.

Examples
--------
>>> cfg = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))
>>> cfg.model.seed, cfg.measure.alpha, cfg.policy.main_metric_for(cfg.data)
(0, 0.05, 'mae')
"""

from __future__ import annotations

import tomllib
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leanloop.errors import ProjectError
from leanloop.schema import Schema

__all__ = [
    "CONFIG_FILE",
    "WORKSPACE_DIR",
    "Task",
    "SqliteSync",
    "ValuePolicy",
    "DriftMethod",
    "ThresholdMode",
    "DataConfig",
    "ModelConfig",
    "KpiOutcome",
    "ErrorKind",
    "KpiConfig",
    "PerformanceConfig",
    "MeasureConfig",
    "QualityConfig",
    "MultivariateConfig",
    "StreamDetectorKind",
    "StreamConfig",
    "PolicyConfig",
    "Correction",
    "SegmentMetric",
    "SegmentsConfig",
    "TestsetConfig",
    "ServeConfig",
    "StoreConfig",
    "ProjectConfig",
    "ProjectPaths",
    "load_config",
    "render_config",
]

CONFIG_FILE = "leanloop.toml"
WORKSPACE_DIR = ".leanloop"

Label = bool | int | str


class Task(str, Enum):
    """What the model predicts."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class SqliteSync(str, Enum):
    """SQLite ``synchronous`` mode: FULL survives power loss, NORMAL only process crashes."""

    FULL = "FULL"
    NORMAL = "NORMAL"


class ValuePolicy(str, Enum):
    """What the server does with a value the schema did not foresee (an unseen category,
    a number outside the training range): accept it and count it, or refuse the request."""

    ACCEPT = "accept"
    REJECT = "reject"
class DriftMethod(str, Enum):
    """A univariate drift method: a hypothesis test (p-value) or a distance.

    Defined here, beside the config that names it per feature; the computations
    live in :mod:`leanloop.measure.drift`, one file per method.
    """

    KS = "ks"
    CHI_SQUARE = "chi_square"
    PSI = "psi"
    WASSERSTEIN = "wasserstein"
    JENSEN_SHANNON = "jensen_shannon"
    HELLINGER = "hellinger"
    CRAMER_VON_MISES = "cramer_von_mises"
    ANDERSON_DARLING = "anderson_darling"
    L_INFINITY = "l_infinity"
    Z_TEST = "z_test"


class ThresholdMode(str, Enum):
    """Where drift thresholds come from: fixed values, or calibrated per feature on
    reference chunks so that the false-alarm rate on data without drift is controlled."""

    FIXED = "fixed"
    CALIBRATED = "calibrated"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Section):
    """The training table and how to read it."""

    path: str
    target: str
    task: Task
    time_column: str | None = None
    id_column: str | None = None
    classes: list[Label] | None = None

    @property
    def excluded(self) -> list[str]:
        """Columns that are never features: target, time and id."""
        return [c for c in (self.target, self.time_column, self.id_column) if c]


class ModelConfig(_Section):
    """The minimal pipeline's gradient-boosting model and split."""

    test_size: float = Field(0.2, gt=0.0, lt=0.9)
    seed: int = 0
    max_iter: int = Field(200, ge=1)
    learning_rate: float = Field(0.1, gt=0.0, le=1.0)


class KpiOutcome(_Section):
    """The value of one confusion-matrix cell: a prediction of ``predicted`` when the
    truth was ``actual``."""

    actual: Label
    predicted: Label
    value: float


class ErrorKind(str, Enum):
    """Which error a regression KPI charges for."""

    ABSOLUTE = "absolute"
    SQUARED = "squared"


class KpiConfig(_Section):
    """Business value of model outcomes, as data (never code).

    Classification: ``outcomes`` value each confusion cell (actual, predicted), per class
    for multiclass; undeclared cells are worth ``default_value``. Regression: each unit of
    absolute (or squared, ``error``) error costs ``cost_per_unit_error``, or
    ``over_cost_per_unit`` when the prediction is above the truth and
    ``under_cost_per_unit`` when below. ``weight_column`` (a feature, e.g. the loan
    amount) multiplies each row's value.
    """

    name: str = "net_value"
    outcomes: list[KpiOutcome] = Field(default_factory=list)
    default_value: float = 0.0
    cost_per_unit_error: float = Field(1.0, ge=0.0)
    error: ErrorKind = ErrorKind.ABSOLUTE
    over_cost_per_unit: float | None = Field(None, ge=0.0)
    under_cost_per_unit: float | None = Field(None, ge=0.0)
    weight_column: str | None = None

    @field_validator("outcomes")
    @classmethod
    def _one_value_per_cell(cls, value: list[KpiOutcome]) -> list[KpiOutcome]:
        cells = [(str(o.actual), str(o.predicted)) for o in value]
        twice = sorted({c for c in cells if cells.count(c) > 1})
        if twice:
            raise ValueError(f"outcomes give (actual, predicted) cells {twice} more than one value; keep one each")
        return value

    @property
    def over_cost(self) -> float:
        """Cost per unit of error when the prediction is above the truth."""
        return self.cost_per_unit_error if self.over_cost_per_unit is None else self.over_cost_per_unit

    @property
    def under_cost(self) -> float:
        """Cost per unit of error when the prediction is below the truth."""
        return self.cost_per_unit_error if self.under_cost_per_unit is None else self.under_cost_per_unit


class PerformanceConfig(_Section):
    """Confidence intervals of realized metrics and KPIs, and estimation without labels."""

    bootstrap_resamples: int = Field(500, ge=50, le=20_000)
    bootstrap_max_rows: int | None = Field(20_000, ge=1000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    estimate: bool = True


class MeasureConfig(_Section):
    """Window size and drift thresholds (the drift fields mirror
    :class:`leanloop.measure.drift.DriftOptions`)."""

    window_rows: int = Field(5000, ge=10)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    psi_threshold: float = Field(0.2, gt=0.0)
    psi_bins: int = Field(10, ge=2)
    reference_max_rows: int = Field(50_000, ge=100)
    wasserstein_threshold: float = Field(0.1, gt=0.0)
    jensen_shannon_threshold: float = Field(0.1, gt=0.0, le=1.0)
    hellinger_threshold: float = Field(0.1, gt=0.0, le=1.0)
    l_infinity_threshold: float = Field(0.1, gt=0.0, le=1.0)
    large_sample: int = Field(1000, ge=2)
    threshold_mode: ThresholdMode = ThresholdMode.FIXED
    false_alarm_rate: float = Field(0.05, gt=0.0, lt=0.5)
    calibration_rounds: int = Field(30, ge=5)
    drift_methods: dict[str, DriftMethod] = Field(default_factory=dict)


class RetrainStrategy(str, Enum):
    """Which rows a challenger learns from.

    - ``reference_plus_recent``: the champion's training data plus the labelled
      production rows, weighted ``production_weight`` (and decayed by age when
      ``recency_half_life_rows`` is set);
    - ``expanding``: the same rows, all weighted equally (the window only grows);
    - ``sliding``: only the latest ``retrain_window_rows`` labelled production rows
      (the past is forgotten; for populations that changed for good).
    """

    REFERENCE_PLUS_RECENT = "reference_plus_recent"
    EXPANDING = "expanding"
    SLIDING = "sliding"


class QualityConfig(_Section):
    """Data-quality checks of a window against the reference: each flags above its threshold."""

    max_missing_increase: float = Field(0.05, ge=0.0, le=1.0)
    max_out_of_range_share: float = Field(0.01, ge=0.0, le=1.0)
    max_unseen_share: float = Field(0.0, ge=0.0, le=1.0)
    max_type_error_share: float = Field(0.0, ge=0.0, le=1.0)
    max_duplicate_increase: float = Field(0.05, ge=0.0, le=1.0)


class MultivariateConfig(_Section):
    """Multivariate drift: a domain classifier and PCA reconstruction error."""

    enabled: bool = True
    auc_threshold: float = Field(0.55, gt=0.5, lt=1.0)
    folds: int = Field(5, ge=2, le=20)
    max_rows: int = Field(5_000, ge=100)
    top_features: int = Field(5, ge=1)
    pca_variance: float = Field(0.65, gt=0.0, lt=1.0)
    pca_chunks: int = Field(10, ge=3)
    pca_sigmas: float = Field(3.0, gt=0.0)
    seed: int = 0


class StreamDetectorKind(str, Enum):
    """River's streaming change detectors."""

    ADWIN = "adwin"
    PAGE_HINKLEY = "page_hinkley"
    KSWIN = "kswin"


class StreamConfig(_Section):
    """Streaming change detectors (River) over per-prediction loss and outputs, in order."""

    enabled: bool = True
    detectors: list[StreamDetectorKind] = Field(
        default_factory=lambda: [StreamDetectorKind.ADWIN, StreamDetectorKind.PAGE_HINKLEY])
    adwin_delta: float = Field(0.002, gt=0.0, lt=1.0)
    page_hinkley_threshold: float = Field(50.0, gt=0.0)
    page_hinkley_delta: float = Field(0.005, ge=0.0)
    kswin_alpha: float = Field(0.00001, gt=0.0, lt=1.0)
    kswin_window: int = Field(300, ge=20)
    seed: int = 0


class Correction(str, Enum):
    """Multiple-comparison control for the segment finder."""

    #: Benjamini-Hochberg: the expected share of false segments among those reported is <= alpha.
    BH = "bh"
    #: Holm: the chance of reporting any false segment is <= alpha (stricter).
    HOLM = "holm"


class SegmentMetric(str, Enum):
    """What a weak segment is worse in."""

    #: KPI value per row (the [kpi] section; money).
    KPI = "kpi"
    #: Error: wrong-label rate (classification) or absolute error (regression).
    ERROR = "error"


class PolicyConfig(_Section):
    """Rules that turn a measurement into a decision, and the promotion gate."""

    min_rows: int = Field(1000, ge=1)
    min_labels: int = Field(300, ge=1)
    main_metric: str | None = None
    max_metric_drop: float = Field(0.03, ge=0.0)
    max_kpi_drop: float = Field(0.1, ge=0.0)
    max_drift_share: float = Field(0.5, gt=0.0, le=1.0)
    retrain_on_drift: bool = False
    min_kpi_gain: float = 0.0
    recent_eval_share: float = Field(0.3, gt=0.0, lt=1.0)
    production_weight: float = Field(3.0, gt=0.0)
    min_coverage: float = Field(0.0, ge=0.0, le=1.0)
    max_quality_breaches: int | None = Field(None, ge=0)
    cooldown_cycles: int = Field(1, ge=0)
    confirm_cycles: int = Field(1, ge=1)
    rollback_margin: float = Field(0.0, ge=0.0)
    pivot_baseline_margin: float = 0.0
    pivot_after_retrains: int = Field(3, ge=1)
    gate_confidence: float = Field(0.95, gt=0.5, lt=1.0)
    gate_resamples: int = Field(500, ge=50)
    retrain_strategy: RetrainStrategy = RetrainStrategy.REFERENCE_PLUS_RECENT
    retrain_window_rows: int = Field(20_000, ge=10)
    recency_half_life_rows: int | None = Field(None, ge=1)
    retrain_max_rows: int = Field(50_000, ge=100)
    segment_metric: SegmentMetric = SegmentMetric.KPI
    segment_min_rows: int = Field(200, ge=10)
    segment_top_k: int = Field(50, ge=1)
    segment_alpha: float = Field(0.05, gt=0.0, lt=1.0)
    segment_correction: Correction = Correction.HOLM
    shadow_before_promote: bool = False

    def main_metric_for(self, data: DataConfig) -> str:
        """The metric the policy watches: configured, else ROC AUC (binary), accuracy
        (multiclass) or MAE (regression)."""
        if self.main_metric:
            return self.main_metric
        if data.task is Task.REGRESSION:
            return "mae"
        return "roc_auc" if data.classes is not None and len(data.classes) == 2 else "accuracy"


class SegmentsConfig(_Section):
    """The weak-segment finder: slices (a category, a reference quantile bin, pairs of
    them) significantly worse than the rest of the window."""

    metric: SegmentMetric = SegmentMetric.KPI
    min_support: int = Field(50, ge=5)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    correction: Correction = Correction.BH
    bins: int = Field(5, ge=2, le=50)
    max_pairs: int = Field(2000, ge=0)
    top_k: int = Field(10, ge=1)
    max_rows: int | None = Field(20_000, ge=100)


class TestsetConfig(_Section):
    """Hard cases and the enriched test set that gates promotion."""

    __test__ = False  # not a pytest test class despite its name

    confidence: float = Field(0.8, gt=0.5, le=1.0)
    per_reason: int = Field(100, ge=1)
    max_rows: int = Field(5000, ge=10)
    min_rows: int = Field(30, ge=1)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)


class ServeConfig(_Section):
    """HTTP server limits, input policies, micro-batching and the logger's group commit."""

    max_rows_per_request: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    predict_auth: bool = False
    unseen_categories: ValuePolicy = ValuePolicy.ACCEPT
    out_of_range: ValuePolicy = ValuePolicy.ACCEPT
    batch_max_rows: int = Field(4096, ge=1)
    batch_max_wait_ms: float = Field(5.0, ge=0.0, le=100.0)
    queue_max_rows: int = Field(20_000, ge=1)
    commit_max_rows: int = Field(2048, ge=1)
    commit_max_wait_ms: float = Field(2.0, ge=0.0)
    model_refresh_seconds: float = Field(0.5, gt=0.0)
    shutdown_drain_seconds: float = Field(0.0, ge=0.0)
    shadow_queue_rows: int = Field(10_000, ge=1)
    shadow_batch_wait_ms: float = Field(200.0, ge=0.0, le=5000.0)
    spool_max_bytes: int = Field(
        1 << 30, ge=1 << 16, le=1 << 40,
        description="Disk the spool may hold while the store is away; beyond it /predict answers 503 with "
                    "Retry-After instead of growing without end.")
    read_timeout_s: float = Field(
        10.0, gt=0.0, le=600.0,
        description="Seconds a client may take to send a request's headers, and its body once the headers are "
                    "in; a slower or shorter body is answered 400 (or the connection closed).")
    auth_failures_per_minute: int = Field(
        30, ge=1, le=100_000,
        description="Wrong or missing tokens one client address may send per minute before it gets 429 with "
                    "Retry-After; the right token is never limited.")


class StoreConfig(_Section):
    """Where logs, versions and cycles live; SQLite in the workspace by default."""

    url: str | None = None
    sqlite_synchronous: SqliteSync = SqliteSync.FULL
    spool_retry_seconds: float = Field(1.0, gt=0.0)
    commit_timeout_ms: int = Field(
        2000, ge=10, le=600_000,
        description="Longest a prediction-log commit may take (PostgreSQL statement and lock timeouts, SQLite "
                    "busy timeout); a slower one sends the group to the spool and the server reports degraded.")


class ProjectConfig(_Section):
    """The whole ``leanloop.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    data: DataConfig
    schema_: Schema = Field(default_factory=Schema, alias="schema")
    model: ModelConfig = Field(default_factory=ModelConfig)
    kpi: KpiConfig = Field(default_factory=KpiConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    multivariate: MultivariateConfig = Field(default_factory=MultivariateConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    testset: TestsetConfig = Field(default_factory=TestsetConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @field_validator("schema_")
    @classmethod
    def _no_duplicate_features(cls, value: Schema) -> Schema:
        names = value.names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"features listed twice: {duplicates}")
        return value

    @model_validator(mode="after")
    def _drift_methods_name_features(self) -> ProjectConfig:
        unknown = sorted(set(self.measure.drift_methods) - set(self.schema_.names))
        if unknown and self.schema_.features:
            raise ValueError(f"measure.drift_methods names unknown features {unknown}; "
                             f"the schema has: {self.schema_.names}")
        return self

    @model_validator(mode="after")
    def _kpi_matches_data(self) -> ProjectConfig:
        column = self.kpi.weight_column
        if column and self.schema_.features and column not in self.schema_.names:
            raise ValueError(f"kpi.weight_column {column!r} is not a feature; features are {self.schema_.names}")
        if self.data.classes is not None:
            known = {str(c) for c in self.data.classes}
            unknown = sorted({str(v) for o in self.kpi.outcomes for v in (o.actual, o.predicted)} - known)
            if unknown:
                raise ValueError(f"kpi.outcomes name labels {unknown} that are not among data.classes {self.data.classes}")
        return self

    def to_toml_dict(self) -> dict[str, Any]:
        """The config as plain TOML-ready data (no None values)."""
        return _drop_none(self.model_dump(mode="json", by_alias=True))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


class ProjectPaths(BaseModel):
    """Where a project's files live: the config and the workspace folder."""

    model_config = ConfigDict(frozen=True)

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def workspace(self) -> Path:
        return self.root / WORKSPACE_DIR

    @property
    def artifacts(self) -> Path:
        return self.workspace / "artifacts"

    @property
    def datasets(self) -> Path:
        return self.workspace / "data"

    @property
    def database(self) -> Path:
        return self.workspace / "store.db"

    @property
    def spool(self) -> Path:
        """Where prediction records wait while the store is unavailable."""
        return self.workspace / "spool"

    def store_url(self, store: StoreConfig) -> str:
        """The configured store URL, or the workspace's SQLite file."""
        return store.url or f"sqlite:///{self.database}"


def load_config(root: Path) -> ProjectConfig:
    """Read and validate ``leanloop.toml`` in ``root``.

    Raises :class:`ProjectError` when the file is missing, is not TOML, or fails
    validation; the message names the field and the fix.
    """
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        raise ProjectError(
            f"no {CONFIG_FILE} in {Path(root).resolve()}; run 'leanloop init DATA --target COL' "
            "there first, or pass --dir to the project folder"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path} is not valid TOML: {exc}; fix the file or re-run init") from exc
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProjectError(f"{path} is invalid: {problems}") from exc


_SECTION_NOTES = {
    "data": "The training table. Paths are relative to this file.",
    "schema": "Features the model expects, inferred by 'leanloop init'. Edit ranges, categories\n"
              "and nullable as you know them; every door (API, files) enforces this.",
    "model": "The minimal pipeline: imputation, scaling, one-hot encoding, gradient boosting.",
    "kpi": "Business value of outcomes, as data. Classification: [[kpi.outcomes]] gives the\n"
           "value of predicting `predicted` when the truth was `actual`; undeclared cells are\n"
           "worth default_value. Regression: each unit of error (error = absolute or squared)\n"
           "costs cost_per_unit_error, or over_cost_per_unit / under_cost_per_unit when the\n"
           "prediction is above / below the truth. weight_column: a feature multiplying each\n"
           "row's value (e.g. the loan amount).",
    "performance": "Bootstrap intervals (resamples, confidence) of realized metrics and KPIs;\n"
                   "estimate: estimated performance without labels (CBPE, DLE).",
    "measure": "Window size (rows) and drift thresholds: p-value alpha for the tests (KS,\n"
               "chi-square, ...), PSI above psi_threshold is drift; samples of at least\n"
               "large_sample rows use distances (wasserstein, jensen_shannon) instead of tests.\n"
               "threshold_mode = \"calibrated\" sets each threshold from reference chunks.\n"
               "[measure.drift_methods] picks a method per feature, e.g. age = \"psi\".",
    "quality": "Data-quality flags against the reference: missing-rate increase, share of values\n"
               "outside the reference range, of unseen categories, of unparsable values, and\n"
               "the increase in duplicate rows, each flagged above its max_*.",
    "multivariate": "Multivariate drift. Domain classifier: cross-validated ROC AUC of a model\n"
                    "telling reference from window rows (drift above auc_threshold; at most\n"
                    "max_rows rows a side, sampled with seed). PCA: reconstruction error, drift\n"
                    "outside mean +/- pca_sigmas std over pca_chunks reference chunks.",
    "stream": "River change detectors (adwin, page_hinkley, kswin) over the per-prediction loss\n"
              "and the prediction stream, in order; each change reports row, id and time.\n"
              "kswin runs a KS test per row (about 1 ms each), so it is off by default.",
    "policy": "Rules that turn a measurement into continue / wait / retrain / rollback / pivot,\n"
              "retraining, and the promotion gate. main_metric defaults to roc_auc (binary),\n"
              "accuracy (multiclass), mae. max_metric_drop is absolute; max_kpi_drop a share of\n"
              "the reference KPI. 'leanloop explain CYCLE' shows every rule with its numbers.",
    "segments": "Weak segments: slices of labelled rows (a category, a reference quantile bin,\n"
                "pairs of them) worse than the rest in metric (kpi or error), one-sided test,\n"
                "correction bh or holm at alpha, at least min_support rows; top_k reported.",
    "testset": "Hard cases (confident errors at >= confidence, high loss, weak segments, drifted\n"
               "regions; per_reason each per cycle) kept in the enriched test set (max_rows);\n"
               "the gate rejects a challenger significantly worse on it (alpha, >= min_rows).",
    "serve": "HTTP server: limits (rows, body bytes), whether /predict needs the token, what to do\n"
             "with unseen categories and out-of-range numbers (accept = count them, reject = 422),\n"
             "micro-batching (rows per model call, gathering pause), the queue bound beyond which\n"
             "requests get 503 + Retry-After, and group commit of the prediction log (up to\n"
             "commit_max_rows rows or commit_max_wait_ms per transaction); shutdown_drain_seconds:\n"
             "after SIGTERM, how long /ready says 503 before the server stops accepting connections.",
    "store": "url: any SQLAlchemy URL (default: SQLite in .leanloop/store.db; postgresql://user@host/db).\n"
             "sqlite_synchronous: FULL survives power loss; NORMAL only process crashes.\n"
             "spool_retry_seconds: while the store is down, how often to retry it.",
}


def render_config(config: ProjectConfig) -> str:
    """``leanloop.toml`` text for ``config``, each section with a comment saying what
    it controls and every default written out so users see what they can change.

    Examples
    --------
    >>> text = render_config(ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression")))
    >>> load_text = tomllib.loads(text)
    >>> load_text["data"]["target"], load_text["policy"]["min_rows"]
    ('y', 1000)
    """
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("leanloop project configuration; see 'leanloop --help'."))
    for section, values in config.to_toml_dict().items():
        document.add(tomlkit.nl())
        for line in _SECTION_NOTES.get(section, "").splitlines():
            document.add(tomlkit.comment(line))
        table = tomlkit.table()
        for key, value in values.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                array = tomlkit.aot()
                for item in value:
                    array.append(tomlkit.item(item))
                table.add(key, array)
            else:
                table.add(key, value)
        document.add(section, table)
    return tomlkit.dumps(document)
