"""The cycle lock: one holder across processes, handed over when the holder is SIGKILLed,
on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from leanloop.errors import ProjectError
from leanloop.leader import AdvisoryCycleLock, FileCycleLock, cycle_lock, loop_lock

HOLDER = """
import sys, time
import sqlalchemy as sa
from leanloop.leader import cycle_lock
lock = cycle_lock(sa.create_engine(sys.argv[1]))
assert lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def hold_in_another_process(url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def handed_over_after_sigkill(url: str) -> None:
    engine = sa.create_engine(url)
    lock = cycle_lock(engine)
    holder = hold_in_another_process(url)
    try:
        assert not lock.acquire()
        started = time.monotonic()
        assert not lock.acquire(wait=0.5) and time.monotonic() - started >= 0.5  # it did wait, then gave up
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert lock.acquire(wait=5.0)  # the dead holder's lock is free again
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        lock.close()
        engine.dispose()


def test_sqlite_file_lock_is_handed_over_when_its_holder_dies(tmp_path: Path) -> None:
    handed_over_after_sigkill(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.mark.postgres
def test_postgres_advisory_lock_is_handed_over_when_its_holder_dies(postgresql_url: str) -> None:
    handed_over_after_sigkill(postgresql_url)


@pytest.mark.postgres
def test_advisory_lock_excludes_a_second_server_and_release_hands_it_on(postgresql_url: str) -> None:
    engines = sa.create_engine(postgresql_url), sa.create_engine(postgresql_url)
    first, second = AdvisoryCycleLock(engines[0]), AdvisoryCycleLock(engines[1])
    try:
        assert first.acquire() and first.acquire()  # taking a held lock again is a no-op
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.close(), second.close()
        for engine in engines:
            engine.dispose()


def test_the_lock_of_each_store_kind(tmp_path: Path) -> None:
    assert isinstance(cycle_lock(sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")), FileCycleLock)
    assert isinstance(cycle_lock(sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/db")), AdvisoryCycleLock)
    with pytest.raises(ProjectError, match="no cycle lock for a sqlite store"):
        cycle_lock(sa.create_engine("sqlite://"))


# --- the loop lock: which server runs the unattended loop ---------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_loop_lock_has_one_holder_apart_from_the_cycle_lock(backend: str, tmp_path: Path,
                                                                request: pytest.FixtureRequest) -> None:
    from leanloop.serve.leadership import LoopLeader

    url = f"sqlite:///{tmp_path / 'store.db'}" if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    engines = sa.create_engine(url), sa.create_engine(url)
    heard: list[tuple[str, bool]] = []
    first = LoopLeader(loop_lock(engines[0]), on_change=lambda held: heard.append(("first", held)))
    second = LoopLeader(loop_lock(engines[1]), on_change=lambda held: heard.append(("second", held)),
                        retry_seconds=0.05)
    cycle = cycle_lock(engines[1])
    try:
        assert first.check() and not second.check() and first.check()
        assert cycle.acquire()  # the loop's holder and a cycle are two locks
        cycle.release()
        second.start()  # a survivor trying every 50 ms
        first.lock.close()  # the holder's server died
        deadline = time.monotonic() + 5
        while not second.leading and time.monotonic() < deadline:
            time.sleep(0.01)
        assert second.leading and not first.check()
        assert heard == [("first", True), ("second", True), ("first", False)]
    finally:
        first.close(), second.close(), cycle.close()
        for engine in engines:
            engine.dispose()


@pytest.mark.postgres
def test_an_advisory_lock_whose_connection_died_is_not_held(postgresql_url: str) -> None:
    engine = sa.create_engine(postgresql_url)
    lock = loop_lock(engine)
    try:
        assert lock.acquire() and lock.holds()
        assert isinstance(lock, AdvisoryCycleLock) and lock._connection is not None
        pid = lock._connection.execute(sa.text("select pg_backend_pid()")).scalar()
        lock._connection.commit()
        with engine.connect() as conn:  # the database ends that session, as a restart would
            conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        assert not lock.holds()
        assert lock.acquire()  # a new connection takes it again
    finally:
        lock.close()
        engine.dispose()
