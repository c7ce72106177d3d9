"""Docs consistency: every config field and every CLI command is in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanloop import config as cfg
from leanloop.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
SECTIONS = [cfg.DataConfig, cfg.ModelConfig, cfg.KpiConfig, cfg.PerformanceConfig, cfg.MeasureConfig,
            cfg.PolicyConfig, cfg.SegmentsConfig, cfg.TestsetConfig, cfg.ServeConfig, cfg.StoreConfig]


@pytest.mark.parametrize("field", [f for section in SECTIONS for f in section.model_fields])
def test_every_config_field_is_documented(field: str) -> None:
    assert field in README


def test_every_registered_command_is_documented() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names and all(f"leanloop {n}" in README for n in names)


def test_every_command_group_and_subcommand_is_documented() -> None:
    for group in app.registered_groups:
        names = [c.name or c.callback.__name__ for c in group.typer_instance.registered_commands]
        assert names and all(f"leanloop {group.name} {n}" in README for n in names)
