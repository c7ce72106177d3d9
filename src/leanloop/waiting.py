"""Waiting for a condition with a deadline: one loop for every caller that polls.

The cycle locks retry until they get the lock (:mod:`leanloop.leader`), the demo waits
for its server to answer and then to serve a new champion (:mod:`leanloop.demo`).
Hand-written because the standard library has no polling wait, and a retry library
(tenacity) for one loop of six lines is more than it saves.

Examples
--------
>>> answers = iter([False, True])
>>> wait_until(lambda: next(answers), 5.0, interval=0.0)
True
>>> wait_until(lambda: False, 0.0)
False
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Call ``check`` every ``interval`` seconds until it returns True (then True), or
    until ``timeout`` seconds have passed (then False); it is called at least once."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
