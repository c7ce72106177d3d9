"""The durable prediction logger: one writer thread, group commit.

Requests hand their records to the writer and wait; the writer takes everything
queued (up to ``max_rows`` rows, or what arrives within ``max_wait_ms``), commits it
in one transaction and only then releases the waiting requests. So a response with
a ``prediction_id`` means its record is committed, and concurrent requests share a
commit instead of paying one each.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanloop.errors import StoreError

if TYPE_CHECKING:
    from leanloop.store import SQLStore

__all__ = ["PredictionLogger", "LoggerStats"]

_STOP = object()


@dataclass(frozen=True)
class LoggerStats:
    """The writer's figures for ``/metrics``; ``batch_sizes`` counts commits by rows per
    transaction, keyed by the bucket's upper bound (a power of two)."""

    rows_logged: int
    commits: int
    batch_sizes: dict[str, int] = field(default_factory=dict)
    spool_depth: int = 0
    degraded: bool = False


class PredictionLogger:
    """Group-commit writer for prediction records."""

    def __init__(self, store: SQLStore, *, max_rows: int = 2048, max_wait_ms: float = 2.0) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_wait_ms = max_wait_ms
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.rows = 0
        self._sizes: dict[str, int] = {}

    def stats(self) -> LoggerStats:
        """Rows and commits so far and the group-commit size histogram."""
        return LoggerStats(rows_logged=self.rows, commits=self.commits, batch_sizes=dict(self._sizes))

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="leanloop-logger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush what is queued and stop the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    async def log(self, records: list[dict[str, Any]]) -> None:
        """Queue ``records`` and return once they are committed (raises on failure)."""
        if self._thread is None:
            raise StoreError("the prediction logger is not running; the server is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((records, loop, future))
        await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            rows = len(item[0])
            deadline = time.monotonic() + self.max_wait_ms / 1000
            while rows < self.max_rows:
                timeout = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
                rows += len(nxt[0])
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
        records = [record for records, _, _ in batch for record in records]
        error: BaseException | None = None
        try:
            self.store.insert_predictions(records)
            self.commits += 1
            self.rows += len(records)
            bucket = str(1 << max(0, len(records) - 1).bit_length())
            self._sizes[bucket] = self._sizes.get(bucket, 0) + 1
        except Exception as exc:  # every waiting request must hear of the failure
            error = exc if isinstance(exc, StoreError) else StoreError(f"could not log predictions: {exc}")
        for _, loop, future in batch:
            loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
