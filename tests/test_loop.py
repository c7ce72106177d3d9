"""The learn half of the loop: retrain, compare, promote, hot swap, ledger."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leanloop.config import render_config
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer
from tests.serve.faults import Zygote

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


@pytest.fixture
def project(tmp_path: Path, car_loan_csv: Path) -> Project:
    root = tmp_path / "p"
    created = Project.init(car_loan_csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={
        "policy": created.config.policy.model_copy(update={"min_rows": 500, "min_labels": 300, "max_kpi_drop": 0.0,
                                                           "max_metric_drop": 0.0}),
        "model": created.config.model.model_copy(update={"max_iter": 50}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(root)
    project.build()
    yield project
    project.close()


def serve_and_label(project: Project, frame: pd.DataFrame) -> list[dict]:
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = []
        for start in range(0, len(frame), 500):
            rows = frame.iloc[start:start + 500][FEATURES].to_dict("records")
            body = client.post("/predict", json={"rows": rows}).json()
            answers += body["predictions"]
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, frame["repaid"], strict=True)]
        assert client.post("/feedback", json={"feedback": labels}).status_code == 200
    return answers


def test_cycle_retrains_compares_and_records(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    serve_and_label(project, analysis_with_truth.iloc[30000:33000])
    cycle = project.cycle(last=3000)
    assert cycle.decision.action.value == "retrain"
    assert cycle.challenger == "v2"
    challenger = project.registry.get("v2")
    assert challenger.parent == "v1" and challenger.source == "retrain" and challenger.cycle == cycle.cycle
    # The harm is the model's own: the challenger relearns from the window's rows, marked,
    # beside the reference (leanloop.build.since_change), hard cases included: they are the champion's mistakes on the
    # changed relation. The window's hard cases went into the enriched test set before
    # retraining, and those among the rows that judge the challenger gate the promotion.
    assert challenger.rows["testset_held_out"] == 0 and challenger.rows["since_change"] == 3000
    assert challenger.rows["reference"] > 0 and challenger.rows["train"] == challenger.rows["reference"] + 3000
    # judged cross-fitted (learn.crossfit): every window row both teaches and judges it
    assert challenger.rows["production"] == challenger.rows["recent_eval"] == 3000 and challenger.rows["folds"] > 1
    added = cycle.testset
    assert added is not None and added.size == sum(added.added.values()) == len(project.testset()) > 0
    checks = {c.check: c for c in cycle.comparison.checks}
    assert set(checks) == {"recent_net_value_lift", "recent_roc_auc_no_regression", "holdout_roc_auc_regression",
                           "recent_roc_auc_beats_baseline", "hard_cases_regression", "segments_no_regression"}
    lift = checks["recent_net_value_lift"]
    assert lift.lower <= lift.difference <= lift.upper
    assert lift.difference == pytest.approx(lift.challenger - lift.champion)
    assert cycle.training["strategy"] == "relearn"
    assert cycle.training["fingerprint"] == challenger.fingerprint and cycle.training["parent"] == "v1"
    hard = checks["hard_cases_regression"]
    # every hard case of the window is among the rows since the harm, all of which judge it
    assert 0 < hard.rows == added.size and hard.p_value is not None and hard.passed == (hard.p_value >= 0.05)
    assert cycle.comparison.rows["hard_cases"] == hard.rows
    holdout = checks["holdout_roc_auc_regression"]
    assert holdout.passed and holdout.skipped is not None and holdout.difference is not None
    assert cycle.promoted == cycle.comparison.promote == all(c.passed for c in checks.values())
    assert cycle.champion_after == ("v2" if cycle.promoted else "v1")
    ledger = project.history()
    assert ledger[-1]["cycle"] == cycle.cycle and ledger[-1]["challenger"] == "v2"
    assert ledger[-1]["decision"]["action"] == "retrain"
    assert ledger[-1]["testset"]["added"] == added.added
    assert sum(ledger[-1]["measurement"]["hard_cases"].values()) == added.size
    segments = ledger[-1]["measurement"]["segments"]
    assert all(s["adjusted_p_value"] < 0.05 and s["rows"] >= 50 for s in segments)
    assert [s["impact"] for s in segments] == sorted((s["impact"] for s in segments), reverse=True)
    assert set(ledger[-1]["measurement"]["hard_cases"]) == {"confident_error", "high_loss", "weak_segment",
                                                            "drifted_region"}


def test_learn_decides_on_the_latest_measurement(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    serve_and_label(project, analysis_with_truth.iloc[:600])
    measured = project.measure(last=600)
    cycle = project.learn(act=False)
    assert cycle.measurement["window"] == measured.to_json()["window"]
    assert cycle.challenger is None


def test_running_server_picks_up_new_champion_without_restart(project: Project, analysis_with_truth: pd.DataFrame,
                                                              zygote: Zygote) -> None:
    from leanloop.build.train import train_version

    rows = analysis_with_truth.iloc[:50][FEATURES].to_dict("records")
    with zygote.serving(project.paths.root) as url, httpx.Client(base_url=url) as client:
        assert client.post("/predict", json={"rows": rows}).json()["model_version"] == "v1"
        reference = pd.read_csv(project.data_path())
        train_version(project.workspace, train=reference.iloc[:3000],
                      test=reference.iloc[3000:], source="build", parent="v1", alias=None)
        project.registry.promote("v2")
        deadline = time.monotonic() + 10
        while client.get("/health").json()["model_version"] != "v2":
            assert time.monotonic() < deadline, "server did not switch to v2"
            time.sleep(0.1)
        body = client.post("/predict", json={"rows": rows}).json()
        assert body["model_version"] == "v2"
    logged = project.store.window()
    assert logged["model_version"].value_counts().to_dict() == {"v1": 50, "v2": 50}
    assert project.store.aliases() == {"champion": "v2", "previous": "v1"}


def test_failed_retrain_leaves_the_registry_as_it_was(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    from leanloop.errors import DataError

    frame = analysis_with_truth.iloc[30000:30600]
    answers = serve_and_label(project, frame.iloc[:500])
    assert len(answers) == 500
    strict = project.config.policy.model_copy(update={"min_labels": 400})
    project.config = project.config.model_copy(update={"policy": strict})
    # Too few labels to retrain on after the recent rows are held out: retrain must refuse
    # and nothing may be registered.
    project.config = project.config.model_copy(update={"policy": strict.model_copy(update={"min_labels": 501})})
    before = ([v.version for v in project.registry.versions()], project.store.aliases())
    from leanloop.learn.retrain import retrain

    with pytest.raises(DataError, match="retraining needs at least 501"):
        retrain(project)
    assert ([v.version for v in project.registry.versions()], project.store.aliases()) == before


def test_manual_promote_rollback_and_explain(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    from leanloop.build.train import train_version
    from leanloop.errors import InputError, NotFoundError

    reference = pd.read_csv(project.data_path())
    train_version(project.workspace, train=reference.iloc[:3000],
                  test=reference.iloc[3000:], source="build", parent="v1", alias=None)
    with pytest.raises(NotFoundError, match="no previous version"):
        project.rollback()
    with pytest.raises(NotFoundError):
        project.promote("v9")
    with pytest.raises(InputError, match="already the champion"):
        project.promote("v1")
    promoted = project.promote("v2", reason="canary went well")
    assert (promoted.champion_before, promoted.champion_after, promoted.kind) == ("v1", "v2", "promote")
    assert project.store.aliases() == {"champion": "v2", "previous": "v1"}
    rolled = project.rollback()
    assert (rolled.champion_before, rolled.champion_after) == ("v2", "v1")
    assert project.store.aliases() == {"champion": "v1", "previous": "v2"}
    ledger = project.history()
    assert [(e["kind"], e["reason"]) for e in ledger[-2:]] == [("promote", "canary went well"), ("rollback", "manual")]
    assert project.explain(rolled.cycle).champion_after == "v1"


def test_cycle_rolls_back_a_champion_worse_than_previous(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    from leanloop.build.train import train_version

    reference = pd.read_csv(project.data_path())
    # A deliberately weak version: trained on 60 rows only.
    train_version(project.workspace, train=reference.iloc[:60],
                  test=reference.iloc[3000:], source="build", parent="v1", alias=None)
    project.promote("v2")
    serve_and_label(project, analysis_with_truth.iloc[:1500])
    cycle = project.cycle(last=1500)
    rollback = next(r for r in cycle.decision.reasons if r.rule == "rollback")
    assert rollback.fired and rollback.value > 0, cycle.explain()
    assert cycle.decision.action.value == "rollback" and cycle.rolled_back
    assert project.store.aliases()["champion"] == "v1"
    assert "[FIRED] rollback" in project.explain(cycle.cycle).explain()
