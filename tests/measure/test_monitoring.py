"""The new measurement keys end to end: a project serves early and late car-loan rows,
then ``measure`` reports quality, multivariate, output, target and stream results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leanloop.cli import _monitor_lines, app
from leanloop.config import render_config
from leanloop.datasets import CarLoan
from leanloop.measure.measurement import Measurement
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer


def predict_and_label(project: Project, frame: pd.DataFrame) -> None:
    """Send ``frame`` through the real app in one request, then its labels."""
    features = project.config.schema_.names
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = client.post("/predict", json={"rows": frame[features].to_dict("records")}).json()["predictions"]
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, frame["repaid"], strict=True)]
        assert client.post("/feedback", json={"feedback": labels}).status_code == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, car_loan_data: CarLoan) -> Project:
    root = tmp_path_factory.mktemp("monitoring") / "p"
    car_loan_csv = root.parent / "loans.csv"
    car_loan_data.reference.head(6000).to_csv(car_loan_csv, index=False)
    analysis = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id")
    analysis_with_truth = analysis.sort_values("timestamp", kind="stable").reset_index(drop=True)
    created = Project.init(car_loan_csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={
        "model": created.config.model.model_copy(update={"max_iter": 30}),
        "multivariate": created.config.multivariate.model_copy(update={"folds": 3, "max_rows": 800}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(root)
    project.build()
    predict_and_label(project, pd.concat([analysis_with_truth.head(800), analysis_with_truth.tail(800)]))
    yield project
    project.close()


def test_measure_reports_quality_multivariate_outputs_target_and_stream(served: Project) -> None:
    measurement = served.measure(last=1600, chunks=2)
    body = json.loads(json.dumps(measurement.to_json()))
    assert {"quality", "multivariate", "prediction_outputs", "target_drift", "stream"} <= set(body)
    early, late = body["chunks"]
    assert not early["multivariate"]["drifted"] and late["multivariate"]["drifted"]
    assert late["multivariate"]["domain_classifier"]["auc"] > 0.7
    assert early["quality"]["flagged_features"] == [] and early["period"] is None
    assert [o["output"] for o in body["prediction_outputs"]] == ["predicted_class", "probability[1]"]
    assert set(body["target_drift"]["shares"]) == {"0", "1"}
    assert {(s["signal"], s["detector"]) for s in body["stream"]} == {
        ("prediction", "adwin"), ("prediction", "page_hinkley"), ("loss", "adwin"), ("loss", "page_hinkley")}
    for change in (c for s in body["stream"] for c in s["changes"]):
        assert 0 <= change["row"] < 1600 and change["prediction_id"] and change["time"]
    assert Measurement.model_validate(body).to_json() == body  # what learn reads back
    lines = _monitor_lines(body)  # what `leanloop measure` prints beside the drift table
    assert lines[0].startswith("data quality:") and lines[1].startswith("domain classifier AUC")


def test_cli_measure_by_period(served: Project) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["measure", "--last", "300", "--period", "1D", "--json",
                                 "--dir", str(served.paths.root)])
    assert result.exit_code == 0, result.stderr
    chunks = json.loads(result.stdout)["chunks"]
    assert sum(c["rows"] for c in chunks) == 300 and all(c["period"].endswith("T00:00:00+00:00") for c in chunks)
    result = runner.invoke(app, ["measure", "--chunks", "2", "--period", "1D", "--dir", str(served.paths.root)])
    assert result.exit_code == 2 and "not both" in result.stderr
    result = runner.invoke(app, ["measure", "--period", "often", "--dir", str(served.paths.root)])
    assert result.exit_code == 2 and "not a time period" in result.stderr
