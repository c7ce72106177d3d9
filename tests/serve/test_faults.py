"""Fault tests on a real ``leanloop serve`` subprocess on a loopback port.

The invariant, after every fault: each request answered 2xx with a prediction id is
in the store exactly once (with the version that answered it), and the database is
intact (``PRAGMA integrity_check``; PostgreSQL: the rows are there, no duplicates).

``LEANLOOP_FAULT_RUNS`` sets how many SIGKILL runs the ``slow`` variant makes (100 by
default); the suite's own variant makes 10. Each run kills the server under a steady load
of four clients, so the writer is mid-commit or mid-answer at nearly every kill: a lost
or duplicated record shows in the first few runs, and the long series is there to hunt
the rare interleavings.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leanloop.demo import free_port
from leanloop.project import Project
from leanloop.serve.spool import Spool
from tests.serve.faults import (
    FEATURES,
    Load,
    Server,
    Zygote,
    check_postgresql,
    check_sqlite,
    configure,
    on_postgresql,
    restart_limit,
    spooled_bytes,
    two_versions,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, car_loan_data: Any) -> Path:
    """A small project built once (v1 champion, v2 registered), copied by every test."""
    return two_versions(tmp_path_factory.mktemp("faults") / "base", car_loan_data,
                        serve={"commit_max_wait_ms": 2.0, "model_refresh_seconds": 0.1},
                        store={"spool_retry_seconds": 0.2})


@pytest.fixture(scope="module")
def rows(car_loan_data: Any) -> list[dict[str, Any]]:
    return car_loan_data.analysis.head(200)[FEATURES].to_dict("records")


@pytest.fixture
def project_copy(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built, root)
    return root


def database(root: Path) -> Path:
    return root / ".leanloop" / "store.db"


# --- SIGKILL at random moments under load --------------------------------------------


def kill_runs(start: Callable[[], Server], root: Path, rows: list[dict[str, Any]], runs: int, seed: int, *,
              clients: int = 4, answers: tuple[int, int] = (1, 8)) -> int:
    """Start, load, SIGKILL at a random moment, check, restart ... ``runs`` times; the
    restart after each kill is the next run's start. Returns how many were acknowledged."""
    rng = random.Random(seed)
    acked: dict[str, str] = {}
    server = start()
    server.wait_ready()
    for run in range(runs):
        load = Load(server.url, rows, clients=clients, seed=seed * 1000 + run).start()
        # A random moment under load: after a random number of answers (so the test
        # does not depend on the machine's speed), plus a random fraction of a request.
        load.wait_for(rng.randint(*answers))
        time.sleep(rng.uniform(0.0, 0.05))
        server.kill()
        load.stop()
        acked.update(load.acked)
        check_sqlite(database(root), acked)
        server = start()
        server.wait_ready()
    server.terminate()
    logged = check_sqlite(database(root), acked)
    assert len(acked) > runs, f"too little load got through: {len(acked)} acknowledged"
    assert len(logged) >= len(acked)
    return len(acked)


def test_sigkill_under_load_loses_and_duplicates_nothing(zygote: Zygote, project_copy: Path,
                                                         rows: list[dict[str, Any]]) -> None:
    kill_runs(lambda: zygote.spawn(project_copy, free_port()), project_copy, rows, runs=10, seed=7)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("LEANLOOP_FAULT_RUNS"),
                    reason="set LEANLOOP_FAULT_RUNS=100 to run the long SIGKILL series")
def test_sigkill_series_long(zygote: Zygote, project_copy: Path, rows: list[dict[str, Any]]) -> None:
    kill_runs(lambda: zygote.spawn(project_copy, free_port()), project_copy, rows,
              runs=int(os.environ["LEANLOOP_FAULT_RUNS"]), seed=11)


# --- SIGTERM ---------------------------------------------------------------------------


