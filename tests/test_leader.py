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
from leanloop.leader import AdvisoryCycleLock, FileCycleLock, cycle_lock

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
