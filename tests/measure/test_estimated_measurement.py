"""``leanloop measure`` carries realized performance with intervals, estimated
performance (same metric names) with bands and estimation errors, per window and
per chunk, and KPIs realized, estimated and over the baseline, with intervals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leanloop.config import render_config
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> dict:
    """A built project that served 600 analysis rows, 300 of them labelled, measured in 3 chunks."""
    root = tmp_path_factory.mktemp("estimated") / "p"
    csv = root.parent / "loans.csv"
    car_loan_data.reference.head(2000).to_csv(csv, index=False)
    created = Project.init(csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={
        "model": created.config.model.model_copy(update={"max_iter": 10}),
        "kpi": created.config.kpi.model_copy(update={"weight_column": "car_value"}),
        "performance": created.config.performance.model_copy(update={"bootstrap_resamples": 100}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    analysis = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").head(600)
    with Project(root) as project:
        project.build()
        with TestClient(create_app(project), headers=bearer(project)) as client:
            body = client.post("/predict", json={"rows": analysis[FEATURES].to_dict("records")}).json()
            ids = [p["prediction_id"] for p in body["predictions"]]
            labels = [{"prediction_id": i, "label": int(y)}
                      for i, y in zip(ids[::2], analysis["repaid"][::2], strict=True)]
            assert client.post("/feedback", json={"feedback": labels}).status_code == 200
        return project.measure(last=600, chunks=3).to_json()


def test_estimated_beside_realized_with_the_same_names(measured: dict) -> None:
    perf = measured["performance"]
    assert perf["labelled"] == 300 and perf["estimation_method"] == "cbpe"
    assert set(perf["estimated"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert set(perf["estimated"]) <= set(perf["realized"])
    assert set(perf["estimation_error"]) == set(perf["estimated"])
    for name, value in perf["estimated"].items():
        band = perf["estimated_intervals"][name]
        assert band["lower"] <= value == band["value"] <= band["upper"]
        assert abs(perf["estimation_error"][name]) < 0.1


def test_realized_metrics_have_intervals_and_the_baseline_beside(measured: dict) -> None:
    perf = measured["performance"]
    assert set(perf["intervals"]) == set(perf["realized"]) == set(perf["baseline"])
    for name, value in perf["realized"].items():
        interval = perf["intervals"][name]
        assert interval["value"] == value and interval["lower"] <= value <= interval["upper"]
    assert perf["baseline_intervals"]["accuracy"]["value"] == perf["baseline"]["accuracy"]


def test_kpis_realized_estimated_and_over_the_baseline(measured: dict) -> None:
    name = "net_value"
    kpi = measured["kpi_intervals"][name]
    assert kpi["value"] == pytest.approx(measured["kpis"][name]) and kpi["lower"] <= kpi["value"] <= kpi["upper"]
    assert measured["baseline_kpi_intervals"][name]["value"] == pytest.approx(measured["baseline_kpis"][name])
    gain = measured["kpi_gain"][name]["value"]
    assert gain == pytest.approx(measured["kpis"][name] - measured["baseline_kpis"][name])
    assert set(measured["estimated_kpis"]) == {name, f"{name}_total"}
    band = measured["estimated_kpi_intervals"][name]
    assert band["lower"] <= measured["estimated_kpis"][name] == band["value"] <= band["upper"]


def test_each_chunk_is_estimated_too(measured: dict) -> None:
    chunks = measured["chunks"]
    assert [c["rows"] for c in chunks] == [200, 200, 200]
    for chunk in chunks:
        assert set(chunk["performance"]["estimated"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
        assert chunk["performance"]["intervals"] and chunk["kpi_intervals"] and chunk["estimated_kpi_intervals"]
        assert chunk["performance"]["labelled"] == chunk["labelled"] == 100
