"""Readiness and graceful shutdown.

On SIGTERM the server first reports not-ready (``/ready`` answers 503) and, after
``shutdown_drain_seconds`` (time for a load balancer to notice), hands the signal to
uvicorn, which stops accepting connections, lets in-flight requests finish and runs
the app's shutdown, where the logger flushes its queue. The process then exits 0.

Examples
--------
>>> from leanloop.serve.logger import LoggerStats
>>> readiness = Readiness()
>>> stats = LoggerStats(rows_logged=0, commits=0, batch_sizes={}, spool_depth=3, degraded=True, running=True)
>>> readiness.check(stats)
('degraded', 200)
>>> readiness.stop()
>>> readiness.check(stats)
('stopping', 503)
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leanloop.serve.logger import LoggerStats

__all__ = ["Readiness", "on_sigterm", "exit_zero_after_sigterm"]


class Readiness:
    """Whether the server should get traffic: it is told when it stops."""

    def __init__(self) -> None:
        self._stopping = threading.Event()

    def stop(self) -> None:
        """From now on, report ``stopping``."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def check(self, stats: LoggerStats) -> tuple[str, int]:
        """``(status, http_status)``: ready or degraded (spooling) 200; starting, stopping
        or unavailable (the last records could be neither committed nor spooled) 503."""
        if self.stopping:
            return "stopping", 503
        if not stats.running:
            return "starting", 503
        if stats.failing:
            return "unavailable", 503
        return ("degraded" if stats.degraded else "ready"), 200


def on_sigterm(callback: Callable[[], None], drain_seconds: float = 0.0) -> Callable[[], None]:
    """Call ``callback`` on SIGTERM, then (after ``drain_seconds``) the handler that was
    there (uvicorn's). Returns a function restoring that handler. Signals can only be
    handled in the main thread; elsewhere (a test client) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def handle(signum: int, frame: Any) -> None:
        callback()
        if callable(previous):
            if drain_seconds > 0:
                timer = threading.Timer(drain_seconds, previous, args=(signum, frame))
                timer.daemon = True
                timer.start()
            else:
                previous(signum, frame)

    signal.signal(signal.SIGTERM, handle)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is handle:
            signal.signal(signal.SIGTERM, previous)

    return restore


def exit_zero_after_sigterm() -> None:
    """Make a SIGTERM that reaches the process after uvicorn's graceful shutdown (uvicorn
    re-raises it) a clean exit with status 0: being asked to stop is not a failure."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