def test_sigkill_two_workers_under_load_loses_and_duplicates_nothing(project_copy: Path,
                                                                    rows: list[dict[str, Any]]) -> None:
    """Two worker processes commit to one SQLite file, taking turns on its write lock;
    SIGKILLed together under load (one may hold the lock), they lose and duplicate nothing.

    Two kills: each start of two workers is three fresh interpreters (seconds of imports),
    and the restart after the last kill must find the database whole and serve again.
    The single-worker series above makes the many kills at random moments."""
    acked = kill_runs(lambda: Server(project_copy, free_port(), workers=2).start(), project_copy, rows, runs=2,
                      seed=6, clients=6, answers=(20, 60))
    assert acked >= 40


def test_sigterm_drains_then_exits_zero(project_copy: Path, rows: list[dict[str, Any]]) -> None:
    configure(project_copy, serve={"shutdown_drain_seconds": 3.0})
    server = Server(project_copy, free_port()).start()
    server.wait_ready()
    load = Load(server.url, rows, clients=4).start()
    load.wait_for(3)
    assert server.process is not None
    server.process.send_signal(15)
    before = len(load.acked)
    ready = httpx.get(f"{server.url}/ready", timeout=5)
    assert (ready.status_code, ready.json()["status"]) == (503, "stopping")
    load.wait_for(before + 1, timeout=2.5)
    assert len(load.acked) > before  # still serving while the load balancer drains
    assert server.process.wait(timeout=90) == 0  # generous: the suite may share 2 cores with others
    load.stop()
    assert set(load.statuses) <= {200, 503}
    check_sqlite(database(project_copy), load.acked)


# --- kill during spool replay ------------------------------------------------------------


def test_kill_during_spool_replay_then_replay_exactly_once(zygote: Zygote, project_copy: Path) -> None:
    configure(project_copy, serve={"commit_max_rows": 25})
    total = 6000
    crashed = Spool(project_copy / ".leanloop" / "spool")  # what a crashed server left behind
    for start in range(0, total, 100):
        crashed.append([{"prediction_id": f"spooled-{i}", "created_at": float(i), "model_version": "v1",
                         "features": {}, "prediction": 1, "probabilities": {"0": 0.5, "1": 0.5}}
                        for i in range(start, start + 100)])
    crashed.close()

    def replayed() -> int:
        try:
            conn = sqlite3.connect(f"file:{database(project_copy)}?mode=ro", uri=True, timeout=5)
            try:
                query = "SELECT count(*) FROM predictions WHERE prediction_id LIKE 'spooled-%'"
                return conn.execute(query).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return 0

    server = zygote.spawn(project_copy, free_port())
    deadline = time.monotonic() + 60
    while (done := replayed()) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()
    assert 0 < done < total, f"the kill should land mid-replay; {done} of {total} were replayed"
    assert spooled_bytes(project_copy) > 0

    configure(project_copy, serve={"commit_max_rows": 2048})  # replay in large transactions now
    server = Server(project_copy, free_port()).start()  # the real CLI: restart to ready is timed
    limit = restart_limit()
    took = server.wait_ready()  # serving again, degraded while the spool drains
    assert limit is None or took < limit, f"restart to ready took {took:.2f} s (limit {limit:.2f} s)"
    server.wait_ready(status=("ready",))  # ready, not degraded: the spool is drained
    assert server.terminate() == 0
    logged = check_sqlite(database(project_copy), {})
    assert sum(1 for i in logged if i.startswith("spooled-")) == total
    assert spooled_bytes(project_copy) == 0


# --- kill during a model switch ----------------------------------------------------------


