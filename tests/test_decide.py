"""Issue 11: deciding right in real conditions.

Labels later than the window (performance judged on the newest labelled rows wherever
they fall, and how old they are), a window setting that can never be met refused at
load, model harm told apart from a population change, and evidence counted once. (A cycle
killed mid-way leaving no half-made version: ``tests/test_unattended.py``, at each stage.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leanloop.config import CONFIG_FILE, PolicyConfig, load_config, render_config
from leanloop.errors import ProjectError
from leanloop.learn import ledger
from leanloop.learn.evidence import Evidence, History
from leanloop.learn.ledger import Cycle
from leanloop.learn.policy import Action, Decision, Rule, decide
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer
from tests.conftest import small_built_project

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]
POLICY = PolicyConfig(min_rows=100, min_labels=100)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Project:
    """A project built on the first 2,000 reference rows with a 10-iteration model."""
    built = small_built_project(tmp_path_factory.mktemp("decide"), car_loan_data)
    yield built
    built.close()


# -- a window setting that cannot be met fails at load, naming the key -------------------


@pytest.mark.parametrize(("section", "line", "pattern"), [
    ("measure", "labelled_window_rows = 200",
     r"measure\.labelled_window_rows = 200 can never hold the policy\.min_labels = 300"),
    ("measure", "labelled_max_age_days = -1", r"measure\.labelled_max_age_days: .*greater than or equal to 0"),
])
def test_an_impossible_window_fails_at_load_with_the_key(tmp_path: Path, section: str, line: str,
                                                         pattern: str) -> None:
    from leanloop.config import DataConfig, ProjectConfig

    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1]))
    text = render_config(config).replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError, match=pattern):
        load_config(tmp_path)


# -- labels later than the window ---------------------------------------------------------


def _serve(project: Project, rows: pd.DataFrame, *, label: bool) -> list[dict]:
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = []
        for start in range(0, len(rows), 500):
            part = rows.iloc[start:start + 500]
            answers += client.post("/predict", json={"rows": part[FEATURES].to_dict("records")}).json()["predictions"]
        if label:
            feedback = [{"prediction_id": a["prediction_id"], "label": int(y)}
                        for a, y in zip(answers, rows["repaid"], strict=True)]
            assert client.post("/feedback", json={"feedback": feedback}).status_code == 200
    return answers


def test_labels_later_than_the_window_are_still_judged_on(project: Project,
                                                          analysis_with_truth: pd.DataFrame) -> None:
    labelled = analysis_with_truth.iloc[:1000]
    _serve(project, labelled, label=True)
    time.sleep(1.1)  # the labelled rows are older than the window by at least this much
    _serve(project, analysis_with_truth.iloc[1000:1500], label=False)
    measured = project.measure(last=500)
    body = measured.to_json()
    # the newest 500 rows have no labels; performance is judged on the newest labelled rows
    assert body["window"]["rows"] == 500 and body["window"]["labelled"] == 0
    window = body["labelled_window"]
    assert window["rows"] == 500 == measured.performance.labelled
    assert window["age_seconds"] >= 1.0 and window["start"] <= window["end"] < body["window"]["start"]
    assert set(measured.performance.realized) >= {"accuracy", "roc_auc"}
    # the estimate reads the newest rows, those still without labels
    assert measured.performance.estimated and measured.performance.estimation_method
    # the evidence counts the labels that exist, not only those inside the newest window
    cycle = project.cycle(last=500, act=False)
    min_labels = next(r for r in cycle.decision.reasons if r.rule == "min_labels")
    assert min_labels.value == 500


# -- model harm apart from population change -----------------------------------------------


def _evidence(**overrides: object) -> Evidence:
    args: dict = {"rows": 1000, "champion_rows": 1000, "labelled": 1000, "metric": "roc_auc", "realized": 0.95,
                  "reference": 0.95, "baseline": 0.5, "kpi": 5.0, "reference_kpi": 10.0}
    return Evidence(**{**args, **overrides})


def test_a_kpi_drop_the_population_explains_is_a_finding_not_a_retrain() -> None:
    finding = "business change: fewer anomaly = 1 (7.0% -> 2.6%); model unchanged"
    evidence = _evidence(kpi_model=-0.1, kpi_model_upper=0.4, kpi_population=-4.9, kpi_population_lower=-5.5,
                         kpi_population_upper=-4.3, finding=finding)
    decision = decide(evidence, POLICY)
    fired = {r.rule for r in decision.reasons if r.fired}
    assert decision.action is Action.CONTINUE and "kpi_drop" not in fired and "population" in fired
    assert next(r for r in decision.reasons if r.rule == "population").says.startswith(finding)
    # the same KPI drop with the model responsible for it retrains
    harmed = _evidence(kpi_model=-4.0, kpi_model_upper=-3.0, kpi_population=-1.0, kpi_population_lower=-1.5,
                       kpi_population_upper=-0.5)
    assert decide(harmed, POLICY).action is Action.RETRAIN
    # a population change never counts toward a pivot, however many cycles it lasts
    many = evidence.model_copy(update={"history": History(harm_streak=0, failed_retrains=5)})
    assert decide(many, POLICY).action is Action.CONTINUE


# -- evidence counted once ---------------------------------------------------------------


def _cycle(number: int, labels_until: float, *, harmed: bool = True, challenger: str | None = None,
           new_labels: int | None = None) -> Cycle:
    rule = Rule(rule="kpi_drop", value=0.5, threshold=0.1, fired=harmed, says="")
    window = {"labels_until": labels_until, "new_labels": new_labels}
    return Cycle(cycle=number, created_at=float(number), decision=Decision(action=Action.WAIT, reasons=[rule]),
                 measurement={"labelled_window": window}, champion_before="v1",
                 champion_after="v1", challenger=challenger)


def test_a_cycle_over_the_same_rows_adds_no_confirmation() -> None:
    once = ledger.history([_cycle(1, 100.0)])
    twice = ledger.history([_cycle(1, 100.0), _cycle(2, 100.0), _cycle(3, 100.0)])
    assert once.harm_streak == twice.harm_streak == 1 and twice.labels_until == 100.0
    assert ledger.history([_cycle(1, 100.0), _cycle(2, 200.0)]).harm_streak == 2
    # cooldown counts cycles with new labels since the retrain, not cycles
    after = ledger.history([_cycle(1, 100.0, challenger="v2"), _cycle(2, 100.0), _cycle(3, 100.0)])
    assert after.cycles_since_retrain == 0
    policy = PolicyConfig(min_rows=100, min_labels=100, confirm_cycles=2, cooldown_cycles=0)
    same = _evidence(labels_until=100.0, history=twice)
    decision = decide(same, policy)
    assert decision.action is Action.WAIT
    assert {r.rule for r in decision.reasons if r.fired} >= {"kpi_drop", "confirm", "same_evidence"}
    assert decide(_evidence(labels_until=300.0, history=twice), policy).action is Action.RETRAIN


def test_an_overlapping_window_counts_only_its_new_rows() -> None:
    """Windows of 1,000 labelled rows, 100 new labels each: one window's worth of new
    rows takes ten cycles, so ten cycles confirm once, not ten times."""
    cycles = [_cycle(1, 100.0, new_labels=1000), *(_cycle(n, 100.0 + n, new_labels=100) for n in range(2, 5))]
    found = ledger.history(cycles, min_new_labels=300)
    assert found.harm_streak == 1 and found.labels_until == 100.0  # cycles 2-4 add 100 each: not yet
    # their labels accumulate: measured from the last counted cycle, cycle 5 brings 400
    found = ledger.history([*cycles, _cycle(5, 105.0, new_labels=400)], min_new_labels=300)
    assert found.harm_streak == 2 and found.labels_until == 105.0
    # the policy: a window with too few new labels confirms nothing and retrains nothing
    policy = PolicyConfig(min_rows=100, min_labels=300, confirm_cycles=2, cooldown_cycles=0)
    history = ledger.history(cycles, min_new_labels=300)
    few = decide(_evidence(labels_until=110.0, new_labels=200, history=history), policy)
    assert few.action is Action.WAIT and "only 200 label(s) arrived" in next(
        r.says for r in few.reasons if r.rule == "same_evidence")
    assert decide(_evidence(labels_until=110.0, new_labels=400, history=history), policy).action is Action.RETRAIN


def test_the_adaptation_follows_the_last_promoted_challenger() -> None:
    rule = Rule(rule="kpi_drop", value=0.5, threshold=0.1, fired=True, says="")
    training = {"focus_since": 50.0, "rows": {"focus": 1050}}
    promoted = Cycle(cycle=1, created_at=1.0, decision=Decision(action=Action.RETRAIN, reasons=[rule]),
                     measurement={}, champion_before="v1", champion_after="v2", challenger="v2", promoted=True,
                     training=training)
    found = ledger.history([promoted])
    assert (found.adapting_since, found.adapting_rows) == (50.0, 1050)
    rejected = promoted.model_copy(update={"cycle": 2, "challenger": "v3", "promoted": False})
    assert ledger.history([promoted, rejected]).adapting_rows is None  # a rejected successor ends it
    recalibrated = promoted.model_copy(update={"cycle": 2, "challenger": "v3", "training": {"strategy": "recalibrate"}})
    assert ledger.history([promoted, recalibrated]).adapting_rows is None


def test_a_lasting_harm_is_learnt_from_every_window_of_its_streak() -> None:
    def harmed(number: int, start: str, *, fired: bool = True) -> Cycle:
        cycle = _cycle(number, 100.0 * number, harmed=fired)
        window = {**cycle.measurement["labelled_window"], "start": start}
        return cycle.model_copy(update={"measurement": {"labelled_window": window}})

    streak = [harmed(1, "2026-01-01T00:00:00+00:00", fired=False), harmed(2, "2026-01-02T00:00:00+00:00"),
              harmed(3, "2026-01-03T00:00:00+00:00")]
    found = ledger.history(streak)
    assert found.harm_streak == 2 and found.harm_since == datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    assert ledger.history(streak[:1]).harm_since is None  # no harm, nothing to learn from
