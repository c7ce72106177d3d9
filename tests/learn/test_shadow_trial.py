"""The loop's shadow trial: a challenger that passed the gate is judged on live traffic
by the next cycles, then promoted or dropped; meanwhile harm waits instead of retraining."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from leanloop.config import PolicyConfig
from leanloop.learn.evidence import Evidence
from leanloop.learn.policy import Action, Decision, decide
from leanloop.loop import Cycle, run_cycle
from leanloop.project import Project
from leanloop.serve import create_app
from tests.serve.faults import FEATURES

ROWS = 400


def on_trial(built: Path, tmp_path: Path, car_loan_data, champion: str, challenger: str) -> Project:
    """A copy where the loop put ``challenger`` on trial (a cycle's ``shadowed``) and the
    server answered ``ROWS`` labelled rows with ``champion``, shadowed by ``challenger``."""
    root = tmp_path / "p"
    shutil.copytree(built, root)
    project = Project(root)
    project.registry.promote(champion)
    entry = project.store.add_cycle({}, at=time.time())
    project.store.update_cycle(entry, Cycle(
        cycle=entry, created_at=time.time(), measurement={}, decision=Decision(action=Action.RETRAIN, reasons=[]),
        champion_before=champion, champion_after=champion, challenger=challenger, shadowed=challenger).to_json())
    project.registry.shadow(challenger)
    frame = car_loan_data.analysis.head(ROWS).merge(car_loan_data.analysis_targets, on="id")
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        while client.get("/shadow").json()["worker"]["version"] != challenger:
            time.sleep(0.02)
        ids = [p["prediction_id"] for i in range(0, ROWS, 100)
               for p in client.post("/predict", json={"rows": frame[FEATURES].iloc[i:i + 100].to_dict("records")})
               .json()["predictions"]]
        deadline = time.monotonic() + 20
        while project.store.count_shadow(challenger) < ROWS:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    project.feedback(list(zip(ids, frame["repaid"].tolist(), strict=True)))
    return project


def test_a_better_challenger_on_trial_is_promoted_by_the_next_cycle(built, tmp_path, car_loan_data) -> None:
    project = on_trial(built, tmp_path, car_loan_data, champion="v2", challenger="v1")
    cycle = run_cycle(project.workspace)
    assert cycle.shadow is not None and cycle.shadow["verdict"] == "promote"
    assert [c["check"] for c in cycle.shadow["checks"]] == ["live_net_value_lift", "live_roc_auc_no_regression"]
    assert cycle.promoted and (cycle.champion_before, cycle.champion_after) == ("v2", "v1")
    assert "shadow" not in project.store.aliases()
    assert "shadow trial of v1: promote" in cycle.explain()
    project.close()


def test_a_worse_challenger_on_trial_is_dropped_and_the_champion_stays(built, tmp_path, car_loan_data) -> None:
    project = on_trial(built, tmp_path, car_loan_data, champion="v1", challenger="v2")
    cycle = run_cycle(project.workspace)
    assert cycle.shadow is not None and cycle.shadow["verdict"] == "reject"
    assert not cycle.promoted and cycle.champion_after == "v1"
    assert "shadow" not in project.store.aliases()
    assert run_cycle(project.workspace).shadow is None  # judged once; the trial is over
    project.close()


def test_a_person_s_shadow_is_not_judged_by_the_loop(built, tmp_path) -> None:
    root = tmp_path / "p"
    shutil.copytree(built, root)
    project = Project(root)
    project.shadow("v2")  # v1 is the champion
    assert run_cycle(project.workspace).shadow is None
    assert project.store.aliases()["shadow"] == "v2"
    project.close()


def test_harm_waits_while_a_challenger_is_on_trial() -> None:
    harmed = Evidence(rows=5000, champion_rows=5000, labelled=4000, metric="roc_auc", realized=0.80,
                      reference=0.90, drift_share=0.1)
    assert decide(harmed, PolicyConfig()).action is Action.RETRAIN
    decision = decide(harmed.model_copy(update={"shadow_trial": "v3"}), PolicyConfig())
    assert decision.action is Action.WAIT
    rule = next(r for r in decision.reasons if r.rule == "shadow_trial")
    assert rule.fired and "v3 is on trial" in rule.says
