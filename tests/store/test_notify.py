"""Alias moves announced on PostgreSQL: a listener hears a committed move at once, never
a rolled-back one, and asks for a re-read whenever it (re)connects."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from leanloop.store import SQLStore
from leanloop.store.notify import AliasListener, announce, listener_for

pytestmark = pytest.mark.postgres


def wait_for(condition: threading.Event, seconds: float) -> float:
    began = time.monotonic()
    assert condition.wait(seconds), f"not within {seconds} s"
    return time.monotonic() - began


def test_a_committed_alias_move_is_heard_and_a_rolled_back_one_is_not(postgresql_url: str) -> None:
    store = SQLStore(postgresql_url)
    for version in ("v1", "v2"):
        store.add_model(version, 1.0, {"version": version})
    heard = threading.Event()
    listener = listener_for(store.engine, on_change=heard.set)
    assert isinstance(listener, AliasListener)
    listener.start()
    try:
        wait_for(heard, 10.0)  # connected: a re-read for whatever moved meanwhile
        assert listener.listening
        heard.clear()
        with store.engine.connect() as conn:  # a promotion that fails before its commit
            announce(conn, ["champion"])
            conn.rollback()
        time.sleep(0.5)
        assert not heard.is_set()
        began = time.monotonic()
        store.set_aliases({"champion": "v2", "previous": "v1"}, at=2.0)
        wait_for(heard, 2.0)
        heard.clear()
        store.clear_alias("previous")
        wait_for(heard, 2.0)
        print(f"\nalias move heard {time.monotonic() - began:.3f} s after set_aliases began")
    finally:
        listener.stop()
        store.close()
    assert not listener.listening


def test_a_listener_reconnects_and_asks_for_a_re_read(postgresql_url: str) -> None:
    store = SQLStore(postgresql_url)
    connected = threading.Semaphore(0)
    listener = AliasListener(store.engine.url, on_change=connected.release, retry_seconds=0.1)
    listener.start()
    try:
        assert connected.acquire(timeout=10.0)
        with store.engine.connect() as conn:  # end the listener's session, as a database restart would
            conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity "
                                 "where query like 'LISTEN%' and pid <> pg_backend_pid()"))
        assert connected.acquire(timeout=10.0)  # back, and told to re-read
        assert listener.listening
    finally:
        listener.stop()
        store.close()
