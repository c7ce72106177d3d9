"""The spool drains under load, a store that cannot commit in time never stalls an
answer, the spool is bounded, and the log says each change of state once.

SQLite runs everywhere; the PostgreSQL variants hold a lock from another connection
and freeze the server's processes (SIGSTOP), on the session's real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leanloop.serve.logger import PredictionLogger, Spool, SpoolFull
from leanloop.store import SQLStore
from leanloop.store.write_lock import WriteLock


def record(i: int) -> dict[str, Any]:
    return {"prediction_id": f"p{i:08d}", "created_at": 1_700_000_000.0 + i, "model_version": "v1",
            "features": {"x": i}, "prediction": 1, "probabilities": None}


def take_away(database: Path, away: Path, store: SQLStore) -> None:
    """Make ``store``'s SQLite file unreachable: moved to ``away``, a folder in its place.

    Done while holding the file's writer lock (the one a second server process would
    wait on), so no commit opens a connection mid-swap: one opened after the pool was
    emptied but before the rename would be pooled with the moved file still open, and
    every later commit would quietly succeed in it (the outage once did not take under
    load). With the lock held, every connection is in the pool, ``dispose`` closes them
    (SQLite folds the WAL into the file, which must happen before the file is moved),
    and any connection opened after the lock is released finds the folder and fails.
    """
    lock = WriteLock(database)
    try:
        with lock:
            store.engine.dispose()
            database.rename(away)
            database.mkdir()
    finally:
        lock.close()


class Outage:
    """A SQLite store made unreachable (its file replaced by a folder) and brought back."""

    def __init__(self, tmp_path: Path) -> None:
        self.path, self.away = tmp_path / "s.db", tmp_path / "away.db"
        self.store = SQLStore(f"sqlite:///{self.path}")

    def begin(self) -> None:
        take_away(self.path, self.away, self.store)

    def end(self) -> None:
        self.path.rmdir()
        self.away.rename(self.path)
        self.store.engine.dispose()


class Traffic:
    """One asyncio loop in a thread logging groups of ``rows`` records every ``interval`` s."""

    def __init__(self, logger: PredictionLogger, interval: float = 0.01, rows: int = 3) -> None:
        self.logger, self.interval, self.rows = logger, interval, rows
        self.acked: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            group = [record(i + k) for k in range(self.rows)]
            i += self.rows
            try:
                await self.logger.log(group)
                self.acked += [r["prediction_id"] for r in group]
            except Exception as exc:  # counted: the test asserts there were none
                self.errors.append(exc)
            await asyncio.sleep(self.interval)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.acked) >= count, f"only {len(self.acked)} records acknowledged"


def logged_ids(store: SQLStore) -> list[str]:
    with store.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT prediction_id FROM predictions")]


def wait_until(condition: Any, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - began


def test_the_spool_drains_while_records_keep_arriving(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage(tmp_path)
    logger = PredictionLogger(outage.store, Spool(tmp_path / "spool"), retry_seconds=0.05, commit_timeout_ms=500)
    logger.start()
    caplog.set_level(logging.INFO, logger="leanloop.serve")
    try:
        with Traffic(logger, interval=0.005) as traffic:
            traffic.wait_for(30)
            outage.begin()
            # The outage has taken (a commit failed and its records were spooled) before
            # more traffic is counted, whatever the machine's speed.
            wait_until(lambda: logger.stats().store_down and logger.stats().rows_spooled > 0, 15,
                       "the store outage was not noticed")
            traffic.wait_for(len(traffic.acked) + 600)
            stats = logger.stats()
            assert stats.degraded and stats.store_down and stats.spool_depth > 0
            assert stats.spool_bytes > 0 and stats.spool_age_seconds > 0
            outage.end()
            # Drained while traffic continues: the depth returns to 0 with records still arriving.
            drained = wait_until(lambda: logger.stats().spool_depth == 0 and not logger.stats().degraded, 15,
                                 "the spool did not drain under load")
            during = len(traffic.acked)
            traffic.wait_for(during + 30)
        assert not traffic.errors
    finally:
        logger.stop()
    ids = logged_ids(outage.store)
    assert len(ids) == len(set(ids)), "a record was logged twice"
    assert set(traffic.acked) <= set(ids), "an acknowledged record is missing from the store"
    assert logger.stats().rows_replayed > 0 and drained < 15
    # One line per change of state, never a traceback per retry.
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("the store is unavailable" in line for line in lines) == 1, lines
    assert sum("draining" in line for line in lines) == 1, lines
    assert sum("the spool is drained" in line for line in lines) == 1, lines
    assert not any(r.exc_info for r in caplog.records)
    outage.store.close()


def test_beyond_spool_max_bytes_new_requests_are_refused_with_retry_after(tmp_path: Path) -> None:
    outage = Outage(tmp_path)
    logger = PredictionLogger(outage.store, Spool(tmp_path / "spool"), retry_seconds=2.0, spool_max_bytes=1 << 16)
    logger.start()
    try:
        outage.begin()
        logger.check_room()  # empty spool: room
        big = [dict(record(i), features={"text": "x" * 1000}) for i in range(80)]
        asyncio.run(logger.log(big))  # ~80 KB spooled
        with pytest.raises(SpoolFull, match="spool_max_bytes = 65536") as caught:
            logger.check_room()
        assert caught.value.http_status == 503 and caught.value.retry_after == 2
        outage.end()
        wait_until(lambda: logger.stats().spool_depth == 0, 10, "the spool did not drain")
        logger.check_room()
    finally:
        logger.stop()
    assert len(logged_ids(outage.store)) == 80
    outage.store.close()


def test_a_sqlite_write_lock_held_elsewhere_sends_the_group_to_the_spool_in_time(tmp_path: Path) -> None:
    import sqlite3

    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    logger = PredictionLogger(store, Spool(tmp_path / "spool"), retry_seconds=0.1, commit_timeout_ms=200)
    logger.start()
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
        began = time.monotonic()
        asyncio.run(logger.log([record(1)]))
        took = time.monotonic() - began
        assert took < 1.5, f"a held SQLite lock stalled the answer {took:.2f} s (busy timeout 30 s otherwise)"
        assert logger.stats().store_down and logger.stats().spool_depth == 1
        other.execute("ROLLBACK")
        wait_until(lambda: not logger.stats().degraded, 10, "the spool did not drain after the lock")
    finally:
        other.close()
        logger.stop()
    assert logged_ids(store) == ["p00000001"]
    store.close()


# --- PostgreSQL: a lock held by another connection; the server's processes frozen ------


@pytest.fixture
def pg_store(postgresql_url: str) -> Iterator[SQLStore]:
    store = SQLStore(postgresql_url)
    yield store
    store.close()


@pytest.mark.postgres
def test_a_lock_held_elsewhere_sends_the_group_to_the_spool_in_time(tmp_path: Path, pg_store: SQLStore) -> None:
    logger = PredictionLogger(pg_store, Spool(tmp_path / "spool"), retry_seconds=0.1, commit_timeout_ms=300)
    logger.start()
    holder = pg_store.engine.connect()
    try:
        transaction = holder.begin()
        holder.exec_driver_sql("LOCK TABLE predictions IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        asyncio.run(logger.log([record(1)]))
        took = time.monotonic() - began
        stats = logger.stats()
        assert took < 1.5, f"a held lock stalled the answer {took:.2f} s"
        assert stats.store_down and stats.degraded and stats.spool_depth == 1
        asyncio.run(logger.log([record(2)]))  # spooled at once, behind the first
        transaction.rollback()
        wait_until(lambda: not logger.stats().degraded, 10, "the spool did not drain after the lock")
    finally:
        holder.close()
        logger.stop()
    assert sorted(logged_ids(pg_store)) == ["p00000001", "p00000002"]


def postgres_processes(server: Any) -> list[Any]:
    import psutil

    pid = int((Path(server.datadir) / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


@pytest.mark.postgres
def test_a_frozen_postgresql_never_stalls_an_answer(tmp_path: Path, pg_store: SQLStore, postgresql_server: Any) -> None:
    logger = PredictionLogger(pg_store, Spool(tmp_path / "spool"), retry_seconds=0.1, commit_timeout_ms=300)
    logger.start()
    asyncio.run(logger.log([record(0)]))  # a pooled connection, warm
    frozen = postgres_processes(postgresql_server)
    for process in frozen:
        os.kill(process.pid, signal.SIGSTOP)
    try:
        waits = []
        for i in range(1, 6):
            began = time.monotonic()
            asyncio.run(logger.log([record(i)]))
            waits.append(time.monotonic() - began)
        stats = logger.stats()
        assert stats.store_down and stats.degraded and stats.spool_depth == 5 and stats.commit_timeouts == 1
        # The first commit waits its timeout; the others go to the spool at once.
        assert waits[0] < 1.5 and max(waits[1:]) < 0.2, waits
    finally:
        for process in frozen:
            os.kill(process.pid, signal.SIGCONT)
    try:
        wait_until(lambda: not logger.stats().degraded, 20, "the spool did not drain after the thaw")
    finally:
        logger.stop()
    assert sorted(logged_ids(pg_store)) == [f"p{i:08d}" for i in range(6)]


# --- through HTTP: /ready, /metrics and the 503 of a full spool ------------------------------


def test_a_full_spool_answers_503_with_retry_after_and_ready_shows_its_size_and_age(
        tmp_path: Path, car_loan_data: Any) -> None:
    from fastapi.testclient import TestClient

    from leanloop.serve import create_app
    from tests.serve.conftest import ROW, small_project

    project = small_project(tmp_path, car_loan_data, spool_max_bytes=1 << 16)
    database = project.paths.root / ".leanloop" / "store.db"
    acked: list[str] = []
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        client.post("/predict", json={"rows": [ROW]})
        take_away(database, tmp_path / "away.db", project.store)
        statuses = []
        for _ in range(20):
            response = client.post("/predict", json={"rows": [ROW] * 100})
            statuses.append(response.status_code)
            if response.status_code == 200:
                acked += [p["prediction_id"] for p in response.json()["predictions"]]
            else:
                break
        assert statuses[0] == 200 and statuses[-1] == 503, statuses
        assert response.json()["error"] == "spool_full" and "spool_max_bytes" in response.text
        assert int(response.headers["retry-after"]) >= 1
        ready = client.get("/ready").json()
        assert ready["status"] == "degraded" and ready["store"] == "unavailable"
        assert ready["spool_depth"] == len(acked) and ready["spool_bytes"] >= 1 << 16
        assert ready["spool_age_seconds"] > 0
        metrics = client.get("/metrics").text
        assert "leanloop_spool_bytes " in metrics and "leanloop_spool_age_seconds " in metrics
        database.rmdir()
        (tmp_path / "away.db").rename(database)
        project.store.engine.dispose()
        wait_until(lambda: client.get("/ready").json()["status"] == "ready", 20, "the spool did not drain")
        assert client.post("/predict", json={"rows": [ROW]}).status_code == 200
    ids = logged_ids(project.store)
    assert len(ids) == len(set(ids)) and set(acked) <= set(ids)
    project.close()
