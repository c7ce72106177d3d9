"""Store calls with a deadline: a frozen database holds a thread of its own, never the caller.

A PostgreSQL whose processes are stopped (SIGSTOP, a frozen VM) still accepts TCP:
the kernel acknowledges every byte, so neither the connect timeout nor TCP keepalives
notice, and a statement timeout is the frozen server's own to enforce. Only the
client can stop waiting, hence the call runs in another thread that may stay stuck.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from leanloop.errors import StoreError

__all__ = ["StoreCall", "StoreTimeout"]


class StoreCall:
    """Run store calls in a daemon thread of its own; the caller waits at most ``timeout_s``.

    A call that overruns keeps its thread until the store answers (its outcome is
    dropped: records it may still commit are spooled too, and the replay's "on conflict
    do nothing" keeps them once); meanwhile further calls fail at once rather than queue
    behind it.

    >>> import time
    >>> call = StoreCall("example", timeout_s=0.05)
    >>> call(lambda a, b: a + b, 1, 2)
    3
    >>> try:
    ...     call(time.sleep, 0.5)
    ... except StoreError as exc:
    ...     print(exc)
    the store did not answer within 50 ms ([store] commit_timeout_ms)
    >>> call.close()
    """

    def __init__(self, name: str, timeout_s: float | None) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.timeout_s is None:
            return fn(*args)
        if self._busy.is_set():
            raise StoreError(f"the store has not answered a call that timed out "
                             f"({self.timeout_s * 1000:.0f} ms, [store] commit_timeout_ms); not waiting again")
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"leanloop-{self.name}", daemon=True)
            self._thread.start()
        done = threading.Event()
        slot: list[Any] = []
        self._busy.set()
        self._jobs.put((fn, args, slot, done))
        if not done.wait(self.timeout_s):
            raise StoreTimeout(f"the store did not answer within {self.timeout_s * 1000:.0f} ms "
                               "([store] commit_timeout_ms)")
        ok, value = slot
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Let the thread end once it is free (it is a daemon: a stuck one never holds the exit)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, slot, done = job
            try:
                slot[:] = [True, fn(*args)]
            except BaseException as exc:  # handed to the caller, which raises it
                slot[:] = [False, exc]
            self._busy.clear()
            done.set()


class StoreTimeout(StoreError):
    """A store call overran ``[store] commit_timeout_ms``."""
