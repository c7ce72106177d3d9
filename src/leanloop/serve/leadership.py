"""Which server runs the unattended loop: the holder of the loop lock.

Several servers (or workers) share one store, and exactly one of them must run the
loop. Each server's :class:`LoopLeader` tries the loop lock
(:func:`leanloop.leader.loop_lock`: an advisory lock on PostgreSQL, a ``flock`` beside
a SQLite file) every ``[loop] poll_seconds`` in a thread of its own, and starts its
loop process only while it holds it. The lock lives on the server process (its
connection, or its open file), so when that server dies, SIGKILL included, the
database or the kernel frees it and a survivor takes it at its next try. A holder
whose database connection died has lost the lock with it: it stops its loop process
and tries again like the others.

Examples
--------
>>> import tempfile, pathlib, sqlalchemy as sa
>>> from leanloop.leader import loop_lock
>>> engine = sa.create_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'store.db'}")
>>> heard = []
>>> first = LoopLeader(loop_lock(engine), on_change=lambda held: heard.append(("first", held)))
>>> second = LoopLeader(loop_lock(engine), on_change=lambda held: heard.append(("second", held)))
>>> first.check(), second.check()
(True, False)
>>> first.close(); second.check()  # the holder's server went away
True
>>> heard
[('first', True), ('first', False), ('second', True)]
>>> second.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leanloop.leader import CycleLock

__all__ = ["LoopLeader"]

log = logging.getLogger("leanloop.loop")


class LoopLeader:
    """Keeps or tries the loop lock; ``on_change(held)`` when this server starts or stops
    leading (the server starts or stops its loop process there)."""

    def __init__(self, lock: CycleLock, on_change: Callable[[bool], None] = lambda held: None, *,
                 retry_seconds: float = 1.0) -> None:
        self.lock = lock
        self.on_change = on_change
        self.retry_seconds = retry_seconds
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def check(self) -> bool:
        """One turn: whether this server holds the loop lock now (taking it if it is free)."""
        held = False
        try:
            held = self.lock.holds() or self.lock.acquire()
            self._failing = False
        except Exception as exc:  # the store cannot be asked: a lock not held; the next turn retries
            if not self._failing:
                log.warning("could not try the loop lock (%s: %s); retrying every %g s", type(exc).__name__, exc,
                            self.retry_seconds)
            self._failing = True
        self._set(held)
        return held

    def _set(self, held: bool) -> None:
        if held == self.leading:
            return
        self.leading = held
        if held:
            log.warning("this server runs the unattended loop now (it holds the loop lock)")
        else:
            log.warning("this server no longer runs the unattended loop; it tries the loop lock every %g s",
                        self.retry_seconds)
        self.on_change(held)

    def start(self) -> None:
        """Check now and then every ``retry_seconds``, in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="leanloop-leader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.retry_seconds)

    def close(self, timeout: float = 10.0) -> None:
        """Stop trying, stop leading (``on_change(False)``) and give the lock back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self._set(False)
        finally:
            self.lock.close()
