"""End to end through the real server: init -> build -> serve -> predict -> feedback ->
measure -> cycle -> history, on a sample of the car-loan data."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.demo import free_port, running_server

pytestmark = pytest.mark.e2e

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def cli(*args: str) -> dict | list:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def send(client: httpx.Client, frame: pd.DataFrame) -> list[dict]:
    answers = []
    for start in range(0, len(frame), 250):
        response = client.post("/predict", json={"rows": frame.iloc[start:start + 250][FEATURES].to_dict("records")})
        assert response.status_code == 200, response.text
        body = response.json()
        answers += [{**p, "model_version": body["model_version"]} for p in body["predictions"]]
    return answers


def test_whole_loop_through_real_server(tmp_path: Path, car_loan_csv: Path, analysis_with_truth: pd.DataFrame) -> None:
    root = tmp_path / "project"
    init = cli("init", str(car_loan_csv), "--target", "repaid", "--time-column", "timestamp",
               "--id-column", "id", "--dir", str(root))
    assert init["task"] == "classification"
    assert [f["name"] for f in init["features"]] == FEATURES
    built = cli("build", "--dir", str(root))
    assert built["version"] == "v1"
    assert built["metrics"]["roc_auc"] > 0.9 > built["baseline_metrics"]["roc_auc"]

    before = analysis_with_truth.iloc[:3000]           # before the known shift
    after = analysis_with_truth.iloc[30000:33000]      # well after it
    token = CliRunner().invoke(app, ["token", "--dir", str(root)]).stdout.strip()
    with running_server(root, free_port()) as url, \
            httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/health").json()["model_version"] == "v1"
        answers = send(client, before)
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, before["repaid"], strict=True)]
        counts = {"received": 3000, "recorded": 3000, "duplicates": 0, "updated": 0, "parked": 0, "reused": 0}
        assert client.post("/feedback", json={"feedback": labels}).json() == counts
        unknown = client.post("/feedback", json={"feedback": [{"prediction_id": "nope", "label": 1}]})
        assert unknown.status_code == 200 and unknown.json()["parked"] == 1  # kept until "nope" is logged

        measured = cli("measure", "--last", "3000", "--dir", str(root))
        assert measured["window"] == {**measured["window"], "rows": 3000, "labelled": 3000, "coverage": 1.0}
        delay = measured["window"]["label_delay"]
        assert delay["count"] == 3000 and 0 < delay["min"] <= delay["p50"] <= delay["p90"] <= delay["max"] < 3600
        assert "car_value" not in [d["feature"] for d in measured["drift"] if d["drifted"]]
        expected = accuracy_score(before["repaid"], [a["prediction"] for a in answers])
        assert measured["performance"]["realized"]["accuracy"] == pytest.approx(expected, abs=1e-12)
        assert measured["kpis"]["net_value"] == pytest.approx(expected, abs=1e-12)  # default KPI: 1 per correct

        answers_after = send(client, after)
        shifted = cli("measure", "--last", "3000", "--chunks", "3", "--dir", str(root))
        car_value = [d for d in shifted["drift"] if d["feature"] == "car_value"]
        assert [d["method"] for d in car_value] == ["wasserstein"]  # 3,000 rows: a distance by default
        assert all(d["drifted"] for d in car_value)
        # no labels in the newest window: performance is judged on the newest labelled rows
        # (the earlier 3,000), and the measurement says how far behind they are
        assert shifted["window"]["labelled"] == 0 and shifted["labelled_window"]["rows"] == 3000
        assert shifted["performance"]["labelled"] == 3000 and shifted["labelled_window"]["age_seconds"] > 0
        assert [c["rows"] for c in shifted["chunks"]] == [1000, 1000, 1000]
        assert [(c["coverage"], c["label_delay"]["count"]) for c in shifted["chunks"]] == [(0.0, 0)] * 3

        cycle = cli("cycle", "--last", "3000", "--dir", str(root))
        assert cycle["decision"]["action"] in ("wait", "continue")   # no labels yet for the shifted window
        fired = {r["rule"] for r in cycle["decision"]["reasons"] if r["fired"]}
        # The shift is seen (the joint distribution and the outputs moved); the labels are
        # all older than the shift, so they neither confirm harm nor clear the drift.
        assert fired & {"multivariate_drift", "prediction_drift", "drift_share"}
        assert fired <= {"drift_share", "multivariate_drift", "prediction_drift", "estimated_drop"}
        assert cycle["champion_before"] == cycle["champion_after"] == "v1"

        logged = client.get("/models").json()
        assert logged["aliases"] == {"champion": "v1"}

    history = cli("history", "--dir", str(root))
    assert [c["cycle"] for c in history] == [cycle["cycle"]]
    from leanloop.project import Project

    with Project(root) as project:
        assert project.store.count_predictions() == len(answers) + len(answers_after) == 6000
        stored = project.store.window()
        assert set(stored["prediction_id"]) == {a["prediction_id"] for a in answers + answers_after}
        assert stored["label"].notna().sum() == 3000
