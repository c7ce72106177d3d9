"""Shadow mode misses nothing silently: rows sent while the shadow process starts are
scored late (or counted as missed when it never loads), counts are per version, and
each promotion, rollback, shadow start and stop is one JSON line in the server log."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leanloop.cli import app as cli
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.metrics import JsonLogFormatter
from leanloop.serve.security import bearer

from .faults import FEATURES
from .test_shadow import built, wait_for, with_model  # noqa: F401 (the module's fixture, reused)

ROWS = 60


@pytest.fixture
def three(built: Path, tmp_path: Path) -> Project:  # noqa: F811
    """A copy of the shadow project with a third version, v3; v1 stays champion."""
    root = tmp_path / "p"
    shutil.copytree(built, root)
    shutil.copy(built.parent / "loans.csv", tmp_path / "loans.csv")  # the training data, for the build
    project = with_model(Project(root), max_iter=2, learning_rate=0.05)
    project.build()
    project.registry.promote("v1")
    return project


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The server log's event lines, as the JSON formatter of ``leanloop serve`` writes them."""
    formatter = JsonLogFormatter()
    found = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "leanloop.server"]
    return [line for line in found if line.get("event") in ("promotion", "rollback", "shadow_start", "shadow_stop")]


def loading(client: TestClient, version: str) -> dict[str, object]:
    """The worker's shadow figures once its process for ``version`` is starting (not loaded yet)."""
    wait_for(lambda: client.get("/shadow").json()["worker"]["loading"] == version, f"{version} did not start")
    worker: dict[str, object] = client.get("/shadow").json()["worker"]
    return worker


def test_rows_sent_while_the_shadow_loads_are_scored_late_and_counted_per_version(
        three: Project, car_loan_data, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leanloop.server")
    project = three
    rows = car_loan_data.analysis.head(ROWS)[FEATURES].to_dict("records")
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        assert client.post("/shadow", json={"version": "v2"}).status_code == 200
        loading(client, "v2")  # the worker started its shadow process; rows follow at once
        assert client.post("/predict", json={"rows": rows}).status_code == 200
        wait_for(lambda: project.store.count_shadow("v2") == ROWS, "rows sent while v2 loaded were not scored")
        # the shadow process writes its rows, then counts them: wait for the count too
        wait_for(lambda: client.get("/shadow").json()["worker"]["scored"] == ROWS, "v2's rows were not counted")
        worker = client.get("/shadow").json()["worker"]
        assert (worker["version"], worker["scored"], worker["dropped"], worker["missed"]) == ("v2", ROWS, 0, 0)

        assert client.post("/shadow", json={"version": "v3"}).status_code == 200
        fresh = loading(client, "v3")
        assert (fresh["scored"], fresh["dropped"]) == (0, 0)  # never v2's count
        assert client.post("/predict", json={"rows": rows[:10]}).status_code == 200
        wait_for(lambda: project.store.count_shadow("v3") == 10, "v3 did not score")
        wait_for(lambda: client.get("/shadow").json()["worker"]["scored"] == 10, "v3's rows were not counted")
        metrics = client.get("/metrics").text
        assert f'leanloop_shadow_rows_total{{outcome="scored",version="v2"}} {float(ROWS)}' in metrics
        assert 'leanloop_shadow_rows_total{outcome="scored",version="v3"} 10.0' in metrics

        assert client.delete("/shadow").status_code == 200
        assert client.post("/promote", json={"version": "v3", "reason": "won live"}).status_code == 200
        assert client.post("/rollback", json={"reason": "second thoughts"}).status_code == 200
        wait_for(lambda: len(events(caplog)) == 5, "the server log lacks an event line", seconds=10)
        runner = CliRunner()  # a promotion made beside the server, as another process would
        assert runner.invoke(cli, ["promote", "v2", "--dir", str(project.paths.root)]).exit_code == 0
        wait_for(lambda: len(events(caplog)) == 6, "a promotion made outside the server was not logged", seconds=10)
    lines = events(caplog)
    assert [(e["event"], e.get("shadow"), e["champion_after"]) for e in lines] == [
        ("shadow_start", "v2", "v1"), ("shadow_start", "v3", "v1"), ("shadow_stop", "v3", "v1"),
        ("promotion", None, "v3"), ("rollback", None, "v1"), ("promotion", None, "v2")]
    assert lines[3]["reason"] == "won live" and len({e["ledger_entry"] for e in lines}) == 6  # one line per event
    project.close()


def test_rows_for_a_shadow_that_never_loads_are_counted_as_missed(three: Project, car_loan_data) -> None:
    project = three
    artifact = project.paths.workspace / "artifacts" / project.registry.get("v2").artifact
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    rows = car_loan_data.analysis.head(ROWS)[FEATURES].to_dict("records")
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        assert client.post("/shadow", json={"version": "v2"}).status_code == 200
        loading(client, "v2")
        assert client.post("/predict", json={"rows": rows}).status_code == 200  # served, whatever the shadow does
        missed = f'leanloop_shadow_rows_total{{outcome="missed",version="v2"}} {float(ROWS)}'
        wait_for(lambda: missed in client.get("/metrics").text, "rows v2 never scored were not counted as missed")
        assert client.get("/shadow").json()["worker"]["loading"] is None
    assert project.store.count_shadow("v2") == 0
    project.close()
