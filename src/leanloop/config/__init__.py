"""Project configuration: ``leanloop.toml``, validated once by pydantic.

The config holds the data description (target, task, time and id columns), the
schema, and the settings of each stage (model, KPI, measurement, decision rules,
retraining, promotion gate, server, store). It is written with commented defaults by
``leanloop init`` and read, never mutated, by everything else.

Each setting is declared once, with its bounds and a ``Field(description=...)`` that
feeds the comments of ``leanloop.toml`` and the README's reference
(:mod:`leanloop.config.render`). Modules by concern: ``enums`` (the modes),
``limits`` (upper bounds from what fits in memory), ``data``, ``measure``, ``learn``,
``runtime``, ``loop`` and ``mlflow`` (the sections), ``project`` (the whole file and its loading) and
``migration`` (old keys moved to their new place).

Examples
--------
>>> cfg = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))
>>> cfg.model.seed, cfg.measure.alpha, cfg.policy.main_metric_for(cfg.data)
(0, 0.05, 'mae')
"""

from __future__ import annotations

from leanloop.config.data import DataConfig, KpiConfig, KpiOutcome, Label, ModelConfig
from leanloop.config.engine import EngineConfig, EngineKind
from leanloop.config.enums import (
    Correction,
    DriftMethod,
    ErrorKind,
    IdType,
    Metric,
    ModelKind,
    RetrainStrategy,
    SegmentMetric,
    SqliteSync,
    StreamDetectorKind,
    Task,
    ThresholdMode,
    TimeBasis,
    ValuePolicy,
)
from leanloop.config.learn import GateConfig, PolicyConfig, RetrainConfig
from leanloop.config.loop import LoopConfig
from leanloop.config.measure import (
    DriftSettings,
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
from leanloop.config.project import CONFIG_FILE, WORKSPACE_DIR, ProjectConfig, ProjectPaths, load_config
from leanloop.config.render import render_config, render_reference
from leanloop.config.runtime import ServeConfig, StoreConfig

__all__ = [
    "CONFIG_FILE",
    "WORKSPACE_DIR",
    "Label",
    "Task",
    "IdType",
    "TimeBasis",
    "SqliteSync",
    "ValuePolicy",
    "DriftMethod",
    "ThresholdMode",
    "Metric",
    "DataConfig",
    "ModelConfig",
    "KpiOutcome",
    "ErrorKind",
    "KpiConfig",
    "PerformanceConfig",
    "DriftSettings",
    "MeasureConfig",
    "QualityConfig",
    "MultivariateConfig",
    "StreamDetectorKind",
    "StreamConfig",
    "PolicyConfig",
    "RetrainStrategy",
    "ModelKind",
    "RetrainConfig",
    "GateConfig",
    "Correction",
    "SegmentMetric",
    "SegmentsConfig",
    "TestsetConfig",
    "ServeConfig",
    "LoopConfig",
    "MlflowConfig",
    "StoreConfig",
    "EngineConfig",
    "EngineKind",
    "ProjectConfig",
    "ProjectPaths",
    "load_config",
    "migrate",
    "render_config",
    "render_reference",
]
