"""The loop runs itself: [loop] settings, the cycle lock, crash safety, alerts, the
server's own cycles (issue 13)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leanloop.alerts import Notifier
from leanloop.config import KpiConfig, load_config, render_config
from leanloop.demo import DEMO_KPI, free_port
from leanloop.errors import ProjectError
from leanloop.leader import FileCycleLock
from leanloop.learn import ledger
from leanloop.project import Project
from leanloop.schedule import Schedule, Trigger
from leanloop.serve import create_app
from leanloop.serve.loop_runner import LoopRunner
from leanloop.serve.security import bearer
from tests.serve.faults import Zygote

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def make_project(tmp_path: Path, csv: Path, *, loop: dict[str, Any] | None = None, sensitive: bool = True,
                 window_rows: int = 5000, weak: int = 0, store_url: str | None = None) -> Project:
    """A project on ``csv`` (``weak``: its first champion trained with that many boosting
    rounds only, so a challenger trained after the shift, with 50, should beat it)."""
    root = tmp_path / "p"
    created = Project.init(csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    c = created.config
    drops = {"max_kpi_drop": 0.0, "max_metric_drop": 0.0} if sensitive else {}
    config = c.model_copy(update={
        "kpi": c.kpi if sensitive else KpiConfig.model_validate(DEMO_KPI),
        "policy": c.policy.model_copy(update={"min_rows": 500, "min_labels": 300, **drops}),
        "model": c.model.model_copy(update={"max_iter": 50}),
        "measure": c.measure.model_copy(update={"window_rows": window_rows}),
        "loop": c.loop.model_copy(update=loop or {}),
        "store": c.store.model_copy(update={"url": store_url}),
    })
    model = config.model
    created.paths.config.write_text(render_config(config.model_copy(update={
        "model": model.model_copy(update={"max_iter": weak or model.max_iter})})), encoding="utf-8")
    created.close()
    with Project(root) as first:
        first.build()
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    return Project(root)


@pytest.fixture
def project(tmp_path: Path, car_loan_csv: Path) -> Iterator[Project]:
    created = make_project(tmp_path, car_loan_csv, weak=2)
    yield created
    created.close()


def feed(client: Any, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Predict ``frame``'s rows and send their labels, through the HTTP API."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(frame), 500):
        part = frame.iloc[start:start + 500]
        body = client.post("/predict", json={"rows": part[FEATURES].to_dict("records")}).json()
        answers += body["predictions"]
    labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
              for a, y in zip(answers, frame["repaid"], strict=True)]
    assert client.post("/feedback", json={"feedback": labels}).status_code == 200
    return answers


def serve_and_label(project: Project, frame: pd.DataFrame) -> None:
    with TestClient(create_app(project), headers=bearer(project)) as client:
        feed(client, frame)


# --- [loop] settings ----------------------------------------------------------------

@pytest.mark.parametrize(("line", "key"), [
    ("every_rows = -5", "loop.every_rows"),
    ('every = "often"', "loop.every"),
    ('webhook_url = "ftp://example.com/hook"', "loop.webhook_url"),
])
def test_a_wrong_loop_value_stops_serve_naming_the_key(project: Project, line: str, key: str) -> None:
    path = project.paths.config
    text = path.read_text(encoding="utf-8")
    assert "\n[loop]\n" in text
    path.write_text(text.replace("\n[loop]\n", f"\n[loop]\n{line}\n"), encoding="utf-8")
    with pytest.raises(ProjectError, match=key.replace(".", r"\.")):
        load_config(project.paths.root)
    done = subprocess.run([sys.executable, "-m", "leanloop.cli", "serve", "--port", str(free_port()),
                           "--dir", str(project.paths.root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and key in done.stderr


def test_loop_defaults_to_the_window_and_can_be_off(project: Project) -> None:
    config = project.config
    assert config.loop.schedule(window_rows=config.measure.window_rows) == Schedule(every_rows=5000)
    off = config.loop.model_copy(update={"every_rows": 0}).schedule(window_rows=5000)
    assert not off.enabled


# --- the cycle lock ----------------------------------------------------------------

def test_a_manual_cycle_waits_for_the_lock_and_says_so(project: Project, analysis_with_truth: pd.DataFrame) -> None:
    serve_and_label(project, analysis_with_truth.iloc[:600])
    held = FileCycleLock(project.paths.database)
    assert held.acquire()
    try:
        process = subprocess.Popen([sys.executable, "-m", "leanloop.cli", "cycle", "--dry-run", "--json",
                                    "--dir", str(project.paths.root)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "another cycle is running" in line and "waiting" in line
        time.sleep(0.5)
        assert process.poll() is None  # still waiting
    finally:
        held.close()
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert json.loads(out)["trigger"] == "manual"
    # The unattended loop does not wait: it skips its turn while the lock is held.
    held = FileCycleLock(project.paths.database)
    held.acquire()
    try:
        runner = LoopRunner(project.workspace, Schedule(every_rows=1))
        serve_and_label(project, analysis_with_truth.iloc[600:700])
        assert runner.tick() is None
    finally:
        held.close()
    cycle = LoopRunner(project.workspace, Schedule(every_rows=1)).tick()
    assert cycle is not None and cycle.trigger is Trigger.ROWS and cycle.logged_rows == 700


@pytest.mark.postgres
def test_servers_sharing_postgresql_run_one_cycle_at_a_time(tmp_path: Path, car_loan_csv: Path, postgresql_url: str,
                                                            analysis_with_truth: pd.DataFrame) -> None:
    from leanloop.leader import AdvisoryCycleLock
    from leanloop.loop import run_cycle

    project = make_project(tmp_path, car_loan_csv, store_url=postgresql_url)
    try:
        serve_and_label(project, analysis_with_truth.iloc[:600])
        other = AdvisoryCycleLock(project.store.engine)  # another server's cycle, on its own connection
        assert other.acquire()
        runner = LoopRunner(project.workspace, Schedule(every_rows=500))
        assert runner.tick() is None  # skips its turn
        waited = threading.Event()
        done: list[Any] = []
        manual = threading.Thread(target=lambda: done.append(run_cycle(project.workspace, act=False,
                                                                         on_wait=waited.set)))
        manual.start()
        assert waited.wait(30)
        time.sleep(0.5)
        assert not done  # still waiting for the lock
        other.close()  # the holder goes away: the lock is handed over
        manual.join(120)
        assert done and done[0].trigger is Trigger.MANUAL
        # The manual cycle started after the 600 rows: nothing new, so the loop has nothing due.
        assert runner.tick() is None
        serve_and_label(project, analysis_with_truth.iloc[600:1200])
        cycle = runner.tick()
        assert cycle is not None and cycle.trigger is Trigger.ROWS and cycle.logged_rows == 1200
    finally:
        project.close()


# --- SIGKILL mid-cycle, at each stage ------------------------------------------------

KILL_AT_STAGE = """
import os, signal, sys, threading
from leanloop.loop import run_cycle
from leanloop.workspace import Workspace

