"""Several serving hosts on one PostgreSQL store: two real ``leanloop serve`` processes on
loopback ports, each with a project folder of its own (as on two hosts), under load.

- No shared disk: host B's folder has the config, the data file and the token, none of
  the model files; it fetches every version it serves from the store.
- A promotion made through one server's API (of a version host B never had), and a
  rollback made by the CLI beside the other, are answered by the new version on both
  within 2 s. Alias polling is set to 30 s here, so only the PostgreSQL notification (and
  a fetch on demand) can make that.
- SIGKILL of either server under load: every acknowledged prediction is in the store
  exactly once, with the version that answered it.
- Exactly one server holds the loop lock; when it dies, the survivor takes it, fetches
  the champion's reference and test data for its cycles and runs retention.
- Retention (``[store] retention_days = 1``) is run by the lock holder only: rows logged
  3 days ago are archived to its own archive and deleted. (On SQLite: test_retention.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leanloop.demo import free_port
from leanloop.serve.security import resolve_token
from leanloop.waiting import wait_until
from tests.serve.faults import (
    FEATURES,
    Load,
    Server,
    Zygote,
    check_postgresql,
    configure,
    on_postgresql,
    two_versions,
)
from tests.serve.retention_helpers import OLD_SECONDS, log_rows, retention_lines, wait_for_retention

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

#: The contract: a move of the champion reaches every server within this many seconds.
SWITCH_SECONDS = 2.0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, car_loan_data: Any) -> Path:
    """A small project (v1 champion, v2 registered) whose loop runs but is never due, polling
    the aliases every 30 s and trying the loop lock every 0.2 s."""
    return two_versions(tmp_path_factory.mktemp("hosts") / "base", car_loan_data,
                        serve={"commit_max_wait_ms": 2.0, "model_refresh_seconds": 30.0},
                        loop={"every_rows": 10_000_000, "poll_seconds": 0.2}, store={"retention_days": 1.0})


@pytest.fixture(scope="module")
def rows(car_loan_data: Any) -> list[dict[str, Any]]:
    return car_loan_data.analysis.head(200)[FEATURES].to_dict("records")


@pytest.fixture
def hosts(built: Path, tmp_path: Path, postgresql_url: str, car_loan_data: Any, zygote: Zygote,
          ) -> Iterator[tuple[list[Server], Any]]:
    """Two servers sharing one PostgreSQL database, each with a folder of its own: host A
    the built project, host B its config, data and token only; and that database's store
    (for the checks), holding 40 rows logged 3 days ago."""
    roots = [tmp_path / "host-a", tmp_path / "host-b"]
    shutil.copytree(built, roots[0])
    (roots[1] / ".leanloop").mkdir(parents=True)
    for name in ("leanloop.toml", "loans.csv", ".leanloop/token"):
        shutil.copy2(built / name, roots[1] / name)
    remote = on_postgresql(roots[0], postgresql_url)
    configure(roots[1], store={"url": postgresql_url})
    log_rows(remote, car_loan_data.analysis.head(40)[FEATURES].to_dict("records"), prefix="old",
             at=time.time() - OLD_SECONDS)
    servers: list[Server] = [zygote.spawn(root, free_port(), loop=True) for root in roots]
    try:
        for server in servers:
            server.wait_ready(status=("ready",))
        yield servers, remote
    finally:
        for server in servers:
            if server.alive():
                server.kill()


def status(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/status", timeout=5.0)
    assert response.status_code == 200, response.text
    return dict(response.json())


def lock_holder(servers: list[Server], timeout: float = 30.0) -> Server:
    """The one server whose loop holds the loop lock (waiting for the loops to start);
    never two at once."""
    deadline = time.monotonic() + timeout
    while True:
        holders = [s for s in servers if status(s)["holds_loop_lock"]]
        assert len(holders) <= 1, "two servers hold the loop lock"
        if holders:
            return holders[0]
        assert time.monotonic() < deadline, f"no server took the loop lock: {[s.log()[-2000:] for s in servers]}"
        time.sleep(0.05)


def seconds_until_serving(servers: list[Server], version: str, row: dict[str, Any], began: float) -> float:
    """Seconds from ``began`` until a prediction from every server is answered by ``version``."""
    waiting = list(servers)
    with httpx.Client(timeout=5.0) as client:
        while waiting:
            answered = [s for s in waiting
                        if client.post(f"{s.url}/predict", json={"rows": [row]}).json()["model_version"] == version]
            waiting = [s for s in waiting if s not in answered]
            assert time.monotonic() - began < 10 * SWITCH_SECONDS, f"still not serving {version}"
            time.sleep(0.01)
    return time.monotonic() - began


def loads(servers: list[Server], rows: list[dict[str, Any]], seed: int) -> list[Load]:
    return [Load(s.url, rows, clients=2, seed=seed + i, interval=0.01, max_seconds=60).start()
            for i, s in enumerate(servers)]


def acknowledged(running: list[Load]) -> dict[str, str]:
    return {key: version for load in running for key, version in load.acked.items()}


def test_a_move_on_one_server_reaches_both_within_two_seconds_and_a_killed_standby_loses_nothing(
        hosts: tuple[list[Server], Any], rows: list[dict[str, Any]]) -> None:
    servers, remote = hosts
    # A server answers /health before its listener's connection is up (a move made meanwhile is
    # read when it connects): wait for both, as the 2 s below is the notification's.
    assert wait_until(lambda: all(status(s)["alias_updates"] == "listening" for s in servers), timeout=10.0,
                      interval=0.05)
    artifacts = servers[1].root / ".leanloop" / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == ["v1-baseline.skops", "v1.skops"]  # fetched at start
    holder = lock_holder(servers)
    standby = next(s for s in servers if s is not holder)
    running = loads(servers, rows, seed=1)
    for load in running:
        load.wait_for(20)
    token = resolve_token(servers[0].root / ".leanloop", environ={})
    promoted = httpx.post(f"{servers[0].url}/promote", json={"version": "v2", "reason": "test"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    assert promoted.status_code == 200, promoted.text
    promotion = seconds_until_serving(servers, "v2", rows[0], time.monotonic())
    subprocess.run([sys.executable, "-m", "leanloop.cli", "rollback", "--dir", str(servers[1].root)], check=True,
                   capture_output=True)
    began = time.monotonic()
    rollback = seconds_until_serving(servers, "v1", rows[0], began)
    print(f"\ntwo servers: promotion (API) served by both after {promotion:.3f} s, rollback (CLI) after "
          f"{rollback:.3f} s")
    assert promotion < SWITCH_SECONDS and rollback < SWITCH_SECONDS
    assert all(status(s)["model_version"] == "v1" for s in servers)
    built_v2 = servers[0].root / ".leanloop" / "artifacts" / "v2.skops"
    assert (artifacts / "v2.skops").read_bytes() == built_v2.read_bytes()  # fetched when promoted

    standby.kill()
    survivor_load = running[servers.index(holder)]
    survivor_load.wait_for(len(survivor_load.acked) + 50)
    for load in running:
        load.stop()
    assert set(survivor_load.statuses) == {200}, survivor_load.errors
    assert status(holder)["holds_loop_lock"], "the holder kept the loop lock"
    assert {"v1", "v2"} <= set(acknowledged(running).values())
    assert holder.terminate() == 0
    check_postgresql(remote, acknowledged(running))


def test_sigkill_of_the_loop_holder_hands_the_loop_to_the_survivor_and_loses_nothing(
        hosts: tuple[list[Server], Any], rows: list[dict[str, Any]]) -> None:
    servers, remote = hosts
    holder = lock_holder(servers)
    survivor = next(s for s in servers if s is not holder)
    standing_by = status(survivor)
    assert standing_by["loop_enabled"] and not standing_by["holds_loop_lock"] and not standing_by["runs_loop"]
    retained = wait_for_retention(holder)  # the holder archives, then deletes the old rows
    assert retained["older_rows"] >= 39 and retained["deleted_rows"] == retained["older_rows"]
    assert retained["not_archived_rows"] == 0 and retention_lines(survivor) == []
    running = loads(servers, rows, seed=2)
    for load in running:
        load.wait_for(30)
    data = survivor.root / ".leanloop" / "data"
    shutil.rmtree(data, ignore_errors=True)  # as on a host that never had them (host B has none)
    holder.kill()
    killed = time.monotonic()
    assert lock_holder([survivor], timeout=15.0) is survivor
    handover = time.monotonic() - killed
    assert handover < 5.0, f"the survivor took the loop lock {handover:.1f} s after SIGKILL of its holder"
    taken_over = wait_for_retention(survivor)  # on its own archive: the rows the holder kept, nothing lost
    assert taken_over["exported_rows"] >= 1 and taken_over["not_archived_rows"] == 0
    assert sorted(p.name for p in data.iterdir()) == ["v1-test.parquet", "v1-train.parquet"]
    survivor_load = running[servers.index(survivor)]
    survivor_load.wait_for(len(survivor_load.acked) + 50)
    for load in running:
        load.stop()
    print(f"\nthe loop lock moved to the survivor {handover:.2f} s after SIGKILL of its holder")
    assert set(survivor_load.statuses) == {200}, survivor_load.errors
    assert survivor.terminate() == 0
    check_postgresql(remote, acknowledged(running))


def test_a_host_that_never_built_the_champion_measures_with_its_data_fetched_from_the_store(
        built: Path, tmp_path: Path, postgresql_url: str, car_loan_data: Any) -> None:
    """``leanloop measure`` on host B (config, data file and token only) fetches the champion's
    reference data from the store instead of failing on a missing file."""
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    shutil.copytree(built, host_a)
    (host_b / ".leanloop").mkdir(parents=True)
    for name in ("leanloop.toml", "loans.csv", ".leanloop/token"):
        shutil.copy2(built / name, host_b / name)
    remote = on_postgresql(host_a, postgresql_url)
    configure(host_b, store={"url": postgresql_url})
    log_rows(remote, car_loan_data.analysis.head(300)[FEATURES].to_dict("records"), prefix="b", at=time.time())
    remote.close()
    assert not (host_b / ".leanloop" / "data").exists()
    done = subprocess.run([sys.executable, "-m", "leanloop.cli", "measure", "--last", "300", "--json",
                           "--dir", str(host_b)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["window"]["rows"] == 300
    # the champion's (v1) reference and test data, not v2's
    assert sorted(p.name for p in (host_b / ".leanloop" / "data").iterdir()) == ["v1-test.parquet", "v1-train.parquet"]
