"""One cycle at a time: a lock every cycle takes, across processes and servers.

Worker processes of one server, several servers sharing one PostgreSQL store, and a
person typing ``leanloop cycle`` must never run two cycles at once (two challengers,
two promotions racing). Every cycle takes the *cycle lock* first:

- on a SQLite store, an exclusive ``flock`` on ``<database>.cycle.lock`` beside the
  database file (the kernel releases it when its process dies, SIGKILL included);
- on PostgreSQL, a session-level advisory lock (``pg_try_advisory_lock``) held on a
  connection of its own: the server releases it when that connection ends, so a killed
  holder hands the lock over as soon as its socket closes.

The unattended loop *tries* the lock and skips its turn when another holder has it; a
manual cycle waits for it (and says so).

A second lock of the same two kinds, the *loop lock* (:func:`loop_lock`), says which
server runs the unattended loop at all: each server's loop process tries it every
``[loop] poll_seconds`` and only its holder checks the schedule and runs cycles. It is
held for as long as its process lives (a manual cycle needs the cycle lock only), so
when the holder's server dies a survivor takes it at its next try.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> first, second = FileCycleLock(folder / "store.db"), FileCycleLock(folder / "store.db")
>>> first.acquire(), second.acquire()
(True, False)
>>> first.release(); second.acquire()
True
>>> second.release(); first.close(); second.close()
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from leanloop.errors import ProjectError
from leanloop.waiting import wait_until

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["CycleLock", "FileCycleLock", "AdvisoryCycleLock", "cycle_lock", "loop_lock", "ADVISORY_KEY",
           "LOOP_KEY"]

#: The advisory lock's key: a fixed 63-bit number derived from a name, the same for every
#: server of every version (two servers must compute the same key to exclude each other).
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"leanloop cycle lock").digest()[:8], "big") >> 1
#: The loop lock's key, derived the same way from another name.
LOOP_KEY = int.from_bytes(hashlib.sha256(b"leanloop loop lock").digest()[:8], "big") >> 1


class CycleLock(Protocol):
    """The lock a cycle holds from its measurement to its last ledger write."""

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lock, waiting up to ``wait`` seconds; whether it was taken."""

    def release(self) -> None:
        """Give the lock back (a no-op when not held)."""

    def holds(self) -> bool:
        """Whether the lock is still held (a lost database connection lost the lock with it)."""

    def close(self) -> None:
        """Release and free the file or connection behind the lock."""


class FileCycleLock:
    """The cycle lock of a SQLite store: ``flock`` on a file beside the database
    (``<database>.cycle.lock``; another ``suffix`` for another lock)."""

    def __init__(self, database: Path, suffix: str = ".cycle.lock") -> None:
        self.path = Path(f"{database}{suffix}")
        self._file: IO[bytes] | None = None
        self._held = False

    def _try(self) -> bool:
        import fcntl

        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 (kept open: the lock lives on it)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        return True

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lock, waiting up to ``wait`` seconds; whether it was taken."""
        return self._held or wait_until(self._try, wait)

    def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        import fcntl

        if self._held and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._held = False

    def holds(self) -> bool:
        """Whether the lock is held (the kernel never takes a ``flock`` from a live process)."""
        return self._held

    def close(self) -> None:
        """Release and close the lock file."""
        self.release()
        if self._file is not None:
            self._file.close()
            self._file = None


class AdvisoryCycleLock:
    """The cycle lock of a PostgreSQL store: a session advisory lock on its own connection."""

    def __init__(self, engine: sa.Engine, key: int = ADVISORY_KEY) -> None:
        self.engine = engine
        self.key = key
        self._connection: sa.Connection | None = None
        self._held = False

    def _try(self) -> bool:
        import sqlalchemy as sa

        if self._connection is None:
            self._connection = self.engine.connect()
        taken = bool(self._connection.execute(sa.text("select pg_try_advisory_lock(:key)"),
                                              {"key": self.key}).scalar())
        self._connection.commit()  # end the implicit transaction; the session lock stays
        self._held = taken
        return taken

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lock, waiting up to ``wait`` seconds; whether it was taken."""
        return self._held or wait_until(self._try, wait)

    def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        import sqlalchemy as sa

        if self._held and self._connection is not None:
            self._connection.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": self.key})
            self._connection.commit()
        self._held = False

    def holds(self) -> bool:
        """Whether the lock is held: a session lock lives as long as its connection, so
        this asks that connection for a sign of life (a restarted database lost the lock)."""
        import sqlalchemy as sa

        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute(sa.text("select 1"))
            self._connection.commit()
        except sa.exc.DBAPIError:
            self._held = False
            self._connection.invalidate()  # not back into the pool: the next try connects anew
            self._connection = None
        return self._held

    def close(self) -> None:
        """Release and close the lock's connection."""
        try:
            self.release()
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def cycle_lock(engine: sa.Engine) -> CycleLock:
    """The cycle lock for a store's engine: a file lock for a SQLite file, an advisory
    lock for PostgreSQL."""
    return _lock(engine, key=ADVISORY_KEY, suffix=".cycle.lock", name="cycle lock")


def loop_lock(engine: sa.Engine) -> CycleLock:
    """The loop lock (which server runs the unattended loop) for a store's engine:
    ``<database>.loop.lock`` beside a SQLite file, an advisory lock on PostgreSQL.

    Examples
    --------
    >>> import tempfile, pathlib, sqlalchemy as sa
    >>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'store.db'}"
    >>> loop, cycle = loop_lock(sa.create_engine(url)), cycle_lock(sa.create_engine(url))
    >>> loop.acquire(), cycle.acquire(), loop.holds()  # two locks: the loop's holder still waits for cycles
    (True, True, True)
    >>> loop.close(); cycle.close(); loop.holds()
    False
    """
    return _lock(engine, key=LOOP_KEY, suffix=".loop.lock", name="loop lock")


def _lock(engine: sa.Engine, *, key: int, suffix: str, name: str) -> CycleLock:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return AdvisoryCycleLock(engine, key)
    database = engine.url.database
    if dialect == "sqlite" and database and database != ":memory:":
        return FileCycleLock(Path(database), suffix)
    raise ProjectError(f"no {name} for a {dialect} store at {engine.url!r}: use a SQLite file or PostgreSQL")