target, delay = sys.argv[2], float(sys.argv[3])

def on_stage(stage):
    if stage == target:
        if delay:
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
        else:
            os.kill(os.getpid(), signal.SIGKILL)

run_cycle(Workspace.open(sys.argv[1]), last=3000, on_stage=on_stage)
"""


def assert_registry_whole(project: Project) -> None:
    """Every registered version loads (files present, hashes right); every alias names one."""
    registry = project.registry
    names = {v.version for v in registry.versions()}
    for name in names:
        registry.load(name)
    assert set(project.store.aliases().values()) <= names


@pytest.mark.parametrize(("stage", "delay"), [("measuring", 0.2), ("training", 0.3), ("comparing", 0.0),
                                              ("promoting", 0.0)])
def test_sigkill_mid_cycle_leaves_no_half_state(project: Project, analysis_with_truth: pd.DataFrame, stage: str,
                                                delay: float) -> None:
    serve_and_label(project, analysis_with_truth.iloc[30000:33000])
    killed = subprocess.run([sys.executable, "-c", KILL_AT_STAGE, str(project.paths.root), stage, str(delay)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [body["running"]["stage"] for body in ledger.running(project.store)] == [stage]
    assert ledger.cycles(project.store) == []  # nothing finished until the next holder of the lock looks
    assert_registry_whole(project)
    assert project.store.aliases()["champion"] == "v1"
    # The next cycle takes the lock (the kernel released the dead holder's), records the
    # dead one as interrupted, and runs normally.
    after = project.cycle(last=3000)
    assert after.error is None and after.trigger is Trigger.MANUAL
    cycles = ledger.cycles(project.store)
    interrupted = [c for c in cycles if c.interrupted]
    assert len(interrupted) == 1 and interrupted[0].stage == stage and cycles[-1] == after
    assert interrupted[0].cycle < after.cycle and "stopped during " + stage in (interrupted[0].error or "")
    if stage != "measuring":
        assert interrupted[0].decision.action.value == "retrain" and interrupted[0].measurement
    if stage in ("measuring", "training"):  # killed before a challenger was whole: none is recorded
        assert interrupted[0].challenger is None and not interrupted[0].promoted
    assert not ledger.running(project.store)
    assert_registry_whole(project)
    assert project.registry.champion().version == after.champion_after


# --- a cycle that raises, and alerts ---------------------------------------------------

class Receiver:
    """A real webhook receiver on a loopback port: answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("webhook", ["down", "slow", "500"])
