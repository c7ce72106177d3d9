"""Two servers on one PostgreSQL store with DIFFERENT workspace folders (no shared disk):
the model files live in the store and each host fetches what it lacks.

- The second host starts with the config, the data file and the token only, and serves
  the champion built on the first.
- A build on the first host, and a promotion through the second host's API of a version
  it never had, are answered by the new version on both within 2 s (alias polling is
  30 s: only the notification and an on-demand fetch can make that).
- The loop lock holder runs retention (PostgreSQL here; SQLite: test_retention.py): the
  old rows are archived to its own archive and deleted; the other server runs none.
- SIGKILL of the holder: the survivor takes the loop lock, fetches the champion's
  reference and test data for its cycles, and runs retention on its own archive.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leanloop.demo import free_port
from leanloop.project import Project
from leanloop.serve.security import resolve_token
from leanloop.store import SQLStore
from tests.serve.faults import FEATURES, Server, configure
from tests.serve.retention_helpers import OLD_SECONDS, log_rows, retention_lines, wait_for_retention
from tests.serve.test_hosts import SWITCH_SECONDS, lock_holder, seconds_until_serving, status

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def hosts(tmp_path: Path, car_loan_data: Any, postgresql_url: str) -> Iterator[tuple[list[Server], SQLStore]]:
    """Host A: a project built on PostgreSQL (v1 champion, v2 registered) with 40 rows
    logged 3 days ago, and its server, holding the loop lock. Host B: a folder with the
    config, the data and the token only, and its server."""
    a, b = tmp_path / "host-a", tmp_path / "host-b"
    a.mkdir()
    data = a / "loans.csv"
    car_loan_data.reference.head(1200).to_csv(data, index=False)
    Project.init(data, target="repaid", id_column="id", time_column="timestamp", root=a).close()
    configure(a, model={"max_iter": 10}, store={"url": postgresql_url, "retention_days": 1.0},
              serve={"commit_max_wait_ms": 2.0, "model_refresh_seconds": 30.0},
              loop={"every_rows": 10_000_000, "poll_seconds": 0.2})
    project = Project(a)
    project.build()
    project.build()
    project.registry.promote("v1")
    log_rows(project.store, car_loan_data.analysis.head(40)[FEATURES].to_dict("records"), prefix="old",
             at=time.time() - OLD_SECONDS)
    project.close()
    (b / ".leanloop").mkdir(parents=True)
    for name in ("leanloop.toml", "loans.csv", ".leanloop/token"):
        shutil.copy2(a / name, b / name)
    store = SQLStore(postgresql_url)
    servers = [Server(a, free_port(), loop=True).start()]
    try:
        servers[0].wait_ready(status=("ready",))
        lock_holder(servers[:1])  # A leads: B must take over later
        servers.append(Server(b, free_port(), loop=True).start())
        servers[1].wait_ready(status=("ready",))
        yield servers, store
    finally:
        for server in servers:
            if server.alive():
                server.kill()
        store.close()


def test_hosts_without_a_shared_disk_serve_each_others_versions_and_hand_the_loop_over(
        hosts: tuple[list[Server], SQLStore], car_loan_data: Any) -> None:
    (a, b), store = hosts
    row = car_loan_data.analysis.head(1)[FEATURES].to_dict("records")[0]
    assert status(b)["model_version"] == "v1" and status(b)["alias_updates"] == "listening"
    assert sorted(p.name for p in (b.root / ".leanloop" / "artifacts").iterdir()) == ["v1-baseline.skops", "v1.skops"]

    first = wait_for_retention(a)  # the loop holder archives, then deletes
    assert (first["exported_rows"], first["deleted_rows"], first["not_archived_rows"]) == (40, 39, 0)
    assert len(store.window()) == 1  # the newest row is kept (see leanloop.archive.retention)

    project = Project(a.root)
    try:
        project.build()  # v3, made champion on host A
    finally:
        project.close()
    built = seconds_until_serving([a, b], "v3", row, time.monotonic())
    token = resolve_token(b.root / ".leanloop", environ={})
    began = time.monotonic()
    promoted = httpx.post(f"{b.url}/promote", json={"version": "v2", "reason": "test"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    assert promoted.status_code == 200, promoted.text
    promotion = seconds_until_serving([a, b], "v2", row, began)
    print(f"\nseparate workspaces: a build on A served by both {built:.3f} s after it committed, a promotion "
          f"on B (of a version B never had) after {promotion:.3f} s")
    assert built < SWITCH_SECONDS and promotion < SWITCH_SECONDS
    assert retention_lines(b) == [], "only the loop lock holder runs retention"

    a.kill()
    assert lock_holder([b], timeout=15.0) is b
    taken_over = wait_for_retention(b)  # its own archive: the row A kept, and nothing else to delete
    assert taken_over["exported_rows"] >= 1 and taken_over["not_archived_rows"] == 0
    data = b.root / ".leanloop" / "data"
    deadline = time.monotonic() + 30.0
    while not (data / "v2-train.parquet").is_file():
        assert time.monotonic() < deadline, f"the survivor did not fetch v2's data: {b.log()[-2000:]}"
        time.sleep(0.1)
    assert (data / "v2-train.parquet").read_bytes() == (a.root / ".leanloop" / "data" / "v2-train.parquet").read_bytes()
    assert httpx.post(f"{b.url}/predict", json={"rows": [row]}, timeout=5.0).json()["model_version"] == "v2"
    assert b.terminate() == 0
