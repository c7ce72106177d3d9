"""``leanloop export`` on a built project: the CLI, and measurement that reads the archive
gives the measurement the store gave before retention."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.config import render_config
from leanloop.datasets import CarLoan
from leanloop.project import Project
from leanloop.scoring import model_input, score, to_python
from tests.conftest import small_built_project

DAY = 86_400.0
NOW = time.time()  # retention cuts at the real clock


def log_scored(project: Project, rows: pd.DataFrame, truth: list[int]) -> None:
    """``rows`` logged as the champion answers them, two days' worth, one label in three."""
    schema, champion = project.config.schema_, project.registry.champion()
    model, _ = project.registry.load(champion.version)
    features = schema.coerce(rows[schema.names], "test")
    scored = score(model, model_input(schema, features, champion.input_format, "test"), "classification")
    records = features.astype(object).where(features.notna(), None).to_dict("records")
    step = 2 * DAY / len(records)
    project.store.log_predictions([
        {"prediction_id": f"r{i}", "created_at": NOW - 2 * DAY + i * step, "model_version": champion.version,
         "features": {k: to_python(v) for k, v in record.items()}, "prediction": to_python(scored.labels[i]),
         "probabilities": {str(c): float(p) for c, p in zip(scored.classes or [], scored.probabilities[i],
                                                            strict=True)}}
        for i, record in enumerate(records)])
    project.feedback([(f"r{i}", truth[i]) for i in range(0, len(records), 3)])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data: CarLoan) -> Any:
    built = small_built_project(tmp_path_factory.mktemp("export"), car_loan_data)
    analysis = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").head(900)
    log_scored(built, analysis, analysis["repaid"].astype(int).tolist())
    yield built
    built.close()


def stable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("measured_at", "durations")}


def test_measurement_reads_the_archive_once_retention_deleted_rows(project: Project) -> None:
    before = project.measure(last=600, save=False).to_json()
    labelled_before = project.workspace.window(labelled_only=True)
    runner = CliRunner()
    config = project.config
    project.paths.config.write_text(render_config(config.model_copy(update={
        "store": config.store.model_copy(update={"retention_days": 0.5})})), encoding="utf-8")
    project.close()
    done = runner.invoke(app, ["export", "--json", "--dir", str(project.paths.root)])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["export"]["rows"] == 900 and body["export"]["archive"].endswith(".leanloop/archive")
    assert body["retention"]["deleted"] > 0 and body["retention"]["not_archived"] == 0
    reopened = Project(project.paths.root)
    try:
        assert reopened.store.count_predictions() == 900 - body["retention"]["deleted"] < 600
        after = reopened.measure(last=600, save=False).to_json()
        assert stable(after) == stable(before)
        assert reopened.workspace.window(labelled_only=True)["prediction_id"].tolist() == \
            labelled_before["prediction_id"].tolist()
        again = runner.invoke(app, ["export", "--json", "--dir", str(project.paths.root)])
        assert json.loads(again.stdout)["export"]["rows"] == 0 and json.loads(again.stdout)["retention"]["deleted"] == 0
    finally:
        reopened.close()


def test_export_to_another_folder_keeps_every_row(project: Project, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["export", "--to", str(tmp_path / "out"), "--since", str(NOW - DAY),
                                    "--dir", str(project.paths.root)])
    assert done.exit_code == 0, done.output
    assert "exported" in done.stdout and "retention" not in done.stdout
    exported = pd.read_parquet(tmp_path / "out")
    assert exported["prediction_id"].tolist() == project.store.window(since=NOW - DAY)["prediction_id"].tolist()
    assert exported["features.car_value"].dtype == "float64" and exported["model_version"].nunique() == 1
