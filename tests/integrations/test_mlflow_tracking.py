"""Versions and cycles logged to a real MLflow tracking server; one that cannot be reached
never stops a build or a cycle, and nothing is logged twice."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.config import DataConfig, ProjectConfig, load_config, render_config
from leanloop.demo import free_port
from leanloop.errors import ProjectError
from leanloop.integrations.mlflow_tracking import log_now, read_record
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer
from leanloop.workspace import Workspace
from tests.conftest import small_built_project

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def with_mlflow(project: Project, **settings: Any) -> Project:
    """The project reopened with ``[mlflow]`` set to ``settings``."""
    config = project.config
    project.paths.config.write_text(render_config(config.model_copy(
        update={"mlflow": config.mlflow.model_copy(update=settings)})), encoding="utf-8")
    project.close()
    return Project(project.paths.root)


def runs_by_key(client: MlflowClient, experiment: str) -> dict[str, Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return {run.data.tags["leanloop.key"]: run for run in client.search_runs([found.experiment_id])}


def predict_and_label(project: Project, frame: pd.DataFrame) -> None:
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = client.post("/predict", json={"rows": frame[FEATURES].to_dict("records")}).json()["predictions"]
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, frame["repaid"], strict=True)]
        assert client.post("/feedback", json={"feedback": labels}).status_code == 200


def test_versions_and_cycles_land_in_mlflow(tmp_path: Path, car_loan_data: Any, mlflow_server: str,
                                           analysis_with_truth: pd.DataFrame) -> None:
    project = with_mlflow(small_built_project(tmp_path, car_loan_data), tracking_uri=mlflow_server,
                          experiment=f"landing-{tmp_path.name}")
    try:
        predict_and_label(project, analysis_with_truth.iloc[:400])
        cycle = project.cycle(last=400)  # v1 (built before [mlflow] was set) and this cycle are logged after it
        version = project.registry.get("v1")
        artifacts = project.paths.artifacts
    finally:
        project.close()
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = runs_by_key(client, f"landing-{tmp_path.name}")
    assert set(runs) == {"version:v1", "cycle:1"}

    v1 = runs["version:v1"]
    assert (v1.info.run_name, v1.info.status, v1.info.start_time) == ("v1", "FINISHED", int(version.created_at * 1000))
    assert v1.data.params["source"] == "build" and v1.data.params["rows.train"] == str(version.rows["train"])
    assert v1.data.params["estimator.max_iter"] == "10"  # the estimator's own hyperparameters
    assert v1.data.metrics["roc_auc"] == pytest.approx(version.metrics["roc_auc"])
    assert v1.data.metrics["baseline_roc_auc"] == pytest.approx(version.baseline_metrics["roc_auc"])
    downloaded = Path(client.download_artifacts(v1.info.run_id, "model/v1.skops", str(tmp_path / "dl")))
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == version.sha256
    assert downloaded.read_bytes() == (artifacts / "v1.skops").read_bytes()

    run = runs["cycle:1"]
    measured = cycle.measurement
    assert run.info.run_name == "cycle 1" and run.info.status == "FINISHED"
    assert run.data.params["action"] == cycle.decision.action.value == run.data.tags["leanloop.action"]
    assert run.data.metrics["window_rows"] == 400
    assert run.data.metrics["realized_roc_auc"] == pytest.approx(measured["performance"]["realized"]["roc_auc"])
    assert run.data.metrics["kpi_net_value"] == pytest.approx(measured["kpis"]["net_value"])
    assert run.data.tags["mlflow.note.content"].startswith("cycle 1: champion v1 -> v1")
    logged = json.loads(Path(client.download_artifacts(run.info.run_id, "leanloop/cycle.json",
                                                       str(tmp_path / "dl2"))).read_text())
    assert logged["decision"] == cycle.to_json()["decision"]


def test_an_unreachable_mlflow_never_stops_build_or_cycle(tmp_path: Path, car_loan_data: Any, mlflow_server: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    project = with_mlflow(small_built_project(tmp_path, car_loan_data), tracking_uri=nowhere)
    root = project.paths.root
    with caplog.at_level(logging.WARNING, logger="leanloop.mlflow"):
        assert project.build().version == "v2"  # built and champion all the same
        project.cycle()
    project.close()
    assert "could not log to MLflow at " + nowhere in caplog.text and "3 item(s) wait" in caplog.text
    record = read_record(Project(root).workspace)
    assert record is not None and record.failures == 2 and "ConnectionError" in record.error
    assert record.pending == ["version:v1", "version:v2", "cycle:1"] and record.runs == {}

    runner = CliRunner()
    result = runner.invoke(app, ["mlflow", "--json", "--dir", str(root)])
    assert result.exit_code == 2 and "could not log to MLflow" in " ".join(result.stderr.split())
    assert json.loads(result.stdout)["pending"] == ["version:v1", "version:v2", "cycle:1"]

    with_mlflow(Project(root), tracking_uri=mlflow_server).close()  # the server is back (or was fixed)
    result = runner.invoke(app, ["mlflow", "--json", "--dir", str(root)])
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["logged_now"] == ["version:v1", "version:v2", "cycle:1"] and body["pending"] == []
    assert body["experiment"] == "p" and body["error"] is None and body["failures"] == 0  # the folder's name

    # Nothing twice: not on a second call, nor with the record lost; a half-made run is made again.
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = {key: run.info.run_id for key, run in runs_by_key(client, "p").items()
            if run.data.tags["leanloop.root"] == str(root)}
    assert runs == body["runs"]
    with Project(root) as project:
        assert log_now(project.workspace).logged_now == []
        (root / ".leanloop" / "mlflow.json").unlink()
        client.set_tag(runs["cycle:1"], "leanloop.complete", "false")  # as if it died before its last step
        again = log_now(project.workspace)
    assert again.logged_now == ["cycle:1"] and again.runs["version:v2"] == runs["version:v2"]
    assert client.get_run(runs["cycle:1"]).info.lifecycle_stage == "deleted"
    result = runner.invoke(app, ["mlflow", "--dir", str(root)])
    assert result.exit_code == 0 and "3 runs" not in result.stdout and "2 versions, 1 cycles" in result.stdout


def test_without_mlflow_installed_build_goes_on(tmp_path: Path, car_loan_data: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    project = with_mlflow(small_built_project(tmp_path, car_loan_data), tracking_uri="http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets when it is not installed
    with project:
        assert project.build().version == "v2"
        record = read_record(project.workspace)
    assert record is not None and "pip install 'leanloop[mlflow]'" in record.error


def test_the_tracking_uri_is_checked_when_the_config_loads(tmp_path: Path) -> None:
    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))
    text = render_config(config)
    assert "\n[mlflow]\n" in text and "tracking_uri =" not in text  # off unless set
    (tmp_path / "leanloop.toml").write_text(text.replace("\n[mlflow]\n", '\n[mlflow]\ntracking_uri = "ftp://x"\n'))
    with pytest.raises(ProjectError, match=r"mlflow\.tracking_uri: Value error, mlflow\.tracking_uri must be an "
                                           r"http\(s\) URL with a host.*got 'ftp://x'"):
        load_config(tmp_path)
    with Workspace(config, tmp_path) as ws, pytest.raises(
            ProjectError, match=r"no MLflow to log to: set tracking_uri under \[mlflow\]"):
        log_now(ws)
