"""Tests for leanloop.config: TOML round trip, load errors, defaults, and every field documented."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from leanloop.config import (
    CONFIG_FILE,
    Correction,
    DataConfig,
    EngineConfig,
    GateConfig,
    KpiConfig,
    KpiOutcome,
    LoopConfig,
    MeasureConfig,
    MlflowConfig,
    ModelConfig,
    MultivariateConfig,
    PerformanceConfig,
    PolicyConfig,
    ProjectConfig,
    QualityConfig,
    RetrainConfig,
    SegmentMetric,
    SegmentsConfig,
    ServeConfig,
    SqliteSync,
    StoreConfig,
    StreamConfig,
    StreamDetectorKind,
    Task,
    TestsetConfig,
    load_config,
    render_config,
)
from leanloop.errors import ProjectError
from leanloop.schema import Feature, Schema

SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataConfig, "model": ModelConfig, "kpi": KpiConfig, "performance": PerformanceConfig,
    "measure": MeasureConfig, "policy": PolicyConfig, "retrain": RetrainConfig, "gate": GateConfig,
    "serve": ServeConfig, "store": StoreConfig,
    "quality": QualityConfig, "multivariate": MultivariateConfig, "stream": StreamConfig,
    "segments": SegmentsConfig, "testset": TestsetConfig, "loop": LoopConfig, "mlflow": MlflowConfig,
    "engine": EngineConfig,
}


def full_config() -> ProjectConfig:
    """A config where every optional value is set and no value is a default."""
    return ProjectConfig(
        data=DataConfig(path="loans.csv", target="churn", task="classification", time_column="ts",
                        id_column="id", id_type="integer", classes=[0, 1]),
        schema=Schema(features=[
            Feature(name="age", kind="numeric", nullable=True, minimum=18.0, maximum=99.5),
            Feature(name="city", kind="categorical", categories=["a", "b"]),
            Feature(name="ok", kind="boolean"),
        ]),
        model=ModelConfig(test_size=0.25, seed=7, max_iter=50, learning_rate=0.2),
        kpi=KpiConfig(name="profit", default_value=1.5, decision="expected_value", cost_per_unit_error=2.0, outcomes=[
            KpiOutcome(actual=1, predicted=1, value=100.0), KpiOutcome(actual=0, predicted=1, value=-20.0)],
            error="squared", over_cost_per_unit=3.0, under_cost_per_unit=0.5, weight_column="age"),
        performance=PerformanceConfig(bootstrap_resamples=200, confidence=0.9, estimate=False),
        measure=MeasureConfig(window_rows=100, time="event", labelled_window_rows=400, labelled_max_age_days=30.0,
                              alpha=0.01, psi_threshold=0.25, psi_bins=5, reference_max_rows=1000),
        policy=PolicyConfig(min_rows=10, min_labels=5, main_metric="f1", max_metric_drop=0.05,
                            max_kpi_drop=0.2, max_drift_share=0.4, retrain_on_drift=True, min_coverage=0.2,
                            max_quality_breaches=2, cooldown_cycles=3, confirm_cycles=2, rollback_margin=0.01,
                            pivot_baseline_margin=0.02, pivot_after_retrains=4),
        retrain=RetrainConfig(strategy="sliding", window_rows=500, recency_half_life_rows=1000, max_rows=2000,
                              production_weight=2.0, recent_eval_share=0.4),
        gate=GateConfig(confidence=0.9, resamples=100, min_kpi_gain=1.0, shadow_before_promote=True),
        segments=SegmentsConfig(metric=SegmentMetric.ERROR, min_support=20, alpha=0.01, correction=Correction.HOLM,
                                bins=4, max_pairs=100, top_k=3),
        testset=TestsetConfig(confidence=0.9, low_margin=0.7, per_reason=10, max_rows=500, min_rows=50, alpha=0.01),
        serve=ServeConfig(max_rows_per_request=10, commit_max_rows=16, commit_max_wait_ms=5.0,
                          model_refresh_seconds=1.0),
        store=StoreConfig(url="sqlite:///elsewhere.db", sqlite_synchronous=SqliteSync.NORMAL, retention_days=30),
        engine=EngineConfig(kind="dask", scheduler="tcp://127.0.0.1:8786", workers=4, memory_limit="2GB"),
        loop=LoopConfig(every_rows=50, every="1h", webhook_url="http://127.0.0.1:9/hook", poll_seconds=2.0),
        mlflow=MlflowConfig(tracking_uri="http://127.0.0.1:9", experiment="loans", timeout_seconds=3),
        quality=QualityConfig(max_missing_increase=0.1, max_out_of_range_share=0.02, max_unseen_share=0.01,
                              max_type_error_share=0.01, max_duplicate_increase=0.1),
        multivariate=MultivariateConfig(enabled=False, auc_threshold=0.6, folds=3, max_rows=2000, top_features=3,
                                        pca_variance=0.8, pca_chunks=5, pca_sigmas=2.0, seed=3),
        stream=StreamConfig(enabled=False, detectors=[StreamDetectorKind.KSWIN], adwin_delta=0.01,
                            page_hinkley_threshold=20.0, page_hinkley_delta=0.01, kswin_alpha=0.001,
                            kswin_window=200, seed=4),
    )


@pytest.mark.parametrize("config", [
    full_config(),
    ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression")),
    ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=["no", "yes", "maybe"])),
], ids=["full", "minimal", "text-classes"])
def test_render_parse_validate_round_trip(config: ProjectConfig) -> None:
    text = render_config(config)
    back = ProjectConfig.model_validate(tomllib.loads(text))
    assert back == config
    assert isinstance(back.store.sqlite_synchronous, SqliteSync)
    assert isinstance(back.data.task, Task)


def test_round_trip_through_load_config(tmp_path: Path) -> None:
    config = full_config()
    (tmp_path / CONFIG_FILE).write_text(render_config(config), encoding="utf-8")
    assert load_config(tmp_path) == config


def test_render_has_section_comments() -> None:
    text = render_config(full_config())
    assert text.startswith("# leanloop project configuration")
    assert "# Any SQLAlchemy URL, e.g. postgresql://user@host/db" in text
    assert "# Where logs, versions and cycles live" in text


# --- docs consistency: every field of every section is written out ------------------


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_field_appears_in_rendered_config(section: str) -> None:
    rendered = tomllib.loads(render_config(full_config()))
    model = SECTIONS[section]
    missing = [name for name in model.model_fields if name not in rendered[section]]
    assert missing == [], f"[{section}] does not show {missing}"


def test_sections_cover_every_project_field() -> None:
    rendered = tomllib.loads(render_config(full_config()))
    aliases = {f.alias or name for name, f in ProjectConfig.model_fields.items()}
    assert set(rendered) == aliases == set(SECTIONS) | {"schema"}


def test_defaults_are_written_out() -> None:
    rendered = tomllib.loads(render_config(ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))))
    assert rendered["policy"]["min_rows"] == 1000
    assert rendered["measure"]["alpha"] == 0.05
    assert rendered["store"] == {"sqlite_synchronous": "FULL", "spool_retry_seconds": 1.0, "commit_timeout_ms": 2000,
                                 "archive_dir": ".leanloop/archive"}


# --- load_config errors -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"no leanloop\.toml in .*; run 'leanloop init"):
        load_config(tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[data\npath = 'd.csv'\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"leanloop\.toml is not valid TOML: .*fix the file"):
        load_config(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_bytes(b"[data]\npath = '\xff'\n")
    with pytest.raises(ProjectError, match="is not valid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize(("extra", "pattern"), [
    ("[model]\ntest_size = 2.0\n", r"is invalid: model\.test_size: Input should be less than 0\.9"),
    ("[policy]\nmin_rows = 0\n", r"policy\.min_rows: Input should be greater than or equal to 1"),
    ("[store]\nsqlite_synchronous = 'OFF'\n", r"store\.sqlite_synchronous: Input should be 'FULL' or 'NORMAL'"),
    ("[measure]\nwindow = 10\n", r"measure\.window: Extra inputs are not permitted"),
    ("[[schema.features]]\nname = 'a'\nkind = 'numeric'\n[[schema.features]]\nname = 'a'\nkind = 'numeric'\n",
     r"schema: Value error, features listed twice: \['a'\]"),
])
def test_invalid_field_is_named(tmp_path: Path, extra: str, pattern: str) -> None:
    text = "[data]\npath = 'd.csv'\ntarget = 'y'\ntask = 'regression'\n" + extra
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError, match=pattern):
        load_config(tmp_path)


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[data]\npath = 'd.csv'\ntask = 'regression'\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"data\.target: Field required"):
        load_config(tmp_path)


def test_config_is_frozen() -> None:
    config = full_config()
    with pytest.raises(ValueError, match="frozen"):
        config.model.seed = 3  # type: ignore[misc]


# --- defaults -----------------------------------------------------------------------


@pytest.mark.parametrize(("task", "classes", "metric"), [
    ("classification", [0, 1], "roc_auc"),
    ("classification", ["no", "yes"], "roc_auc"),
    ("classification", ["a", "b", "c"], "accuracy"),
    ("regression", None, "mae"),
])
def test_main_metric_defaults(task: str, classes: list[object] | None, metric: str) -> None:
    data = DataConfig(path="d.csv", target="y", task=task, classes=classes)
    assert PolicyConfig().main_metric_for(data) == metric


def test_configured_main_metric_wins() -> None:
    data = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])
    assert PolicyConfig(main_metric="f1").main_metric_for(data) == "f1"


def test_excluded_columns() -> None:
    data = DataConfig(path="d.csv", target="y", task="regression", id_column="id")
    assert data.excluded == ["y", "id"]
