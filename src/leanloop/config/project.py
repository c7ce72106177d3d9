"""The whole ``leanloop.toml`` (:class:`ProjectConfig`), where a project's files live
(:class:`ProjectPaths`), and :func:`load_config`, which migrates old keys and validates.

Examples
--------
>>> cfg = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))
>>> cfg.model.seed, cfg.measure.alpha, cfg.retrain.max_rows, cfg.gate.resamples
(0, 0.05, 50000, 500)
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leanloop.config._base import Section
from leanloop.config.data import DataConfig, KpiConfig, ModelConfig
from leanloop.config.engine import EngineConfig
from leanloop.config.enums import Metric, Task
from leanloop.config.learn import GateConfig, PolicyConfig, RetrainConfig
from leanloop.config.loop import LoopConfig
from leanloop.config.measure import (
    MeasureConfig,
    MultivariateConfig,
    PerformanceConfig,
    QualityConfig,
    SegmentsConfig,
    StreamConfig,
    TestsetConfig,
)
from leanloop.config.migration import migrate
from leanloop.config.mlflow import MlflowConfig
from leanloop.config.runtime import ServeConfig, StoreConfig
from leanloop.errors import ProjectError
from leanloop.label_rule import LabelRule, check_value_table, value_table
from leanloop.schema import Schema

__all__ = ["CONFIG_FILE", "WORKSPACE_DIR", "ProjectConfig", "ProjectPaths", "load_config", "validation_problems"]

CONFIG_FILE = "leanloop.toml"
WORKSPACE_DIR = ".leanloop"


class ProjectConfig(Section):
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
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    testset: TestsetConfig = Field(default_factory=TestsetConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)

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
    def _labelled_window_can_be_met(self) -> ProjectConfig:
        rows = self.measure.labelled_window_rows
        if rows is not None and rows < self.policy.min_labels:
            raise ValueError(f"measure.labelled_window_rows = {rows} can never hold the policy.min_labels = "
                             f"{self.policy.min_labels} labels a decision needs; raise measure.labelled_window_rows "
                             "or lower policy.min_labels")
        return self

    @model_validator(mode="after")
    def _main_metric_fits_the_task(self) -> ProjectConfig:
        metric = self.policy.main_metric
        if metric is not None and metric.task is not self.data.task:
            allowed = ", ".join(m.value for m in Metric.for_task(self.data.task))
            raise ValueError(f"policy.main_metric = {metric.value!r} is a {metric.task.value} metric but the task "
                             f"is {self.data.task.value}; use one of: {allowed}")
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
                raise ValueError(f"kpi.outcomes name labels {unknown} that are not among data.classes "
                                 f"{self.data.classes}")
        return self

    @model_validator(mode="after")
    def _value_table_can_choose(self) -> ProjectConfig:
        kpi = self.kpi
        if self.data.task is not Task.CLASSIFICATION or kpi.rule is not LabelRule.EXPECTED_VALUE or not kpi.outcomes:
            return self
        # without data.classes only the labels the outcomes name are known (build checks the model's own)
        classes = list(self.data.classes or sorted({str(v) for o in kpi.outcomes for v in (o.actual, o.predicted)}))
        if len(classes) < 2:
            return self
        try:
            check_value_table(value_table(kpi, classes), classes)
        except ValueError as exc:
            raise ValueError(f"kpi.outcomes: {exc}") from None
        return self

    def to_toml_dict(self) -> dict[str, Any]:
        """The config as plain TOML-ready data (no None values)."""
        data: dict[str, Any] = _drop_none(self.model_dump(mode="json", by_alias=True))
        return data


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

    def archive(self, store: StoreConfig) -> Path:
        """The configured Parquet archive of the prediction log."""
        return (self.root / store.archive_dir).resolve()

    def store_url(self, store: StoreConfig) -> str:
        """The configured store URL, or the workspace's SQLite file."""
        return store.url or f"sqlite:///{self.database}"


def _field_range(loc: tuple[Any, ...]) -> str | None:
    """The allowed range of the field at ``loc`` (e.g. ``50 to 100000``), if it has bounds."""
    model: Any = ProjectConfig
    info = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields:
            return None
        info = next((f for name, f in fields.items() if part in (name, f.alias)), None)
        if info is None:
            return None
        model = info.annotation
    low = high = None
    for meta in info.metadata if info is not None else []:
        low = next((getattr(meta, k) for k in ("ge", "gt") if getattr(meta, k, None) is not None), low)
        high = next((getattr(meta, k) for k in ("le", "lt") if getattr(meta, k, None) is not None), high)
    if low is None and high is None:
        return None
    return f"{'-inf' if low is None else f'{low:,}'} to {'inf' if high is None else f'{high:,}'}"


def validation_problems(exc: ValidationError) -> str:
    """One line per invalid key: its dotted name, what was wrong and, for a number out
    of bounds, the allowed range.

    Examples
    --------
    >>> try:
    ...     ProjectConfig.model_validate({"data": {"path": "d.csv", "target": "y", "task": "regression"},
    ...                                   "gate": {"resamples": 10**12}})
    ... except ValidationError as exc:
    ...     print(validation_problems(exc))
    gate.resamples: Input should be less than or equal to 100000 (allowed: 50 to 100,000)
    """
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        text = f"{'.'.join(str(p) for p in loc)}: {err['msg']}"
        bounds = _field_range(loc) if err["type"] in {"less_than", "less_than_equal", "greater_than",
                                                      "greater_than_equal"} else None
        problems.append(text + (f" (allowed: {bounds})" if bounds else ""))
    return "; ".join(problems)


def load_config(root: Path) -> ProjectConfig:
    """Read, migrate and validate ``leanloop.toml`` in ``root``.

    Keys of older versions are moved to their new place (see
    :mod:`leanloop.config.migration`); a warning on the ``leanloop.config`` logger says
    what moved. Raises :class:`ProjectError` when the file is missing, is not TOML, or
    fails validation; the message names the key and the fix.
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
    raw, moves = migrate(raw)
    if moves:
        logging.getLogger("leanloop.config").warning(
            "%s uses keys of an older leanloop, read in their new place: %s. Move them in the file to silence "
            "this note.", path, "; ".join(moves))
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise ProjectError(f"{path} is invalid: {validation_problems(exc)}") from exc
