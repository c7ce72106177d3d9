"""Decisions in money at build: the served rule, calibration on held-out rows, the
cost-optimal quantile for regression, and the refusals that name the fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient

from leanloop.config import KpiConfig, KpiOutcome, ModelConfig, Task, load_config, render_config
from leanloop.demo import DEMO_KPI
from leanloop.errors import InputError, ProjectError
from leanloop.measure.kpi import argmax_kpis, classification_kpis, row_weights
from leanloop.project import Project, adopt_model
from leanloop.scoring import score
from leanloop.serve import create_app
from leanloop.serve.security import bearer

LOAN_VALUES = KpiConfig.model_validate(DEMO_KPI)


def configure(root: Path, **sections: object) -> Project:
    project = Project(root)
    config = project.config.model_copy(update=sections)
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project.close()
    return Project(root)


def noisy(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, 1]))).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(y=y)


@pytest.fixture
def loans(tmp_path: Path, car_loan_csv: Path) -> Project:
    Project.init(car_loan_csv, target="repaid", time_column="timestamp", id_column="id", root=tmp_path / "p").close()
    project = configure(tmp_path / "p", kpi=LOAN_VALUES, model=ModelConfig(max_iter=60))
    yield project
    project.close()


def test_car_loan_expected_value_earns_more_than_argmax_with_the_same_model(
        loans: Project, analysis_with_truth: pd.DataFrame) -> None:
    version = loans.build()
    assert version.decision.value == "expected_value" and version.calibration is not None
    model, _ = loans.registry.load(version.version)
    sample = analysis_with_truth.iloc[:8000]
    X = loans.config.schema_.model_frame(sample, "analysis")
    served = score(model, X, "classification")
    truth = sample["repaid"].astype(int).tolist()
    weights = row_weights(X, loans.config.kpi)
    rule = classification_kpis(truth, served.labels, loans.config.kpi, weights)["profit_total"]
    argmax = argmax_kpis(served, truth, loans.config.kpi, weights)["profit_total"]
    assert rule > argmax > 0
    # the rule lends only above p = 5/6: every approved loan is at least that sure
    approved = np.asarray(served.labels) == 1
    assert served.probabilities[approved, 1].min() >= 5 / 6 - 1e-9


def test_predict_serves_the_expected_value_label_and_build_says_which(loans: Project) -> None:
    version = loans.build()
    with TestClient(create_app(loans), headers=bearer(loans)) as client:
        frame = pd.read_parquet(loans.paths.datasets / version.test_data)
        rows = frame[loans.config.schema_.names].head(400).to_dict("records")
        answers = client.post("/predict", json={"rows": rows}).json()["predictions"]
    for answer in answers:
        p = answer["probabilities"]["1"]
        assert answer["prediction"] == (1 if p * 1000.0 - (1 - p) * 5000.0 > 0 else 0)
    assert any(0.5 < a["probabilities"]["1"] < 5 / 6 and a["prediction"] == 0 for a in answers)


def test_build_json_reports_rule_and_calibration(loans: Project) -> None:
    from typer.testing import CliRunner

    from leanloop.cli import app

    result = CliRunner().invoke(app, ["build", "--dir", str(loans.paths.root), "--json"])
    body = json.loads(result.stdout)
    assert body["decision"] == "expected_value" and body["quantile"] is None
    calibration = body["calibration"]
    assert calibration["method"] in {"none", "sigmoid", "isotonic"}
    assert calibration["log_loss_after"] <= calibration["log_loss_before"] + 1e-12
    assert calibration["reliability_before"] and calibration["rows"] > 0


def _classification_project(tmp_path: Path, model: ModelConfig, frame: pd.DataFrame) -> Project:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    Project.init(data, target="y", root=tmp_path / "p").close()
    values = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                                 KpiOutcome(actual=0, predicted=1, value=-2.0)])
    return configure(tmp_path / "p", kpi=values, model=model)


def test_build_calibration_lowers_ece_of_an_over_confident_model(tmp_path: Path) -> None:
    # deep boosting at a high rate on noisy labels: probabilities near 0 and 1
    project = _classification_project(tmp_path, ModelConfig(max_iter=300, learning_rate=1.0), noisy(3000, 0))
    report = project.build().calibration
    project.close()
    assert report is not None and report.method.value != "none"
    assert report.ece_after < report.ece_before and report.log_loss_after < report.log_loss_before


def test_build_calibration_does_not_make_a_calibrated_model_worse(tmp_path: Path) -> None:
    project = _classification_project(tmp_path, ModelConfig(max_iter=20, learning_rate=0.1), noisy(3000, 1))
    report = project.build().calibration
    project.close()
    assert report is not None
    assert report.log_loss_after <= report.log_loss_before
    assert report.ece_after <= report.ece_before + 0.01


def test_regression_under_four_times_over_serves_the_0_8_quantile_and_beats_the_mean(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 6000)
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=6000), "y": 3 * x + rng.normal(0, 1 + x, 6000)})
    data = tmp_path / "r.csv"
    frame.to_csv(data, index=False)
    Project.init(data, target="y", task=Task.REGRESSION, root=tmp_path / "p").close()
    project = configure(tmp_path / "p", kpi=KpiConfig(name="cost", over_cost_per_unit=1.0, under_cost_per_unit=4.0),
                        model=ModelConfig(max_iter=100))
    version = project.build()
    assert version.quantile == pytest.approx(0.8)
    model, _ = project.registry.load(version.version)
    held_out = pd.read_parquet(project.paths.datasets / version.test_data)
    predicted = np.asarray(score(model, project.config.schema_.model_frame(held_out, "t"), "regression").labels)
    below = float(np.mean(held_out["y"].to_numpy() < predicted))
    assert abs(below - 0.8) <= 0.05
    assert version.kpi["cost"] > version.kpi["baseline_cost"]  # the mean model costs more
    project.close()


def test_a_value_table_naming_an_unknown_class_or_unable_to_choose_fails_at_load(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    noisy(100, 2).to_csv(data, index=False)
    project = Project.init(data, target="y", root=tmp_path / "p")
    config = project.config
    project.close()
    base = config.model_copy(update={"data": config.data.model_copy(update={"classes": [0, 1]})})
    unknown = base.model_copy(update={"kpi": KpiConfig(outcomes=[KpiOutcome(actual=2, predicted=1, value=1.0)])})
    (tmp_path / "p" / "leanloop.toml").write_text(render_config(unknown), encoding="utf-8")
    with pytest.raises(ProjectError, match=r"kpi\.outcomes name labels \['2'\]"):
        load_config(tmp_path / "p")
    flat = base.model_copy(update={"kpi": KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=5.0),
                                                              KpiOutcome(actual=1, predicted=0, value=5.0)])})
    (tmp_path / "p" / "leanloop.toml").write_text(render_config(flat), encoding="utf-8")
    with pytest.raises(ProjectError, match=r"kpi\.outcomes: .*every prediction worth the same.*decision = \"argmax\""):
        load_config(tmp_path / "p")
    argmax = flat.model_copy(update={"kpi": flat.kpi.model_copy(update={"decision": "argmax"})})
    (tmp_path / "p" / "leanloop.toml").write_text(render_config(argmax), encoding="utf-8")
    assert load_config(tmp_path / "p").kpi.rule.value == "argmax"


def test_adopt_refuses_a_model_without_probabilities_under_expected_value(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    frame = noisy(200, 3)
    reference = tmp_path / "ref.csv"
    frame.to_csv(reference, index=False)
    model_path = tmp_path / "svc.skops"
    model_path.write_bytes(sio.dumps(LinearSVC().fit(frame[["a", "b", "c", "d"]], frame["y"])))
    root = tmp_path / "p"
    adopted = adopt_model(model_path, reference=reference, target="y", root=root)  # no [kpi] yet: argmax
    assert adopted.decision.value == "argmax"
    project = configure(root, kpi=KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                                                      KpiOutcome(actual=0, predicted=1, value=-2.0)]))
    with pytest.raises(InputError, match=r'no predict_proba.*decision = "argmax"'):
        project.adopt(model_path, reference=reference)
    project.close()


def test_adopt_calibrates_an_over_confident_naive_bayes_on_rows_it_did_not_learn_from(tmp_path: Path) -> None:
    from sklearn.naive_bayes import GaussianNB

    rng = np.random.default_rng(4)
    base = noisy(4000, 4)
    # four copies of the same signal: naive Bayes counts it four times and is over-confident
    frame = base.assign(b=base["a"] + rng.normal(0, 0.1, 4000), c=base["a"] + rng.normal(0, 0.1, 4000),
                        d=base["a"] + rng.normal(0, 0.1, 4000))
    reference, held_out = tmp_path / "ref.csv", tmp_path / "held.csv"
    frame.iloc[:2000].to_csv(reference, index=False)
    frame.iloc[2000:].to_csv(held_out, index=False)
    model_path = tmp_path / "nb.skops"
    model_path.write_bytes(sio.dumps(GaussianNB().fit(frame.iloc[:2000][["a", "b", "c", "d"]], frame.iloc[:2000]["y"])))
    root = tmp_path / "p"
    adopt_model(model_path, reference=reference, target="y", root=root)
    project = configure(root, kpi=KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0),
                                                      KpiOutcome(actual=0, predicted=1, value=-2.0)]))
    version = project.adopt(model_path, reference=reference, calibrate_on=held_out)
    report = version.calibration
    assert version.decision.value == "expected_value"
    assert report is not None and report.method.value != "none" and report.ece_after < report.ece_before
    model, _ = project.registry.load(version.version)  # the calibrated wrapper passes the allow-list
    assert score(model, frame[["a", "b", "c", "d"]].head(5), "classification").probabilities.shape == (5, 2)
    project.close()


def test_a_single_declared_cell_without_data_classes_loads() -> None:
    from leanloop.config import DataConfig, ProjectConfig

    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification"),
                           kpi=KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0)]))
    assert config.kpi.rule.value == "expected_value"


def test_multiclass_text_labels_serve_the_label_worth_the_most() -> None:
    from sklearn.linear_model import LogisticRegression

    from leanloop.build.served import served_model

    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x": rng.normal(size=600)})
    y = np.where(X["x"] < -0.5, "low", np.where(X["x"] > 0.5, "high", "mid"))
    model = LogisticRegression().fit(X, y)
    # serving "high" when the truth is "low" is a disaster; "mid" is always safe
    kpi = KpiConfig(outcomes=[KpiOutcome(actual=c, predicted=c, value=10.0) for c in ("low", "mid", "high")]
                    + [KpiOutcome(actual="low", predicted="high", value=-1000.0),
                       KpiOutcome(actual="high", predicted="low", value=-1000.0)])
    served = score(served_model(model, kpi, "classification"), X, "classification")
    proba = served.probabilities
    values = np.array([[10.0 if a == p else (-1000.0 if {a, p} == {"low", "high"} else 0.0) for p in served.classes]
                       for a in served.classes])
    expected = [served.classes[i] for i in (proba @ values).argmax(axis=1)]
    assert served.labels == expected
    assert served.labels != [served.classes[i] for i in proba.argmax(axis=1)]  # the rule changed some answers
