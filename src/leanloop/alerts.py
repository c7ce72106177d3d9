"""Alerts: a decision other than ``continue`` (or a failed cycle) posted to a webhook.

Posting must never block or slow the loop: :class:`Notifier` hands each alert to one
background thread through a bounded queue and returns at once. The thread posts the
JSON body with :func:`deliver`, which retries connection errors, timeouts, 429 and 5xx
answers with exponential backoff (0.5, 1, 2, 4 s ... capped, within a total time
budget) and gives up on other 4xx answers at once (retrying a refused body would not
change the answer). Each alert's :class:`AlertOutcome` goes to a callback (the loop
records it in the ledger and counts failures in ``/metrics``).

Examples
--------
>>> check_webhook_url("https://hooks.example.com/leanloop")
'https://hooks.example.com/leanloop'
>>> check_webhook_url("file:///etc/passwd")
Traceback (most recent call last):
...
ValueError: webhook_url must be an http:// or https:// URL with a host, got 'file:///etc/passwd'
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

__all__ = ["AlertOutcome", "deliver", "Notifier", "check_webhook_url"]


class AlertOutcome(BaseModel):
    """What happened to one alert."""

    model_config = ConfigDict(frozen=True)

    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    seconds: float


def check_webhook_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; a ``ValueError`` naming the key otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook_url must be an http:// or https:// URL with a host, got {url!r}")
    return url


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def deliver(url: str, payload: dict[str, Any], *, attempts: int = 5, backoff: float = 0.5, timeout: float = 5.0,
            budget: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> AlertOutcome:
    """POST ``payload`` as JSON to ``url`` until a 2xx (or 3xx) answer, retrying with
    backoff; never more than ``attempts`` tries or ``budget`` seconds."""
    import httpx

    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    tries = 0
    for tries in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
            status, error = response.status_code, None
            if status < 400:
                return AlertOutcome(delivered=True, attempts=tries, status=status,
                                    seconds=time.monotonic() - started)
            error = f"HTTP {status}"
            if not _retryable(status):
                break
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        pause = min(backoff * 2 ** (tries - 1), 30.0)
        if tries == attempts or time.monotonic() - started + pause > budget:
            break
        sleep(pause)
    return AlertOutcome(delivered=False, attempts=tries, status=status, error=error,
                        seconds=time.monotonic() - started)


class Notifier:
    """Posts alerts from one background thread; :meth:`send` never blocks.

    At most ``capacity`` alerts wait; one more is dropped, and its callback says so.
    """

    def __init__(self, url: str, *, capacity: int = 100, **deliver_options: Any) -> None:
        self.url = check_webhook_url(url)
        self.deliver_options = deliver_options
        self._queue: queue.Queue[tuple[dict[str, Any], Callable[[AlertOutcome], None]] | None] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="leanloop-alerts", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any], on_done: Callable[[AlertOutcome], None] = lambda outcome: None) -> bool:
        """Queue an alert; ``False`` (and ``on_done`` told) when the queue is full."""
        try:
            self._queue.put_nowait((payload, on_done))
        except queue.Full:
            on_done(AlertOutcome(delivered=False, attempts=0, error="alert queue full; alert dropped", seconds=0.0))
            return False
        return True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            payload, on_done = item
            outcome = deliver(self.url, payload, **self.deliver_options)
            try:
                on_done(outcome)
            except Exception:  # a failing callback must not stop the alerts behind it
                import logging

                logging.getLogger("leanloop.alerts").exception("alert callback failed")

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the alerts already queued (waiting at most ``timeout`` seconds)."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
