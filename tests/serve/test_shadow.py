"""Shadow mode: the shadow version scores every request in the background, logged and
never returned; the report compares it with the champion on the same live rows."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leanloop.cli import app as cli
from leanloop.config import render_config
from leanloop.measure.kpi import outcome_values
from leanloop.project import Project
from leanloop.scoring import model_input, score
from leanloop.serve import create_app
from leanloop.serve.security import bearer

from .conftest import small_project
from .faults import FEATURES, Zygote

ROWS = 400


def with_model(project: Project, **model: object) -> Project:
    config = project.config
    config = config.model_copy(update={"model": config.model.model_copy(update=model)})
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project.close()
    return Project(project.paths.root)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Path:
    """v1 (10 iterations) is the champion; v2 (one tiny step: a much weaker model) is registered."""
    project = small_project(tmp_path_factory.mktemp("shadow"), car_loan_data, model_refresh_seconds=0.05,
                            shadow_batch_wait_ms=5.0)
    project = with_model(project, max_iter=1, learning_rate=0.01)
    project.build()
    project.registry.promote("v1")
    project.close()
    return project.paths.root


@pytest.fixture
def shadowed(built: Path, tmp_path: Path) -> Project:
    root = tmp_path / "p"
    shutil.copytree(built, root)
    return Project(root)


def wait_for(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_shadow_scores_every_row_logs_it_and_never_returns_it(shadowed: Project, car_loan_data) -> None:
    project = shadowed
    frame = car_loan_data.analysis.head(ROWS)
    rows = frame[FEATURES].to_dict("records")
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        started = client.post("/shadow", json={"version": "v2", "reason": "try v2 live"}).json()
        assert (started["kind"], started["evidence"], started["champion_after"]) == ("shadow", {"shadow": "v2"}, "v1")
        wait_for(lambda: client.get("/shadow").json()["worker"]["version"] == "v2", "the app did not load the shadow")
        answers = [client.post("/predict", json={"rows": rows[i:i + 20]}).json() for i in range(0, ROWS, 20)]
        wait_for(lambda: project.store.count_shadow("v2") == ROWS, "not every row was shadow-scored")
        # the shadow process writes its rows, then counts them: wait for the count too
        wait_for(lambda: client.get("/shadow").json()["worker"]["scored"] == ROWS, "the rows were not counted")
        metrics = client.get("/metrics").text
    assert {a["model_version"] for a in answers} == {"v1"}
    outputs = [p for a in answers for p in a["predictions"]]
    assert all(set(p) == {"prediction_id", "prediction", "probabilities"} for p in outputs)  # the shadow stays out
    assert f'leanloop_shadow_rows_total{{outcome="scored",version="v2"}} {float(ROWS)}' in metrics

    # What was answered is v1's output; what was logged for the shadow is v2's, row for row.
    pairs = project.store.shadow_pairs("v2")
    assert pairs["prediction_id"].tolist() == [p["prediction_id"] for p in outputs]
    for version, column in (("v1", "probabilities"), ("v2", "shadow_probabilities")):
        record = project.registry.get(version)
        model, _ = project.registry.load(version)
        expected = score(model, model_input(project.config.schema_, frame[FEATURES], record.input_format, "t"),
                         "classification")
        logged = np.array([[p["0"], p["1"]] for p in pairs[column]])
        np.testing.assert_allclose(logged, expected.probabilities, rtol=0, atol=1e-12)
    assert (pairs["prediction"] != pairs["shadow_prediction"]).any(), "the two models should differ somewhere"
    project.close()


def test_shadow_report_compares_on_the_labelled_live_rows(shadowed: Project, car_loan_data) -> None:
    project = shadowed
    frame = car_loan_data.analysis.head(ROWS).merge(car_loan_data.analysis_targets, on="id")
    project.shadow("v2")
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        wait_for(lambda: client.get("/shadow").json()["worker"]["version"] == "v2", "the app did not load the shadow")
        answers = [client.post("/predict", json={"rows": frame[FEATURES].iloc[i:i + 50].to_dict("records")}).json()
                   for i in range(0, ROWS, 50)]
        wait_for(lambda: project.store.count_shadow("v2") == ROWS, "not every row was shadow-scored")
    ids = [p["prediction_id"] for a in answers for p in a["predictions"]]

    waiting = project.shadow_report()
    assert (waiting.verdict, waiting.rows_scored, waiting.rows_labelled) == ("wait", ROWS, 0)
    assert "300 more" in waiting.says  # [policy] min_labels = 300

    labels = frame["repaid"].tolist()
    project.feedback(list(zip(ids, labels, strict=True)))
    report = project.shadow_report()
    assert (report.rows_compared, report.rows_labelled, report.answered_by) == (ROWS, ROWS, {"v1": ROWS})
    pairs = project.store.shadow_pairs("v2")
    champion = pairs["prediction"].tolist()
    shadow = pairs["shadow_prediction"].tolist()
    assert report.agreement == pytest.approx(np.mean([a == b for a, b in zip(champion, shadow, strict=True)]))
    lift, no_regression = report.checks
    assert lift.check == "live_net_value_lift" and no_regression.check == "live_roc_auc_no_regression"
    kpi = project.config.kpi
    assert lift.champion == pytest.approx(np.mean(outcome_values(labels, champion, kpi)), abs=1e-12)
    assert lift.challenger == pytest.approx(np.mean(outcome_values(labels, shadow, kpi)), abs=1e-12)
    assert lift.difference == pytest.approx(lift.challenger - lift.champion, abs=1e-9)
    from sklearn.metrics import roc_auc_score

    auc = {c: roc_auc_score(labels, [p["1"] for p in pairs[c]]) for c in ("probabilities", "shadow_probabilities")}
    assert no_regression.champion == pytest.approx(auc["probabilities"], abs=1e-9)
    assert no_regression.challenger == pytest.approx(auc["shadow_probabilities"], abs=1e-9)
    # v2 (one tiny boosting step) is the weaker model: live traffic says so.
    assert report.verdict == "reject" and not lift.passed
    assert "live_net_value_lift" in report.explain()
    project.close()


def test_shadow_endpoints_guard_and_refuse(shadowed: Project) -> None:
    project = shadowed
    with TestClient(create_app(project), raise_server_exceptions=False) as anonymous:
        assert anonymous.post("/shadow", json={"version": "v2"}).status_code == 401
        assert anonymous.delete("/shadow").status_code == 401
        assert anonymous.get("/shadow").json() == {"shadow": None, "worker": {
            "version": None, "scored": 0, "dropped": 0, "failed": 0, "queued": 0, "missed": 0, "loading": None}}
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        assert client.post("/shadow", json={"version": "../v2"}).status_code == 422
        missing = client.post("/shadow", json={"version": "v9"})
        assert missing.status_code == 404 and "v9" in str(missing.json()["detail"])
        itself = client.post("/shadow", json={"version": "v1"})
        assert itself.status_code == 422 and "champion" in str(itself.json()["detail"])
        none = client.delete("/shadow")
        assert none.status_code == 404 and "leanloop shadow VERSION" in str(none.json()["detail"])
        assert client.post("/shadow", json={"version": "v2"}).status_code == 200
        stopped = client.delete("/shadow").json()
        assert (stopped["kind"], stopped["evidence"]["shadow"]) == ("shadow_stop", "v2")
    assert [e["kind"] for e in project.history()] == ["shadow", "shadow_stop"]
    project.close()


def test_a_tampered_shadow_is_refused_and_serving_goes_on(shadowed: Project) -> None:
    project = shadowed
    artifact = project.paths.workspace / "artifacts" / project.registry.get("v2").artifact
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    project.shadow("v2")
    row = {"car_value": 30000, "salary_range": "20K - 40K €", "debt_to_income_ratio": 0.5, "loan_length": 12,
           "repaid_loan_on_prev_car": True, "size_of_downpayment": "20%", "driver_tenure": 3.2}
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        answers = [client.post("/predict", json={"rows": [row]}) for _ in range(5)]
        time.sleep(0.2)
        assert client.get("/shadow").json()["worker"]["version"] is None
    assert [a.status_code for a in answers] == [200] * 5
    assert project.store.count_shadow("v2") == 0
    project.close()


def test_promoting_the_shadow_ends_shadow_mode_and_the_cli_drives_it(shadowed: Project) -> None:
    root = str(shadowed.paths.root)
    shadowed.close()
    runner = CliRunner()
    started = runner.invoke(cli, ["shadow", "v2", "--dir", root])
    assert started.exit_code == 0 and "v2 scores every request" in started.stdout
    both = runner.invoke(cli, ["shadow", "v2", "--stop", "--dir", root])
    assert both.exit_code == 2 and "--stop" in both.stderr
    status = runner.invoke(cli, ["shadow", "--status", "--json", "--dir", root])
    assert status.exit_code == 0 and '"verdict": "wait"' in status.stdout
    assert runner.invoke(cli, ["promote", "v2", "--dir", root]).exit_code == 0
    project = Project(Path(root))
    assert "shadow" not in project.store.aliases()
    project.close()
    nothing = runner.invoke(cli, ["shadow", "--dir", root])
    assert nothing.exit_code == 2 and "no version is in shadow mode" in nothing.stderr


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_a_real_server_shadows_and_its_shadow_process_dies_with_it(shadowed: Project, car_loan_data,
                                                                   zygote: Zygote) -> None:
    import httpx

    from leanloop.demo import free_port

    rows = car_loan_data.analysis.head(30)[FEATURES].to_dict("records")
    root = shadowed.paths.root
    shadowed.shadow("v2")
    shadowed.close()
    server = zygote.spawn(root, free_port())
    server.wait_ready()
    wait_for(lambda: httpx.get(f"{server.url}/shadow").json()["worker"]["version"] == "v2", "no shadow process",
             seconds=60)
    answered = httpx.post(f"{server.url}/predict", json={"rows": rows[:30]}).json()
    assert answered["model_version"] == "v1"
    project = Project(root)
    wait_for(lambda: project.store.count_shadow("v2") == 30, "the shadow process did not log the rows")
    shadow_processes = children(server.pid)
    assert shadow_processes, "the shadow scores in a child process"
    server.kill()  # SIGKILL: nobody tells the child to stop
    wait_for(lambda: all(gone(pid) for pid in shadow_processes), "the shadow process outlived its server")
    project.close()
