"""Recalibrate before retraining: a prior shift with the model unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leanloop.config import KpiConfig, KpiOutcome, render_config
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer

FEATURES = ["x1", "x2"]


def population(n: int, positive_share: float, seed: int) -> pd.DataFrame:
    """Each class looks the same in every population; only the mix changes (a prior shift)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_share).astype(int)
    return pd.DataFrame({"x1": rng.normal(1.2 * y, 1.0), "x2": rng.normal(0.6 * y, 1.0), "y": y})


def sharper(frame: pd.DataFrame, factor: float, seed: int) -> pd.DataFrame:
    """The same rows, relabelled from the reference's true log odds times ``factor``:
    the order of the rows by risk is unchanged (the model ranks as well or better), the
    class mix stays near 50/50, but outcomes are surer than the model's probabilities say."""
    log_odds = 1.2 * frame["x1"] + 0.6 * frame["x2"] - 0.9  # the exact posterior of :func:`population` at 50/50
    rng = np.random.default_rng(seed)
    y = (rng.random(len(frame)) < 1 / (1 + np.exp(-factor * log_odds))).astype(int)
    return frame.assign(y=y)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    data = tmp_path / "reference.csv"
    population(4000, 0.5, seed=1).to_csv(data, index=False)
    created = Project.init(data, target="y", root=tmp_path / "p")
    config = created.config.model_copy(update={
        "kpi": KpiConfig(name="profit", outcomes=[KpiOutcome(actual=1, predicted=1, value=1000.0),
                                                  KpiOutcome(actual=0, predicted=1, value=-1500.0)]),
        "policy": created.config.policy.model_copy(update={"min_rows": 500, "min_labels": 300}),
        "model": created.config.model.model_copy(update={"max_iter": 30}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(tmp_path / "p")
    project.build()
    yield project
    project.close()


def serve_and_label(project: Project, frame: pd.DataFrame) -> None:
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = []
        for start in range(0, len(frame), 500):
            rows = frame.iloc[start:start + 500][FEATURES].to_dict("records")
            answers += client.post("/predict", json={"rows": rows}).json()["predictions"]
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, frame["y"], strict=True)]
        assert client.post("/feedback", json={"feedback": labels}).status_code == 200


def test_prior_shift_recalibrates_and_the_gate_promotes_only_a_gain(project: Project) -> None:
    v1 = project.registry.champion()
    assert v1.decision.value == "expected_value"
    serve_and_label(project, population(3000, 0.25, seed=2))  # the positive share halved
    cycle = project.cycle(last=3000)
    assert cycle.decision.action.value == "recalibrate", cycle.decision.explain()
    says = next(r.says for r in cycle.decision.reasons if r.rule == "recalibrate")
    assert "still ranks as on reference" in says and "instead of retraining" in says
    challenger = project.registry.get(cycle.challenger)
    assert challenger.source == "recalibrate" and challenger.parent == v1.version
    assert challenger.decision.value == "expected_value" and cycle.training["strategy"] == "recalibrate"
    recal = challenger.recalibration
    assert recal is not None and recal["chosen"] in {"prior_correction", "calibration"}
    chosen_loss = min(recal["prior_correction_log_loss"], recal["calibration_log_loss"])
    assert recal[f"{recal['chosen']}_log_loss"] == chosen_loss
    # EM saw the mix move from the probabilities alone (0.5 -> about 0.34 with this model; 0.25 true)
    assert recal["train_priors"][1] == pytest.approx(0.5, abs=0.03) and recal["new_priors"][1] < 0.4
    # the class shares a refitted calibration reflects: those of the rows it was fitted on
    assert recal["calibration"] == "none" or recal["calibration_priors"][1] == pytest.approx(0.25, abs=0.04)
    # the same fitted model underneath: the recalibrated version's reference is the champion's data
    assert challenger.fingerprint == v1.fingerprint
    checks = {c.check: c for c in cycle.comparison.checks}
    lift = checks["recent_profit_lift"]
    assert cycle.promoted == cycle.comparison.promote
    if cycle.promoted:
        assert lift.challenger >= lift.champion
    # on these rows the prior correction earns more: fewer loans to a shrunken good class
    assert lift.challenger > lift.champion
    assert cycle.promoted and cycle.champion_after == challenger.version
    explained = project.explain(cycle.cycle).explain()
    assert "recalibrated: the same fitted model" in explained
    # the measurement shows the served rule's KPI beside argmax's on the same labelled rows
    served, argmax = cycle.measurement["kpis"]["profit_total"], cycle.measurement["argmax_kpis"]["profit_total"]
    assert f"{served:,.0f} under the served rule, {argmax:,.0f} with argmax" in explained


def test_a_prior_correction_starts_from_the_priors_the_calibration_reflects(project: Project) -> None:
    """A built version's calibration was fitted on its training rows (50/50 here); one whose
    calibration a recalibration refitted on production rows reflects their mix instead,
    so a later prior correction starts from that mix, not the training data's."""
    from leanloop.learn.recalibrate import _train_priors

    v1 = project.registry.champion()
    assert _train_priors(project.workspace, v1, [0, 1]) == pytest.approx([0.5, 0.5], abs=0.03)
    refitted = v1.model_copy(update={"recalibration": {"chosen": "calibration", "classes": ["0", "1"],
                                                       "calibration_priors": [0.75, 0.25]}})
    assert _train_priors(project.workspace, refitted, [0, 1]).tolist() == [0.75, 0.25]
    corrected = v1.model_copy(update={"recalibration": {"chosen": "prior_correction", "classes": ["0", "1"],
                                                        "calibration_priors": [0.75, 0.25]}})
    assert _train_priors(project.workspace, corrected, [0, 1]) == pytest.approx([0.5, 0.5], abs=0.03)


def test_a_new_prior_correction_replaces_the_old_one() -> None:
    from sklearn.dummy import DummyClassifier

    from leanloop.learn.recalibrate import _corrected, with_priors

    inner = DummyClassifier().fit([[0]] * 4, [0, 0, 1, 1])
    once = with_priors(inner, np.array([0.5, 0.5]), np.array([0.7, 0.3]))
    model, train, current = _corrected(once)
    assert model is inner and train.tolist() == [0.5, 0.5] and current.tolist() == [0.7, 0.3]
    twice = with_priors(model, train, np.array([0.9, 0.1]))
    assert twice.estimator is inner  # one wrapper, not two
    assert twice.predict_proba([[0]]).round(3).tolist() == [[0.9, 0.1]]


def test_lost_calibration_recalibrates_with_the_class_mix_unchanged(project: Project) -> None:
    """Outcomes grow surer, the mix stays 50/50: ranking holds (it even improves) and only
    the calibration measured on the labelled window says the probabilities are off."""
    serve_and_label(project, sharper(population(3000, 0.5, seed=3), 3.0, seed=3))
    cycle = project.cycle(last=3000)
    calibration = cycle.measurement["calibration"]
    assert calibration["window_rows"] == 3000 and calibration["reliability"]
    assert calibration["shift"]["lower"] > project.config.policy.max_calibration_shift
    rule = next(r for r in cycle.decision.reasons if r.rule == "recalibrate")
    assert rule.value is not None and rule.value < project.config.policy.max_class_mix_shift  # not the mix
    assert cycle.decision.action.value == "recalibrate", cycle.decision.explain()
    assert "still ranks as on reference" in rule.says and "ECE" in rule.says
    assert project.registry.get(cycle.challenger).source == "recalibrate"
    told = project.explain(cycle.cycle).explain()
    assert f"{cycle.champion_before} serves the expected_value label rule" in told
    assert "accuracy" in told and "the mix's part" in told and "the model's" in told


def test_same_population_keeps_its_calibration(project: Project) -> None:
    serve_and_label(project, population(3000, 0.5, seed=4))
    cycle = project.cycle(last=3000)
    calibration = cycle.measurement["calibration"]
    assert calibration["shift"]["lower"] < project.config.policy.max_calibration_shift
    assert cycle.decision.action.value == "continue", cycle.decision.explain()
