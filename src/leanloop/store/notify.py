"""Alias moves announced to every server: PostgreSQL ``NOTIFY`` on one channel.

Several ``leanloop serve`` processes (on several hosts) share one PostgreSQL store. A
promotion, rollback or shadow change moves aliases in one transaction, and that same
transaction sends ``NOTIFY leanloop_aliases`` (:func:`announce`): PostgreSQL delivers
it to every listener when, and only if, the transaction commits. Each server keeps an
:class:`AliasListener` on a connection of its own and re-reads the aliases when told,
so a move reaches every server in the time of one model load instead of one poll.

A notification is a hint, never the only path: a listener that was disconnected (the
database restarted, the network dropped) misses what was sent meanwhile, so it asks
for a re-read each time it (re)connects, and servers keep polling the aliases every
``[serve] model_refresh_seconds`` as a fallback (and as the only path on SQLite, which
has no notifications).

Examples
--------
>>> import sqlalchemy as sa
>>> listener_for(sa.create_engine("sqlite://"), on_change=lambda: None) is None  # SQLite: polling only
True
>>> conninfo(sa.engine.make_url("postgresql+psycopg://ann:secret@db.example:5433/loop?sslmode=require"))
'postgresql://ann:secret@db.example:5433/loop?sslmode=require'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    import psycopg

__all__ = ["CHANNEL", "AliasListener", "announce", "listener_for", "conninfo"]

log = logging.getLogger("leanloop.store")

#: The channel alias moves are announced on (the same for every server of every version).
CHANNEL = "leanloop_aliases"


def announce(conn: sa.Connection, aliases: list[str]) -> None:
    """Tell every listening server, when ``conn``'s transaction commits, that ``aliases``
    moved (PostgreSQL only: a no-op on other databases, whose servers poll)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, ",".join(sorted(aliases)))))


def conninfo(url: sa.URL) -> str:
    """A libpq connection string from a SQLAlchemy URL (its driver name dropped)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AliasListener:
    """``LISTEN`` on :data:`CHANNEL` in a thread of its own; ``on_change()`` for each
    notification and after each (re)connection, when something may have been missed.

    ``listening`` says whether the connection is up now (``/status`` shows it). A lost
    connection is logged once and retried every ``retry_seconds``.
    """

    def __init__(self, url: sa.URL, on_change: Callable[[], None], *, retry_seconds: float = 1.0,
                 wake_seconds: float = 0.25) -> None:
        self.url = url
        self.on_change = on_change
        self.retry_seconds = retry_seconds
        self.wake_seconds = wake_seconds  # how soon stop() is noticed while waiting
        self.listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="leanloop-aliases", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop listening (within ``wake_seconds``) and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self.listening = True
                    if failing:
                        log.warning("listening for alias moves again")
                    failing = False
                    self.on_change()  # whatever moved while nobody listened
                    self._listen(conn)
            except Exception as exc:  # the database is away: poll meanwhile, retry the connection
                if not failing:
                    log.warning("cannot listen for alias moves (%s: %s); polling every model_refresh_seconds and "
                                "retrying every %g s", type(exc).__name__, exc, self.retry_seconds)
                failing = True
            self.listening = False
            self._stop.wait(self.retry_seconds)

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg

        conn = psycopg.connect(conninfo(self.url), autocommit=True, connect_timeout=3)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        while not self._stop.is_set():
            # A burst of notifications (a promotion moves two aliases, a cycle may move
            # three in a row) asks for one re-read.
            if any(True for _ in conn.notifies(timeout=self.wake_seconds, stop_after=1)):
                self.on_change()


def listener_for(engine: sa.Engine, on_change: Callable[[], None]) -> AliasListener | None:
    """An :class:`AliasListener` for a PostgreSQL store; ``None`` for other databases."""
    if engine.dialect.name != "postgresql":
        return None
    return AliasListener(engine.url, on_change)
