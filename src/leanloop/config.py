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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leanloop.errors import ProjectError
from leanloop.schema import Schema

__all__ = [
    "CONFIG_FILE",
    "WORKSPACE_DIR",
    "Task",
    "SqliteSync",
    "ValuePolicy",
    "DataConfig",
    "ModelConfig",
    "KpiOutcome",
    "KpiConfig",
    "MeasureConfig",
    "PolicyConfig",
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


class KpiConfig(_Section):
    """Business value of model outcomes, as data (never code)."""

    name: str = "net_value"
    outcomes: list[KpiOutcome] = Field(default_factory=list)
    default_value: float = 0.0
    cost_per_unit_error: float = Field(1.0, ge=0.0)


class MeasureConfig(_Section):
    """Window size and drift thresholds."""

    window_rows: int = Field(5000, ge=10)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    psi_threshold: float = Field(0.2, gt=0.0)
    psi_bins: int = Field(10, ge=2)
    reference_max_rows: int = Field(50_000, ge=100)


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

    def main_metric_for(self, data: DataConfig) -> str:
        """The metric the policy watches: configured, else ROC AUC (binary), accuracy
        (multiclass) or MAE (regression)."""
        if self.main_metric:
            return self.main_metric
        if data.task is Task.REGRESSION:
            return "mae"
        return "roc_auc" if data.classes is not None and len(data.classes) == 2 else "accuracy"


class ServeConfig(_Section):
    """HTTP server limits, input policies, micro-batching and the logger's group commit."""

    max_rows_per_request: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    predict_auth: bool = False
    unseen_categories: ValuePolicy = ValuePolicy.ACCEPT
    out_of_range: ValuePolicy = ValuePolicy.ACCEPT
    batch_max_rows: int = Field(512, ge=1)
    batch_max_wait_ms: float = Field(5.0, ge=0.0, le=100.0)
    queue_max_rows: int = Field(20_000, ge=1)
    commit_max_rows: int = Field(2048, ge=1)
    commit_max_wait_ms: float = Field(2.0, ge=0.0)
    model_refresh_seconds: float = Field(0.5, gt=0.0)


class StoreConfig(_Section):
    """Where logs, versions and cycles live; SQLite in the workspace by default."""

    url: str | None = None
    sqlite_synchronous: SqliteSync = SqliteSync.FULL


class ProjectConfig(_Section):
    """The whole ``leanloop.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    data: DataConfig
    schema_: Schema = Field(default_factory=Schema, alias="schema")
    model: ModelConfig = Field(default_factory=ModelConfig)
    kpi: KpiConfig = Field(default_factory=KpiConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
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
           "worth default_value. Regression: each unit of absolute error costs cost_per_unit_error.",
    "measure": "Window size (rows) and drift thresholds: p-value alpha for KS / chi-square,\n"
               "PSI above psi_threshold is drift.",
    "policy": "Rules that turn a measurement into continue / wait / retrain, and the promotion\n"
              "gate. main_metric defaults to roc_auc (binary), accuracy (multiclass), mae.\n"
              "max_metric_drop is absolute; max_kpi_drop a share of the reference KPI.",
    "serve": "HTTP server: limits (rows, body bytes), whether /predict needs the token, what to do\n"
             "with unseen categories and out-of-range numbers (accept = count them, reject = 422),\n"
             "micro-batching (rows per model call, gathering pause), the queue bound beyond which\n"
             "requests get 503 + Retry-After, and group commit of the prediction log.",
    "store": "url: any SQLAlchemy URL (default: SQLite in .leanloop/store.db).\n"
             "sqlite_synchronous: FULL survives power loss; NORMAL only process crashes.",
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