def test_a_failing_cycle_is_recorded_alerted_and_the_next_one_runs(
        project: Project, analysis_with_truth: pd.DataFrame, webhook: str) -> None:
    receiver = None if webhook == "down" else Receiver(status=500 if webhook == "500" else 200,
                                                          delay=5.0 if webhook == "slow" else 0.0)
    url = receiver.url if receiver else f"http://127.0.0.1:{free_port()}/hook"
    serve_and_label(project, analysis_with_truth.iloc[30000:32000])
    # A corrupt training file (the champion's training split, the reference measuring reads).
    train_data = project.paths.datasets / project.registry.champion().train_data
    good = train_data.read_bytes()
    train_data.write_bytes(b"not parquet at all")
    events: list[dict[str, Any]] = []
    notifier = Notifier(url, attempts=2, backoff=0.05, timeout=1.0)
    runner = LoopRunner(project.workspace, Schedule(every_rows=1000), notifier=notifier, on_event=events.append)
    try:
        started = time.monotonic()
        failed = runner.tick()
        assert time.monotonic() - started < 60
        assert failed is not None and "Parquet" in (failed.error or "") and failed.stage == "measuring"
        assert failed.trigger is Trigger.ROWS and failed.decision.action.value == "wait"
        assert [r.rule for r in failed.decision.reasons if r.fired] == ["failed"] and not failed.interrupted
        assert project.registry.champion().version == "v1"
        assert [v.version for v in project.registry.versions()] == ["v1"]
        # Posting never held the loop up: the cycle returned before the alert's outcome.
        assert runner.tick() is None  # nothing new to measure: not due
        wait_for(lambda: any(e["event"] == "alert" for e in events))
        outcome = next(e for e in events if e["event"] == "alert")
        assert outcome["delivered"] is False and outcome["cycle"] == failed.cycle
        if receiver is not None:
            assert receiver.bodies[0]["cycle"] == failed.cycle and receiver.bodies[0]["error"] == failed.error
            assert receiver.bodies[0]["champion_before"] == receiver.bodies[0]["champion_after"] == "v1"
            assert receiver.bodies[0]["report"] == f"/ui/cycles/{failed.cycle}"  # its page on the dashboard
        recorded = ledger.entry(project.store, failed.cycle)
        assert recorded.alert is not None and recorded.alert["delivered"] is False  # type: ignore[union-attr]
        # The next cycle is tried on schedule, and runs once the file is repaired.
        train_data.write_bytes(good)
        serve_and_label(project, analysis_with_truth.iloc[32000:33000])
        following = runner.tick()
        assert following is not None and following.error is None and following.cycle > failed.cycle
    finally:
        notifier.close(timeout=0.1)
        if receiver is not None:
            receiver.close()