def test_kill_during_model_switch_serves_a_complete_model(zygote: Zygote, project_copy: Path,
                                                         rows: list[dict[str, Any]]) -> None:
    rng = random.Random(3)
    acked: dict[str, str] = {}
    for attempt, target in enumerate(["v2", "v1", "v2"]):
        server = zygote.spawn(project_copy, free_port())
        server.wait_ready()
        load = Load(server.url, rows, clients=4, seed=attempt).start()
        load.wait_for(2)
        project = Project(project_copy)
        project.registry.promote(target)
        project.close()
        time.sleep(rng.uniform(0.0, 0.3))
        server.kill()
        load.stop()
        acked.update(load.acked)
        check_sqlite(database(project_copy), acked)
        assert set(load.acked.values()) <= {"v1", "v2"}

        server = zygote.spawn(project_copy, free_port())
        server.wait_ready()
        answer = httpx.post(f"{server.url}/predict", json={"rows": rows[:3]}, timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == target
        acked.update({p["prediction_id"]: target for p in answer.json()["predictions"]})
        assert server.terminate() == 0
    check_sqlite(database(project_copy), acked)


# --- disk full ---------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs the test fills up (needs root, as CI has)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no byte left."""
    with open(path, "wb", buffering=0) as out:
        for size in (1 << 16, 512, 1):
            try:
                while out.write(b"\0" * size):
                    pass
            except OSError:
                pass


def test_disk_full_answers_507_then_recovers(built: Path, small_filesystem: Path, rows: list[dict[str, Any]]) -> None:
    root = small_filesystem / "project"
    shutil.copytree(built, root)
    server = Server(root, free_port()).start()
    server.wait_ready()
    acked: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.post("/predict", json={"rows": rows[:5]})
        assert first.status_code == 200
        acked.update({p["prediction_id"]: "v1" for p in first.json()["predictions"]})
        fill(small_filesystem / "filler")
        full = None
        for _ in range(200):
            answer = client.post("/predict", json={"rows": rows[:100]})
            if answer.status_code == 200:
                acked.update({p["prediction_id"]: "v1" for p in answer.json()["predictions"]})
                continue
            full = answer
            break
        assert full is not None, "the disk never filled up"
        assert full.status_code == 507, full.text
        body = full.json()
        assert body["error"] == "StorageFullError" and "free disk space" in body["detail"][0]
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")

        (small_filesystem / "filler").unlink()
        deadline = time.monotonic() + 10
        while True:
            answer = client.post("/predict", json={"rows": rows[:5]})
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        acked.update({p["prediction_id"]: "v1" for p in answer.json()["predictions"]})
    server.wait_ready(status=("ready",))
    assert server.terminate() == 0
    check_sqlite(database(root), acked)


# --- PostgreSQL stopped under load -------------------------------------------------------


def kill_postgresql(server: Any) -> None:
    """SIGKILL the postmaster and every backend: a crash, not a shutdown (the next start
    runs PostgreSQL's crash recovery)."""
    import psutil

    postmaster = psutil.Process(int((Path(server.datadir) / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.kill()
    psutil.wait_procs(processes, timeout=10)
    # mirakuru still holds the pg_ctl it started and would take the server for running:
    # forget it, so the next start() starts PostgreSQL (crash recovery) instead of returning.
    server._clear_process()


@pytest.mark.postgres
@pytest.mark.parametrize("outage", ["stopped", "killed"])
def test_postgresql_down_under_load_spools_then_drains(zygote: Zygote, project_copy: Path, rows: list[dict[str, Any]],
                                                       postgresql_server: Any, postgresql_url: str,
                                                       outage: str) -> None:
    remote = on_postgresql(project_copy, postgresql_url)
    server = zygote.spawn(project_copy, free_port())
    server.wait_ready(status=("ready",))
    # ~50 requests/s (4 clients, one request each per 80 ms) through the outage and the drain.
    load = Load(server.url, rows, clients=4, interval=0.08, max_seconds=120).start()
    load.wait_for(20)
    began = time.monotonic()
    if outage == "killed":
        kill_postgresql(postgresql_server)
    else:
        postgresql_server.stop()
    try:
        during = len(load.acked)
        load.wait_for(during + 300)  # ~2.5 s of outage: hundreds of records through the spool
        assert len(load.acked) >= during + 300, "predictions should continue through the spool"
        ready = httpx.get(f"{server.url}/ready", timeout=5).json()
        assert ready["status"] == "degraded" and ready["spool_depth"] > 0
        assert ready["spool_bytes"] > 0 and ready["spool_age_seconds"] > 0
        assert spooled_bytes(project_copy) > 0
        depth_at_return = ready["spool_depth"]
    finally:
        postgresql_server.start()
    returned = time.monotonic()
    answered_at_return = len(load.acked)
    # The spool drains while the traffic continues: depth 0 within 30 s of the store's return.
    while (ready := httpx.get(f"{server.url}/ready", timeout=5).json())["status"] != "ready":
        assert time.monotonic() - returned < 30, f"the spool did not drain under load: {ready}"
        time.sleep(0.05)
    drained = time.monotonic() - returned
    answered_while_draining = len(load.acked) - answered_at_return
    load.wait_for(len(load.acked) + 50)
    rate = len(load.acked) / (time.monotonic() - began)  # rows/s; requests carry 1-4 rows
    load.stop()
    server.terminate()
    assert set(load.statuses) == {200}, load.errors
    assert answered_while_draining > 0 or drained < 0.5, "traffic should continue while the spool drains"
    assert spooled_bytes(project_copy) == 0
    log = server.log()
    assert log.count("the store is unavailable") == 1 and log.count("the spool is drained") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    print(f"\nPostgreSQL {outage} under load: {depth_at_return} records spooled, drained in {drained:.2f} s "
          f"with {answered_while_draining} rows answered meanwhile; {rate:.0f} rows/s overall")

    check_postgresql(remote, load.acked)


@pytest.mark.postgres
def test_postgresql_frozen_under_load_never_stalls_an_answer(zygote: Zygote, project_copy: Path,
                                                             rows: list[dict[str, Any]], postgresql_server: Any,
                                                             postgresql_url: str) -> None:
    import psutil

    remote = on_postgresql(project_copy, postgresql_url, commit_timeout_ms=500)
    server = zygote.spawn(project_copy, free_port())
    server.wait_ready(status=("ready",))
    load = Load(server.url, rows, clients=4, interval=0.08, max_seconds=120).start()
    load.wait_for(20)
    postmaster = psutil.Process(int((Path(postgresql_server.datadir) / "postmaster.pid").read_text().split()[0]))
    frozen = [postmaster, *postmaster.children(recursive=True)]
    for process in frozen:
        process.suspend()  # SIGSTOP: the kernel still accepts its TCP, nothing answers
    try:
        during = len(load.acked)
        load.wait_for(during + 300, timeout=20)  # ~2.5 s of freeze, far past the 0.5 s commit timeout
        assert len(load.acked) >= during + 300, "predictions should continue through the spool"
        ready = httpx.get(f"{server.url}/ready", timeout=5).json()
        assert ready["status"] == "degraded" and ready["store"] == "unavailable" and ready["spool_depth"] > 0
        slowest_frozen = load.slowest
    finally:
        for process in frozen:
            process.resume()
    thawed = time.monotonic()
    while (ready := httpx.get(f"{server.url}/ready", timeout=5).json())["status"] != "ready":
        assert time.monotonic() - thawed < 30, f"the spool did not drain after the thaw: {ready}"
        time.sleep(0.05)
    drained = time.monotonic() - thawed
    load.wait_for(len(load.acked) + 50)
    load.stop()
    server.terminate()
    assert set(load.statuses) == {200}, load.errors
    # One commit waits out commit_timeout_ms (0.5 s); nothing waits for the thaw.
    assert slowest_frozen < 3.0, f"a request took {slowest_frozen:.2f} s while PostgreSQL was frozen"
    assert "Traceback" not in server.log()
    check_postgresql(remote, load.acked)
    print(f"\nPostgreSQL frozen under load: slowest answer {slowest_frozen:.2f} s; drained {drained:.2f} s "
          "after the thaw")