def test_failed_alerts_are_counted_in_metrics(project: Project) -> None:
    with TestClient(create_app(project)) as client:
        client.app.state.runtime._loop_event({"event": "alert", "delivered": False})  # type: ignore[attr-defined]
        client.app.state.runtime._loop_event({"event": "alert", "delivered": True})  # type: ignore[attr-defined]
        assert "leanloop_alert_failures_total 1.0" in client.get("/metrics").text
        body = client.get("/loop").json()
    assert body["enabled"] and body["every_rows"] == 5000 and body["runs_here"] is False
    assert body["rows_since"] == 0 and body["last"] is None and body["running"] is None


# --- the unattended scenario -------------------------------------------------------------

def test_the_server_runs_cycles_by_itself_and_promotes_after_a_shift(
        tmp_path: Path, car_loan_csv: Path, analysis_with_truth: pd.DataFrame, zygote: Zygote) -> None:
    receiver = Receiver(status=500)
    project = make_project(tmp_path, car_loan_csv, window_rows=3000, weak=2,
                           loop={"every_rows": 3000, "webhook_url": receiver.url, "poll_seconds": 0.2})
    root = project.paths.root
    project.close()
    try:
        with zygote.serving(root, loop=True) as url, httpx.Client(base_url=url, headers=bearer(project),
                                                                  timeout=30) as client:
            assert client.get("/loop").json()["runs_here"] is True
            feed(client, analysis_with_truth.iloc[30000:33000])  # after the shift; nobody calls cycle
            wait_for(lambda: (client.get("/loop").json()["last"] or {}).get("cycle") is not None, timeout=240)
            status = client.get("/loop").json()
            assert status["last"]["trigger"] == "rows" and status["rows_since"] == 0
            with Project(root) as reader:
                cycle = ledger.cycles(reader.store)[-1]
            assert cycle.trigger is Trigger.ROWS and cycle.decision.action.value == "retrain"
            assert cycle.challenger == "v2" and cycle.durations["total"] > 0
            if cycle.promoted:
                wait_for(lambda: client.get("/health").json()["model_version"] == "v2")
                rows = analysis_with_truth.iloc[:5][FEATURES].to_dict("records")
                assert client.post("/predict", json={"rows": rows}).json()["model_version"] == "v2"
            # The alert went out, the receiver said 500, the server counted the failure.
            wait_for(lambda: "leanloop_alert_failures_total 1.0" in client.get("/metrics").text, timeout=60)
            assert receiver.bodies and receiver.bodies[0]["cycle"] == cycle.cycle
            assert cycle.promoted, "the challenger trained after the shift should have been promoted"
    finally:
        receiver.close()


def test_the_loop_process_runs_at_the_lowest_priority_and_comes_back(project: Project) -> None:
    from leanloop.serve.loop_runner import LoopProcess

    loop = LoopProcess(project.paths.root, restart_seconds=0.2)
    loop.start()
    try:
        wait_for(lambda: loop.pid is not None)
        first = loop.pid
        assert first is not None
        wait_for(lambda: int(Path(f"/proc/{first}/stat").read_text().rsplit(")", 1)[1].split()[16]) == 19)
        assert os.getsid(first) == first  # a session (and scheduling group) of its own
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: loop.pid not in (None, first))
    finally:
        loop.stop()
    assert not loop.alive


def test_a_loop_process_whose_server_died_while_it_started_exits_at_once(tmp_path: Path) -> None:
    """Its server (the pid it was given) is not its parent any more: it was left to init
    before it could ask for the parent-death signal, and must not run cycles for good."""
    done = subprocess.run([sys.executable, "-m", "leanloop.serve.loop_runner", str(tmp_path), "999999999"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "")
